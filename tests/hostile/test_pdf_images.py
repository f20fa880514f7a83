"""Page images and the inflation bound: an image XObject is held to the size its dictionary
declares (each at most ``pdf_max_inflated_mb``), not counted in the document's total, since
reading text and embedded files never decodes one; an image stream that inflates past its
declared size is a bomb and refused; rendering refuses a page whose images decode past the
budget, naming the file and page."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from backoffice.errors import InputError
from backoffice.settings import reset_settings
from connectors.pdf import extract_invoice, field_region, read_text, render_pages
from connectors.pdf_sandbox import MIB, InflationLimit, check_inflation, image_size
from tests.hostile.pdfs import image_xobject, with_images

REPO = Path(__file__).resolve().parents[2]
PDFS = REPO / "fixtures" / "invoices" / "pdf"
BUDGET_MB = 16


@pytest.fixture
def budget(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("BACKOFFICE_PDF_MAX_INFLATED_MB", str(BUDGET_MB))
    reset_settings()
    yield
    reset_settings()


def factur_x() -> tuple[str, bytes]:
    [(name, xml)] = read_text(PDFS / "kestrel-31-clean.pdf").attachments
    return name, xml


def test_declared_image_sizes() -> None:
    rgb = b"<< /Type /XObject /Subtype /Image /Width 5950 /Height 8420 /ColorSpace /DeviceRGB /BitsPerComponent 8 "
    assert image_size(rgb + b">>") == (5950, 8420, 8420 * (5950 * 3 + 1))
    assert image_size(b"<< /Subtype /Image /Width 10 /Height 4 /ImageMask true >>") == (10, 4, 4 * 3)
    # a colour space not written in the dictionary counts as four components
    assert image_size(b"<< /Subtype /Image /Width 10 /Height 2 /ColorSpace 7 0 R /BitsPerComponent 8 >>") == (
        10,
        2,
        2 * 41,
    )
    assert image_size(b"<< /Subtype /Image /Width 12 0 R /Height 2 >>") is None  # size not written here
    assert image_size(b"<< /Subtype /Form /BBox [0 0 1 1] >>") is None


def test_big_page_images_are_read_for_their_text_and_xml(tmp_path: Path, budget: None) -> None:
    """Three RGB images of 12 MiB each: 36 MiB inflated, past the 16 MiB budget in total (the
    old bound refused the document), each within its declared size. Text and XML are read."""
    images = [image_xobject(2048, 2048, b"/DeviceRGB") for _ in range(3)]
    pdf = with_images(tmp_path / "scans.pdf", images, text="Invoice 4711", attachment=factur_x())
    assert pdf.stat().st_size * 1032 > BUDGET_MB * MIB  # big enough to be inflated by the pre-scan
    check_inflation(pdf, BUDGET_MB * MIB)
    inv = extract_invoice(pdf)
    assert inv.source == "xml" and inv.invoice_number is not None
    text_only = with_images(tmp_path / "text.pdf", images, text="Invoice 4711")
    assert read_text(text_only).pages == ["Invoice 4711"]
    assert extract_invoice(text_only).source == "text"  # read by the text reader, not refused


def test_an_image_stream_that_inflates_past_its_declared_size_is_refused(
    tmp_path: Path, budget: None
) -> None:
    bomb = image_xobject(64, 64, b"/DeviceGray", data=b"\0" * (8 * MIB))  # declares 4 KiB, inflates to 8
    pdf = with_images(tmp_path / "image-bomb.pdf", [bomb] * 2, attachment=factur_x())
    assert pdf.stat().st_size * 1032 > BUDGET_MB * MIB
    with pytest.raises(InflationLimit, match=r"image stream of 64 x 64 inflates beyond"):
        check_inflation(pdf, BUDGET_MB * MIB)
    with pytest.raises(InputError, match="image stream of 64 x 64 inflates beyond") as err:
        extract_invoice(pdf)
    assert err.value.file == str(pdf)


def test_an_image_declaring_more_than_the_budget_is_refused(tmp_path: Path, budget: None) -> None:
    huge = image_xobject(4000, 2000, b"/DeviceRGB")  # 22.9 MiB declared, one image past 16 MiB
    pdf = with_images(tmp_path / "huge.pdf", [huge])
    with pytest.raises(InputError, match=r"image of 4000 x 2000 declares 23 MiB decoded, beyond 16 MiB"):
        extract_invoice(pdf)


def test_non_image_streams_still_count_against_the_document_total(tmp_path: Path, budget: None) -> None:
    """An image among them changes nothing for the page content: its zeros are still counted."""
    from tests.hostile.pdfs import inflation_bomb

    pdf = inflation_bomb(tmp_path / "bomb.pdf", size=64 * MIB)
    with pytest.raises(InflationLimit, match="streams inflate beyond 16 MiB"):
        check_inflation(pdf, BUDGET_MB * MIB)


def test_rendering_refuses_a_page_whose_images_decode_past_the_budget(tmp_path: Path, budget: None) -> None:
    """Two 1500 x 1500 greyscale images: 2.2 MiB each as declared (read), 17 MiB as PDFium
    would decode them for a page render (4 bytes a pixel): the page is not rendered."""
    images = [image_xobject(1500, 1500, b"/DeviceGray") for _ in range(2)]
    pdf = with_images(tmp_path / "grey.pdf", images, text="Invoice 4711", attachment=factur_x())
    assert extract_invoice(pdf).source == "xml"
    with pytest.raises(
        InputError, match=r"page not rendered: its images decode to 17 MiB \(limit 16 MiB"
    ) as err:
        render_pages(pdf)
    assert err.value.file == str(pdf) and err.value.page == 1
    with pytest.raises(InputError, match="page not rendered") as err:
        field_region(pdf, 1, (0, 0, 100, 100))
    assert err.value.page == 1
    one = with_images(tmp_path / "one.pdf", images[:1], text="Invoice 4711")
    assert len(render_pages(one, resolution=30)) == 1  # 8.6 MiB decoded: rendered
