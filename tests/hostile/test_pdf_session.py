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
from connectors.pdf import extract_invoice
from connectors.pdf_sandbox import session
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
