"""OCR of image-only PDFs (issue 12): a real Tesseract on generated 200-dpi scans (slight rotation,
blur, grain, JPEG), the same reader as the text path, per-field confidence and page regions, the
INV-LOW-CONFIDENCE path through a real invoice bot run, and hostile image pages."""

from __future__ import annotations

import io
import math
import shutil
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageChops, ImageDraw
from sqlalchemy import select

from backoffice.audit import evidence_path
from backoffice.errors import InputError
from backoffice.runner import run_bot
from backoffice.schema import items
from backoffice.settings import reset_settings
from backoffice.store import Store
from connectors import ocr
from connectors.pdf import extract_invoice, field_region, region_name
from fixtures.scans import scan_pdf

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "fixtures" / "invoices"
PDFS = FIXTURES / "pdf"

needs_tesseract = pytest.mark.skipif(
    ocr.tesseract_version() is None,
    reason=f"Tesseract is not installed: run `{ocr.APT_COMMAND}` (or `python -m connectors.ocr install` as root)",
)


@pytest.fixture
def settings_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    reset_settings()
    yield monkeypatch
    reset_settings()


@pytest.fixture(scope="module")
def scans(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("scans")
    return {
        name: scan_pdf(PDFS / name, out / name, seed=i)
        for i, name in enumerate(["bluefield-13-services-2way.pdf", "nordwind-01-clean.pdf"])
    }


# ------------------------------------------------------------------------ layout (no Tesseract)


def _tsv(words: list[tuple[str, int, int, int, int, float, tuple[int, int, int]]]) -> dict[str, list[Any]]:
    cols: dict[str, list[Any]] = {
        k: []
        for k in (
            "level",
            "block_num",
            "par_num",
            "line_num",
            "left",
            "top",
            "width",
            "height",
            "conf",
            "text",
        )
    }
    for text, left, top, width, height, conf, (block, par, line) in words:
        for k, v in zip(cols, (5, block, par, line, left, top, width, height, conf, text), strict=True):
            cols[k].append(v)
    return cols


def test_layout_puts_two_columns_on_one_row_and_keeps_each_words_box_and_offsets() -> None:
    # two blocks (label column, value column) at the same heights, as Tesseract reports a header
    data = _tsv(
        [
            ("Invoice", 100, 100, 120, 30, 96.0, (1, 1, 1)),
            ("no:", 230, 100, 50, 30, 95.0, (1, 1, 1)),
            ("Total", 100, 200, 90, 30, 91.0, (1, 1, 2)),
            ("INV-7", 900, 102, 100, 30, 62.5, (2, 1, 1)),
            ("12.50", 900, 201, 100, 30, 88.0, (2, 1, 2)),
            ("", 0, 0, 0, 0, -1, (2, 1, 3)),
        ]
    )
    page = ocr.layout(data, page=1, dpi=300)
    assert page.text == "Invoice no: INV-7\nTotal 12.50"
    by_text = {w.text: w for w in page.words}
    for w in page.words:
        assert page.text[w.start : w.end] == w.text
    assert by_text["INV-7"].conf == pytest.approx(0.625)
    assert by_text["INV-7"].box == pytest.approx((216.0, 24.48, 240.0, 31.68))  # points at 300 dpi
    start = page.text.index("12.50")
    assert [w.text for w in ocr.words_in(page, start, start + 5)] == ["12.50"]


def test_layout_straightens_a_skewed_page_before_joining_rows() -> None:
    # a page turned by ~1.7 degrees: each line drops 30 px over 1000 px, more than half a line
    def line(
        y: int, words: list[str], block: int
    ) -> list[tuple[str, int, int, int, int, float, tuple[int, int, int]]]:
        return [
            (w, 100 + 250 * i, y + 30 * (100 + 250 * i) // 1000, 80, 28, 90.0, (block, 1, 1))
            for i, w in enumerate(words)
        ]

    data = _tsv(line(100, ["a1", "a2", "a3", "a4"], 1) + line(160, ["b1", "b2", "b3", "b4"], 2))
    page = ocr.layout(data, page=1, dpi=300)
    assert page.text.splitlines() == ["a1 a2 a3 a4", "b1 b2 b3 b4"]


Word = tuple[str, int, int, int, int, float, tuple[int, int, int]]


def test_layout_keeps_a_comma_tesseract_read_as_a_word_of_its_own_on_its_line() -> None:
    # "August 3 , 2014": the comma's ink sits below the line's tops (a word 13 px high at the
    # baseline); it must not start a row of its own
    data = _tsv(
        [
            ("Due", 100, 600, 60, 32, 95.0, (1, 1, 1)),
            ("August", 180, 600, 130, 40, 96.0, (1, 1, 1)),
            ("3", 320, 602, 22, 32, 82.0, (1, 1, 1)),
            (",", 352, 627, 7, 13, 82.0, (1, 1, 1)),
            ("2014", 370, 601, 90, 32, 96.0, (1, 1, 1)),
            ("Next", 100, 700, 80, 32, 96.0, (1, 1, 2)),
        ]
    )
    assert ocr.layout(data, page=1, dpi=300).text == "Due August 3 , 2014\nNext"


def test_layout_keeps_a_word_of_x_height_letters_on_its_line_and_splits_smaller_print() -> None:
    # "Nr. R87654321012345 vom 06.08.2018" as Tesseract boxed it on a 300-dpi scan: "vom" has no
    # capital or ascender, so its ink starts 13 px below the number's and is 0.58 of its height;
    # in the text layer it shares the number's font-box top and row. Small print of a size of its
    # own beside a large number ("EUR 1.234,00" under a 50-px total) still gets a row of its own.
    data = _tsv(
        [
            ("Nr.", 641, 593, 78, 43, 93.0, (2, 1, 1)),
            ("R87654321012345", 739, 585, 466, 50, 92.0, (2, 1, 1)),
            ("vom", 1225, 598, 107, 29, 96.0, (2, 1, 1)),
            ("06.08.2018", 1352, 579, 272, 48, 96.0, (2, 1, 1)),
            ("TOTAL", 200, 900, 200, 50, 95.0, (3, 1, 1)),
            ("1.234,00", 420, 900, 260, 50, 95.0, (3, 1, 1)),
            ("incl.", 700, 930, 60, 20, 90.0, (3, 1, 1)),
            ("VAT", 770, 930, 50, 20, 90.0, (3, 1, 1)),
        ]
    )
    assert ocr.layout(data, page=1, dpi=300).text.splitlines() == [
        "Nr. R87654321012345 vom 06.08.2018",
        "TOTAL 1.234,00",
        "incl. VAT",
    ]


def test_layout_drops_a_table_cells_rules_and_keeps_its_text_on_one_row() -> None:
    # a boxed total: Tesseract reads the cell's vertical rules as "[", "|" and "]", glued to the
    # words beside them, and the glued words' boxes take the rule's height
    data = _tsv(
        [
            ("[Total", 1702, 1851, 90, 54, 90.0, (7, 1, 12)),
            ("EUR", 1804, 1866, 68, 26, 96.0, (7, 1, 12)),
            ("|", 2120, 1857, 8, 53, 92.0, (7, 1, 12)),
            ("34,73]", 2293, 1859, 94, 54, 83.0, (7, 1, 12)),
            ("10,00|", 1000, 2000, 90, 27, 90.0, (7, 1, 13)),
            ("VAT", 1200, 2000, 60, 27, 90.0, (7, 1, 13)),
            ("____", 1300, 2010, 200, 5, 40.0, (7, 1, 13)),
            ("_Totaal", 1550, 2000, 120, 27, 90.0, (7, 1, 13)),
        ]
    )
    page = ocr.layout(data, page=1, dpi=300)
    assert page.text.splitlines() == ["Total EUR 34,73", "10,00 VAT Totaal"]
    total = next(w for w in page.words if w.text == "Total")
    assert total.box[3] - total.box[1] < 8  # points: the text's height, not the cell's
    for w in page.words:
        assert page.text[w.start : w.end] == w.text


def test_layout_joins_a_number_tesseract_cut_in_two_but_not_two_numbers() -> None:
    data = _tsv(
        [
            ("den", 100, 100, 60, 30, 95.0, (1, 1, 1)),
            ("01.11", 170, 100, 80, 30, 95.0, (1, 1, 1)),
            (".2024", 254, 100, 80, 30, 90.0, (1, 1, 1)),
            ("136,", 100, 200, 68, 28, 96.0, (1, 1, 2)),
            ("52", 181, 201, 33, 23, 96.0, (1, 1, 2)),
            ("August", 100, 300, 130, 30, 96.0, (1, 1, 3)),
            ("3,", 240, 300, 33, 30, 94.0, (1, 1, 3)),
            ("2014", 285, 300, 71, 30, 96.0, (1, 1, 3)),
        ]
    )
    lines = ocr.layout(data, page=1, dpi=300).text.splitlines()
    assert lines == ["den 01.11.2024", "136,52", "August 3, 2014"]


def test_layout_puts_vertical_margin_text_after_the_pages_rows() -> None:
    # a note printed up the left margin: Tesseract reads it as one line of tall, narrow words
    # crossing the rows of the page; it must not be mixed into them
    margin: list[Word] = [
        ("ZUGFeRD", 72, 2195, 20, 117, 90.0, (11, 1, 1)),
        ("Beispielrechnung", 73, 1997, 27, 189, 91.0, (11, 1, 1)),
        ("AWV", 79, 1701, 19, 54, 92.0, (11, 1, 1)),
    ]
    rows: list[Word] = [
        ("4123456000038", 250, 2200, 250, 28, 96.0, (15, 1, 1)),
        ("58,20", 2200, 2200, 90, 28, 96.0, (15, 1, 1)),
        ("Artikelrabatt", 250, 1705, 200, 28, 96.0, (15, 1, 2)),
    ]
    lines = ocr.layout(_tsv(rows + margin), page=1, dpi=300).text.splitlines()
    assert lines == ["Artikelrabatt", "4123456000038 58,20", "ZUGFeRD Beispielrechnung AWV"]


def test_layout_tells_a_bullet_read_as_a_letter_by_its_ink() -> None:
    # "Firma GmbH • Ecke 12": Tesseract reads the filled dot as "e"; a real "o" (a ring) stays
    image = Image.new("L", (1200, 200), 245)
    draw = ImageDraw.Draw(image)
    draw.ellipse((300, 108, 311, 119), fill=90)  # the bullet, 11 px
    draw.ellipse((600, 108, 611, 119), outline=90, width=2)  # an "o"
    data = _tsv(
        [
            ("Firma", 100, 100, 80, 19, 96.0, (1, 1, 1)),
            ("GmbH", 190, 100, 68, 19, 90.0, (1, 1, 1)),
            ("e", 300, 108, 12, 12, 83.0, (1, 1, 1)),
            ("Ecke", 340, 100, 66, 19, 92.0, (1, 1, 1)),
            ("12", 420, 100, 30, 19, 96.0, (1, 1, 1)),
            ("o", 600, 108, 12, 12, 70.0, (1, 1, 1)),
            ("Stadt", 640, 100, 80, 19, 90.0, (1, 1, 1)),
        ]
    )
    assert ocr.layout(data, page=1, dpi=300, image=image).text == "Firma GmbH • Ecke 12 o Stadt"
    assert ocr.layout(data, page=1, dpi=300).text == "Firma GmbH e Ecke 12 o Stadt"  # no image: as read


def test_iban_check_digits_read_as_look_alike_letters_are_repaired_only_when_that_makes_it_valid() -> None:
    line = [
        ("IBAN", 100, 100, 60, 20, 95.0, (1, 1, 1)),
        ("NLSOINGB0683251309", 170, 100, 300, 20, 81.0, (1, 1, 1)),
    ]
    assert ocr.layout(_tsv(line), page=1, dpi=300).text == "IBAN NL50INGB0683251309"
    grouped = [
        (t, 100 + 70 * i, 100, 60, 20, 90.0, (1, 1, 1))
        for i, t in enumerate(["GBB2", "WEST", "1234", "5698", "7654", "32", "BIC"])
    ]
    assert ocr.layout(_tsv(grouped), page=1, dpi=300).text == "GB82 WEST 1234 5698 7654 32 BIC"
    # no valid IBAN either way (one digit of the account misread too): left as read
    wrong = [
        ("NLSOINGB0683251300", 100, 100, 300, 20, 81.0, (1, 1, 1)),
        ("ATOS", 420, 100, 60, 20, 90.0, (1, 1, 1)),
    ]
    assert ocr.layout(_tsv(wrong), page=1, dpi=300).text == "NLSOINGB0683251300 ATOS"


def test_a_page_read_after_straightening_gives_boxes_on_the_page_as_rendered() -> None:
    # a mark at (800, 200) px on a page turned by 2 degrees to read it: its box is turned back
    image = Image.new("L", (1000, 800), 255)
    ImageDraw.Draw(image).rectangle((795, 195, 805, 205), fill=0)
    straight = ocr._straighten(image, 2.0)
    x0, top, x1, bottom = Image.eval(straight, lambda v: 255 - v if v < 128 else 0).getbbox() or (0, 0, 0, 0)
    data = _tsv([("mark", x0, top, x1 - x0, bottom - top, 90.0, (1, 1, 1))])
    page = ocr._turn_back(ocr.layout(data, page=1, dpi=72), 2.0, image, 72)
    bx0, btop, bx1, bbottom = page.words[0].box
    assert (bx0 + bx1) / 2 == pytest.approx(800, abs=1.5)
    assert (btop + bbottom) / 2 == pytest.approx(200, abs=1.5)


def _ruled_page(degrees: float) -> Image.Image:
    """A page of text-like lines (rows of word-sized bars of varying length), turned by
    ``degrees``."""
    image = Image.new("L", (2480, 3508), 255)
    draw = ImageDraw.Draw(image)
    for n, y in enumerate(range(300, 3200, 75)):
        x = 250
        for k in range(6 + n % 5):
            width = 90 + (37 * (n + k)) % 160
            draw.rectangle((x, y, x + width, y + 32), fill=0)
            x += width + 40
    return image.rotate(degrees, resample=Image.Resampling.BICUBIC, fillcolor=255)


@pytest.mark.parametrize("degrees", [-3.0, -1.2, 0.7, 2.5, 4.0])
def test_the_skew_estimate_finds_how_a_page_is_turned(degrees: float) -> None:
    assert ocr.estimate_skew(_ruled_page(degrees)) == pytest.approx(-degrees, abs=0.2)


@pytest.mark.parametrize("degrees", [-3.0, 1.2, 2.0, 4.5])
def test_a_turned_page_is_straightened_by_shears_as_a_rotation_would(degrees: float) -> None:
    turned = _ruled_page(degrees)
    straight = ocr._straighten(turned, -degrees)
    assert straight.size == turned.size and straight.mode == "L"
    assert ocr.estimate_skew(straight) == pytest.approx(0.0, abs=0.15)
    if abs(degrees) > 3:
        return
    # near the centre the same pixels as PIL's rotation, but for the interpolation (the two shears
    # also stretch the page by 1 - cos(degrees) along each axis: 0.14 % at 3 degrees)
    rotated = turned.rotate(-degrees, resample=Image.Resampling.BICUBIC, fillcolor=255)
    w, h = turned.size
    inner = (w // 4, h // 4, 3 * w // 4, 3 * h // 4)
    diff = ImageChops.difference(straight.crop(inner), rotated.crop(inner))
    assert sum(i * n for i, n in enumerate(diff.histogram())) / (diff.width * diff.height) < 6.0


def test_straightening_by_shears_is_cheaper_than_a_bicubic_rotation() -> None:
    turned = _ruled_page(2.0)
    started = time.perf_counter()
    ocr._straighten(turned, -2.0)
    shears = time.perf_counter() - started
    started = time.perf_counter()
    turned.rotate(-2.0, resample=Image.Resampling.BICUBIC, fillcolor=255)
    assert shears < time.perf_counter() - started  # 4-6 times cheaper on a 300-dpi A4 page
    assert ocr._straighten(turned, 0.0) is turned  # a straight page is not copied


def test_a_straight_or_blank_page_has_no_skew() -> None:
    assert ocr.estimate_skew(_ruled_page(0.0)) == 0.0
    assert ocr.estimate_skew(Image.new("L", (1000, 1400), 255)) == 0.0


def test_missing_tesseract_names_the_apt_get_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ocr.shutil, "which", lambda name: None)
    with pytest.raises(InputError, match="apt-get install -y tesseract-ocr tesseract-ocr-eng") as ei:
        ocr.require_tesseract("eng+deu")
    assert ei.value.code == "OCR-UNAVAILABLE"
    assert ocr.tesseract_version() is None


# ---------------------------------------------------------------------------- real Tesseract


@needs_tesseract
def test_a_missing_language_and_the_time_limit_are_input_errors_naming_the_page() -> None:
    blank = Image.new("L", (400, 200), 255)
    with pytest.raises(InputError, match="apt-get install -y tesseract-ocr-xyz") as ei:
        ocr.ocr_image(blank, page=3, dpi=300, languages="xyz", timeout=30)
    assert ei.value.page == 3 and ei.value.code == "OCR-UNAVAILABLE"
    big = Image.new("L", (2480, 3508), 255)
    for y in range(100, 3400, 60):
        big.paste(0, (100, y, 2300, y + 20))
    with pytest.raises(InputError, match="OCR takes longer than") as ei:
        ocr.ocr_image(big, page=2, dpi=300, languages="eng+deu+fra+nld", timeout=0.01)
    assert ei.value.page == 2


@needs_tesseract
def test_a_page_turned_by_2_to_3_degrees_reads_its_fields(tmp_path: Path) -> None:
    for name, degrees in (("nordwind-01-clean.pdf", 2.5), ("bluefield-13-services-2way.pdf", 2.0)):
        text = extract_invoice(PDFS / name)
        got = extract_invoice(scan_pdf(PDFS / name, tmp_path / name, seed=1, angle=degrees, blur=1.0))
        assert got.source == "ocr"
        for field in ("invoice_number", "issue_date", "po_number", "currency", "gross_total", "iban"):
            assert getattr(got, field) == getattr(text, field), (name, field)


def _turned_point(x: float, y: float, degrees: float, size: tuple[float, float]) -> tuple[float, float]:
    """Where (x, y) of an upright page of ``size`` lands once PIL turns it by ``degrees``."""
    cx, cy = size[0] / 2, size[1] / 2
    cos, sin = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
    return cx + (x - cx) * cos + (y - cy) * sin, cy - (x - cx) * sin + (y - cy) * cos


@needs_tesseract
def test_a_turned_page_is_straightened_once_and_its_boxes_are_on_the_page_as_rendered(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(str(PDFS / "nordwind-01-clean.pdf"))
    try:
        upright, dpi = ocr.render_page(pdf[0], 200)
    finally:
        pdf.close()
    number = extract_invoice(PDFS / "nordwind-01-clean.pdf").invoice_number
    assert number
    turns: list[float] = []
    straighten = ocr._straighten
    monkeypatch.setattr(ocr, "_straighten", lambda image, d: turns.append(d) or straighten(image, d))
    straight = ocr.ocr_image(upright, page=1, dpi=dpi, languages="eng+deu", timeout=120)
    assert turns == [0.0]  # a straight page is read as rendered
    turned = upright.rotate(2.5, resample=Image.Resampling.BICUBIC, fillcolor=255)
    turns.clear()
    read = ocr.ocr_image(turned, page=1, dpi=dpi, languages="eng+deu", timeout=120)
    assert len(turns) == 1 and turns[0] == pytest.approx(-2.5, abs=0.3)  # one Tesseract pass
    assert number in read.text
    [want] = [w for w in straight.words if number in w.text]
    [got] = [w for w in read.words if number in w.text]
    size = (upright.width * 72 / dpi, upright.height * 72 / dpi)
    x, y = _turned_point((want.box[0] + want.box[2]) / 2, (want.box[1] + want.box[3]) / 2, 2.5, size)
    assert (got.box[0] + got.box[2]) / 2 == pytest.approx(x, abs=4)
    assert (got.box[1] + got.box[3]) / 2 == pytest.approx(y, abs=4)
    assert 0 < got.conf <= 1


@needs_tesseract
def test_scans_read_by_ocr_give_the_text_paths_header(scans: dict[str, Path]) -> None:
    for name, scan in scans.items():
        text = extract_invoice(PDFS / name)
        got = extract_invoice(scan)
        assert got.source == "ocr" and got.pages == text.pages
        for field in ("invoice_number", "issue_date", "po_number", "currency", "gross_total", "iban"):
            assert getattr(got, field) == getattr(text, field), (name, field)
        assert got.gross_total is not None and isinstance(got.gross_total, Decimal)
        for field in ("invoice_number", "gross_total", "po_number"):
            assert 0 < got.confidence[field] <= 1
            assert field in got.spans
        low = {e["field"] for e in got.errors if e["code"] == "INV-LOW-CONFIDENCE"}
        assert low == {f for f, c in got.confidence.items() if c < 0.8 and f in got.spans}  # default 0.8


@needs_tesseract
def test_low_confidence_fields_name_their_page_region(
    scans: dict[str, Path], settings_env: pytest.MonkeyPatch
) -> None:
    settings_env.setenv("BACKOFFICE_OCR_MIN_CONFIDENCE", "1.0")
    reset_settings()
    scan = scans["bluefield-13-services-2way.pdf"]
    inv = extract_invoice(scan)
    low = {e["field"]: e for e in inv.errors if e["code"] == "INV-LOW-CONFIDENCE"}
    assert {"invoice_number", "gross_total", "po_number"} <= set(low)
    gross = low["gross_total"]
    assert gross["actual"] == format(inv.gross_total, "f") and gross["page"] == 1
    assert gross["confidence"] == round(inv.confidence["gross_total"], 3) < 1.0
    x0, top, x1, bottom = gross["box"]
    assert 0 <= x0 < x1 <= 612 and 0 <= top < bottom <= 842  # a word-sized box on an A4/letter page
    assert bottom - top < 40
    png = field_region(scan, 1, gross["box"])
    region = Image.open(io.BytesIO(png))
    assert region.width < 600 and region.height < 200  # the field, not the page
    assert region_name(str(scan), 1, "gross_total") == "bluefield-13-services-2way-page-1-gross_total.png"


@needs_tesseract
def test_a_low_confidence_scan_is_queued_per_field_with_its_region_as_evidence(
    bo_store: Store, tmp_path: Path, scans: dict[str, Path], settings_env: pytest.MonkeyPatch
) -> None:
    work = tmp_path / "in"
    (work / "pdf").mkdir(parents=True)
    shutil.copy(scans["bluefield-13-services-2way.pdf"], work / "pdf" / "scan-13.pdf")
    for name in ("purchase_orders.xlsx", "receipts.csv", "vendors.xlsx"):
        shutil.copy(FIXTURES / name, work / name)
    settings_env.setenv("BACKOFFICE_OCR_MIN_CONFIDENCE", "0.999")
    reset_settings()
    from bots.invoice_matching.bot import bot

    summary = run_bot(
        bot,
        {
            "invoices": str(work / "pdf"),
            "pos": str(work / "purchase_orders.xlsx"),
            "receipts": str(work / "receipts.csv"),
            "vendors": str(work / "vendors.xlsx"),
            "ledger": str(tmp_path / "out" / "ledger.xlsx"),
        },
        store=bo_store,
    )
    assert summary.queued == 1
    with bo_store.read() as conn:
        [row] = conn.execute(select(items).where(items.c.bot == bot.name)).all()
    assert row.payload["source"] == "ocr"
    low = [v for v in row.violations if v["code"] == "INV-LOW-CONFIDENCE"]
    assert {"invoice_number", "gross_total"} <= {v["field"] for v in low}
    assert len({v["field"] for v in low}) == len(low)  # one per field
    evidence = {e["name"]: e for e in row.evidence}
    for v in low:
        name = f"scan-13-page-1-{v['field']}.png"
        assert name in v["message"]
        png = evidence_path(bo_store, evidence[name]["sha256"]).read_bytes()
        assert png.startswith(b"\x89PNG")
        # a crop of a personal field (the IBAN) is shown only in an audited unmask; others to workers
        assert bool(evidence[name].get("redacted")) is (v["field"] != "iban")
    # only OCR-read problems: the scan of a clean invoice raises nothing else
    assert {v["code"] for v in row.violations if v.get("severity") != "info"} == {"INV-LOW-CONFIDENCE"}


def _mean_difference(a: Image.Image, b: Image.Image) -> float:
    diff = ImageChops.difference(a, b)
    return sum(i * n for i, n in enumerate(diff.histogram())) / (diff.width * diff.height)


def test_a_scan_is_read_from_its_image_as_stored_not_rendered(tmp_path: Path) -> None:
    import pypdfium2 as pdfium

    scan = scan_pdf(PDFS / "nordwind-01-clean.pdf", tmp_path / "scan.pdf", seed=3)
    text = pdfium.PdfDocument(str(PDFS / "nordwind-01-clean.pdf"))
    doc = pdfium.PdfDocument(str(scan))
    try:
        page = doc[0]
        native = ocr.scanned_page(page, 300)
        assert native is not None
        image, res = native
        assert res == pytest.approx(200, abs=0.5) and image.mode == "L"  # the scan's own pixels
        assert image.size == ocr._page_pixels(page, res)
        assert (
            ocr.scanned_page(page, 150) is not None and ocr.scanned_page(page, 150)[1] == 150
        )  # never above
        fast, used = ocr.render_page(page, 300)
        rendered = ocr._render(page, 300)
        assert used == 300 and fast.size == rendered.size
        assert _mean_difference(fast, rendered) < 3.0  # what PDFium would have drawn, to the grey level
        assert ocr.scanned_page(text[0], 300) is None  # a page with a text layer is rendered
    finally:
        doc.close()
        text.close()


def test_a_scan_placed_with_margins_is_put_where_the_page_shows_it() -> None:
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(str(PDFS / "bad-04-scanned.pdf"))  # one image, 2 cm in from the edges
    try:
        page = doc[0]
        native = ocr.scanned_page(page, 300)
        assert native is not None
        pixel = 300 / native[1]  # one pixel of the stored image (90 dpi), in pixels at 300 dpi
        fast, _ = ocr.render_page(page, 300)
        rendered = ocr._render(page, 300)
        assert fast.size == rendered.size
        ink = [Image.eval(im, lambda v: 255 if v < 128 else 0).getbbox() for im in (fast, rendered)]
        assert ink[0] is not None and ink[1] is not None
        assert all(abs(a - b) <= pixel + 1 for a, b in zip(ink[0], ink[1], strict=True))
        assert _mean_difference(fast, rendered) < 3.0
    finally:
        doc.close()


# ------------------------------------------------------------------------------ hostile pages


def _image_pdf(path: Path, image: bytes, size: tuple[float, float], filt: str = "DCTDecode") -> Path:
    """A one-page PDF whose page is one image XObject (the raw ``image`` bytes as its stream)."""
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %d %d] /Resources << /XObject << /Im0 4 0 R >> >> "
        b"/Contents 5 0 R >>" % (int(size[0]), int(size[1])),
        b"<< /Type /XObject /Subtype /Image /Width 800 /Height 1000 /ColorSpace /DeviceGray "
        b"/BitsPerComponent 8 /Filter /%s /Length %d >>\nstream\n%s\nendstream"
        % (filt.encode(), len(image), image),
    ]
    content = b"q %d 0 0 %d 0 0 cm /Im0 Do Q" % (int(size[0]), int(size[1]))
    objs.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content))
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objs, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (i, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    path.write_bytes(bytes(out))
    return path


@needs_tesseract
def test_a_corrupt_page_image_is_an_input_error_naming_file_and_page(tmp_path: Path) -> None:
    buf = io.BytesIO()
    Image.new("L", (800, 1000), 255).save(buf, format="JPEG")
    broken = buf.getvalue()[:200] + bytes(range(256)) * 20  # a JPEG header, then garbage
    pdf = _image_pdf(tmp_path / "corrupt-scan.pdf", broken, (595, 842))
    with pytest.raises(InputError) as ei:
        extract_invoice(pdf)
    assert ei.value.file == str(pdf) and ei.value.page == 1
    assert "OCR" in str(ei.value)


@needs_tesseract
def test_a_huge_page_image_is_refused_before_it_is_rendered(tmp_path: Path) -> None:
    buf = io.BytesIO()
    Image.new("L", (800, 1000), 255).save(buf, format="JPEG")
    pdf = _image_pdf(tmp_path / "huge-scan.pdf", buf.getvalue(), (14400, 14400))  # 200 x 200 inches
    with pytest.raises(InputError, match="too large to OCR") as ei:
        extract_invoice(pdf)
    assert ei.value.file == str(pdf) and ei.value.page == 1


@needs_tesseract
def test_more_image_pages_than_the_limit_are_refused(
    tmp_path: Path, scans: dict[str, Path], settings_env: pytest.MonkeyPatch
) -> None:
    settings_env.setenv("BACKOFFICE_OCR_MAX_PAGES", "1")
    reset_settings()
    two = scan_pdf(PDFS / "nordwind-11-total-off.pdf", tmp_path / "two.pdf")  # a two-page invoice
    with pytest.raises(InputError, match="limit 1, setting ocr_max_pages") as ei:
        extract_invoice(two)
    assert ei.value.page == 2
