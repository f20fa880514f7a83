"""Embedded files are read by PDFium in the same pass as the text: wherever a PDF lists them
(the EmbeddedFiles name tree, the catalog's /AF array, both), within the inflation limit, and a
refusal names the file and the attachment."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from backoffice.errors import InputError
from backoffice.settings import reset_settings
from connectors.pdf import extract_invoice, read_text
from tests.hostile.pdfs import with_attachment

XML = b'<?xml version="1.0"?><note>' + b"x" * 2000 + b"</note>"


@pytest.fixture
def one_mib(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("BACKOFFICE_PDF_MAX_INFLATED_MB", "1")
    reset_settings()
    yield
    reset_settings()


@pytest.mark.parametrize(("name_tree", "af"), [(True, True), (True, False), (False, True)])
def test_embedded_files_are_found_wherever_the_pdf_lists_them(
    tmp_path: Path, name_tree: bool, af: bool
) -> None:
    pdf = with_attachment(tmp_path / "a.pdf", "notes.xml", XML, name_tree=name_tree, af=af, text="Hello")
    text = read_text(pdf)
    assert text.pages == ["Hello"]
    assert text.attachments == [("notes.xml", XML)]


def test_an_attachment_over_the_inflation_limit_is_refused_naming_it(tmp_path: Path, one_mib: None) -> None:
    pdf = with_attachment(tmp_path / "big.pdf", "factur-x.xml", b"<a>" + b" " * (2 * 1024 * 1024) + b"</a>")
    assert pdf.stat().st_size < 64 * 1024
    with pytest.raises(InputError, match=r"embedded file 'factur-x.xml' inflates beyond 1 MiB") as err:
        read_text(pdf)  # in this process: the attachment's own bound
    assert err.value.file == str(pdf)
    with pytest.raises(InputError, match="inflate beyond 1 MiB") as err:
        extract_invoice(pdf)  # in the worker the whole document's streams are bounded first
    assert err.value.file == str(pdf)
