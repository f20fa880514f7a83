"""A session's reused PDF worker keeps every limit per document: a bomb or a flood among good
invoices is refused as it is without a session, the worker that crossed the limit is replaced,
and the documents after it read exactly as they read in a worker of their own."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from backoffice.errors import InputError
from backoffice.settings import reset_settings
from connectors.pdf import extract_invoice, extract_invoices
from connectors.pdf_sandbox import session
from fixtures.scans import scan_pdf
from tests.hostile.pdfs import inflation_bomb, text_operators

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "fixtures" / "invoices" / "pdf"
PDFS = [p for p in sorted(FIXTURES.glob("*.pdf")) if not p.name.startswith("bad-")][:3]
BAD = [FIXTURES / n for n in ("bad-01-corrupt.pdf", "bad-02-encrypted.pdf", "bad-03-empty.pdf")]


def read(path: Path) -> object:
    try:
        return extract_invoice(path).to_json()
    except InputError as exc:
        return ("InputError", str(exc), exc.file, exc.page)


@pytest.fixture
def limits(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    monkeypatch.setenv("BACKOFFICE_PDF_TIMEOUT_SECONDS", "5")
    reset_settings()
    yield monkeypatch
    reset_settings()


def test_a_session_reads_as_one_worker_per_document_does() -> None:
    files = [PDFS[0], *BAD, *PDFS[1:]]
    alone = [read(p) for p in files]
    assert sum(isinstance(r, tuple) for r in alone) == len(BAD)
    with session():
        shared = [read(p) for p in files + files]
    assert shared == alone + alone


def test_limits_hold_per_document_within_a_session(tmp_path: Path, limits: pytest.MonkeyPatch) -> None:
    bomb = inflation_bomb(tmp_path / "bomb.pdf")
    flood = text_operators(tmp_path / "flood.pdf")
    alone = extract_invoice(PDFS[0]).to_json()
    with session():
        assert extract_invoice(PDFS[0]).to_json() == alone
        with pytest.raises(InputError) as ei:
            extract_invoice(bomb)
        assert ei.value.file == str(bomb) and "inflate beyond 256 MiB" in str(ei.value)
        assert extract_invoice(PDFS[0]).to_json() == alone  # a fresh worker after the refusal
        limits.setenv("BACKOFFICE_PDF_TIMEOUT_SECONDS", "1")  # the flood reads in ~5 s when quiet
        reset_settings()
        started = time.monotonic()
        with pytest.raises(InputError) as ei:
            extract_invoice(flood)
        assert time.monotonic() - started < 15
        assert ei.value.file == str(flood)
        limits.setenv("BACKOFFICE_PDF_TIMEOUT_SECONDS", "5")
        reset_settings()
        assert extract_invoice(PDFS[0]).to_json() == alone  # the killed worker was replaced


def test_a_batch_reads_as_one_call_per_document_does(tmp_path: Path) -> None:
    scan = scan_pdf(PDFS[1], tmp_path / "scan.pdf", seed=1)  # read again with OCR, on its own
    files = [PDFS[0], *BAD, *PDFS[1:], scan]
    alone = [read(p) for p in files]

    def shown(result: object) -> object:
        if isinstance(result, InputError):
            return ("InputError", str(result), result.file, result.page)
        return result.to_json()  # type: ignore[attr-defined]

    assert [shown(r) for r in extract_invoices(files)] == alone  # a worker of its own
    with session():
        assert [shown(r) for r in extract_invoices(files + files)] == alone + alone


def test_limits_hold_per_document_within_a_batch(tmp_path: Path, limits: pytest.MonkeyPatch) -> None:
    bomb = inflation_bomb(tmp_path / "bomb.pdf")
    flood = text_operators(tmp_path / "flood.pdf")
    good = [extract_invoice(p).to_json() for p in PDFS]
    limits.setenv("BACKOFFICE_PDF_TIMEOUT_SECONDS", "1")  # the flood reads in ~5 s when quiet
    reset_settings()
    started = time.monotonic()
    with session():
        got = extract_invoices([PDFS[0], bomb, PDFS[1], flood, PDFS[2]])
    assert time.monotonic() - started < 30
    assert [r.to_json() for r in (got[0], got[2], got[4])] == good  # type: ignore[union-attr]
    assert isinstance(got[1], InputError) and got[1].file == str(bomb)
    assert "inflate beyond 256 MiB" in str(got[1]) or "longer than 1 s" in str(got[1])
    assert isinstance(got[3], InputError) and got[3].file == str(flood)
    assert "longer than 1 s" in str(got[3]) or "MiB" in str(got[3])
