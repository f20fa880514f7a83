"""PDF bombs: each document is read in a bounded worker; over a limit is an INPUT error naming the
file, the parent's memory stays small, and a bot run goes on with the other documents."""

from __future__ import annotations

import resource
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from backoffice.errors import InputError
from backoffice.runner import run_bot
from backoffice.settings import reset_settings
from backoffice.store import Store
from bots.invoice_matching.bot import bot
from connectors.pdf import extract_invoice, render_pages
from tests.hostile.pdfs import inflation_bomb, text_operators

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "fixtures" / "invoices"
PARENT_GROWTH_LIMIT_MB = 150


def zlib_stream_length(path: Path) -> int:
    """The length of the one FlateDecode stream of a :mod:`tests.hostile.pdfs` PDF."""
    data = path.read_bytes()
    start = data.index(b"stream\n") + len(b"stream\n")
    return data.index(b"\nendstream", start) - start


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


@pytest.fixture
def limits(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    monkeypatch.setenv("BACKOFFICE_PDF_TIMEOUT_SECONDS", "5")
    reset_settings()
    yield monkeypatch
    reset_settings()


@pytest.fixture(scope="module")
def bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = inflation_bomb(tmp_path_factory.mktemp("bomb") / "bomb.pdf")
    assert path.stat().st_size < 2 * 1024 * 1024
    return path


def test_inflation_bomb_is_refused_by_the_inflation_limit(bomb: Path, limits: pytest.MonkeyPatch) -> None:
    before = peak_rss_mb()
    with pytest.raises(InputError) as ei:
        extract_invoice(bomb)
    assert ei.value.file == str(bomb)
    assert "inflate beyond 256 MiB" in str(ei.value)
    assert peak_rss_mb() - before < PARENT_GROWTH_LIMIT_MB


def test_inflation_bomb_is_refused_by_the_memory_limit(bomb: Path, limits: pytest.MonkeyPatch) -> None:
    limits.setenv("BACKOFFICE_PDF_MAX_INFLATED_MB", "4096")
    limits.setenv("BACKOFFICE_PDF_MAX_MEMORY_MB", "700")
    limits.setenv("BACKOFFICE_PDF_TIMEOUT_SECONDS", "60")
    reset_settings()
    before = peak_rss_mb()
    with pytest.raises(InputError) as ei:
        extract_invoice(bomb)
    assert ei.value.file == str(bomb)
    assert "allocate" in str(ei.value) or "700 MiB" in str(ei.value)
    assert peak_rss_mb() - before < PARENT_GROWTH_LIMIT_MB


def test_rendering_a_bomb_is_bounded_too(bomb: Path, limits: pytest.MonkeyPatch) -> None:
    limits.setenv("BACKOFFICE_PDF_MAX_MEMORY_MB", "700")
    limits.setenv("BACKOFFICE_PDF_TIMEOUT_SECONDS", "60")
    reset_settings()
    before = peak_rss_mb()
    with pytest.raises(InputError) as ei:
        render_pages(bomb)
    assert ei.value.file == str(bomb)
    assert peak_rss_mb() - before < PARENT_GROWTH_LIMIT_MB


def test_text_operator_flood_is_stopped_by_the_time_limit(tmp_path: Path, limits: pytest.MonkeyPatch) -> None:
    flood = text_operators(tmp_path / "flood.pdf")
    assert flood.stat().st_size < 1024 * 1024
    # PDFium reads the flood in about 5 s on a quiet machine (minutes with pdfminer): a 1 s limit
    # crosses it on any machine, while a real invoice reads in well under 0.1 s
    limits.setenv("BACKOFFICE_PDF_TIMEOUT_SECONDS", "1")
    reset_settings()
    before = peak_rss_mb()
    started = time.monotonic()
    with pytest.raises(InputError) as ei:
        extract_invoice(flood)
    assert time.monotonic() - started < 15
    assert ei.value.file == str(flood)
    assert "longer than 1 s" in str(ei.value) or "MiB" in str(ei.value)
    assert peak_rss_mb() - before < PARENT_GROWTH_LIMIT_MB


def test_a_bomb_among_invoices_is_one_input_item_and_the_run_goes_on(
    bo_store: Store, tmp_path: Path, bomb: Path, limits: pytest.MonkeyPatch
) -> None:
    work = tmp_path / "in"
    shutil.copytree(FIXTURES / "pdf", work / "pdf")
    for name in ("purchase_orders.xlsx", "receipts.csv", "vendors.xlsx"):
        shutil.copy(FIXTURES / name, work / name)
    shutil.copy(bomb, work / "pdf" / "zz-bomb.pdf")
    limits.setenv("BACKOFFICE_PDF_TIMEOUT_SECONDS", "30")  # the real invoices too, on a loaded machine
    reset_settings()
    inputs = {
        "invoices": str(work / "pdf"),
        "pos": str(work / "purchase_orders.xlsx"),
        "receipts": str(work / "receipts.csv"),
        "vendors": str(work / "vendors.xlsx"),
        "ledger": str(tmp_path / "out" / "ledger.xlsx"),
    }
    before = peak_rss_mb()
    summary = run_bot(bot, inputs, store=bo_store)
    assert peak_rss_mb() - before < PARENT_GROWTH_LIMIT_MB
    assert summary.total == len([p for p in (FIXTURES / "pdf").iterdir() if p.is_file()]) + 1  # every file
    assert summary.done > 0
    from sqlalchemy import select

    from backoffice.schema import items

    with bo_store.read() as conn:
        rows = [
            r
            for r in conn.execute(select(items).where(items.c.bot == bot.name))
            if r.source["file"].endswith("zz-bomb.pdf")
        ]
    assert len(rows) == 1 and rows[0].status == "open"
    [violation] = rows[0].violations
    assert violation["code"] == "INPUT" and "zz-bomb.pdf" in violation["message"]
    assert "inflate beyond" in violation["message"] or "longer than" in violation["message"]


def test_a_file_too_small_to_inflate_past_the_budget_is_not_inflated(tmp_path: Path) -> None:
    """The inflation pre-scan skips a file whose every byte inflating at zlib's best ratio stays
    within the budget; at that ratio a file one byte larger is inflated and refused."""
    from connectors.pdf_sandbox import MAX_DEFLATE_RATIO, InflationLimit, check_inflation

    budget = 64 * 1024 * 1024
    best = inflation_bomb(tmp_path / "dense.pdf", size=budget)  # zeros at zlib level 9
    size = best.stat().st_size
    content = zlib_stream_length(best)
    assert budget / content < MAX_DEFLATE_RATIO  # zlib's bound holds for its densest stream
    check_inflation(best, size * MAX_DEFLATE_RATIO)  # skipped, and rightly: it cannot exceed that
    with pytest.raises(InflationLimit):
        check_inflation(best, budget - 1)  # inflated and refused
