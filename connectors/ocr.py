"""OCR of image-only PDF pages with Tesseract 5 (through pytesseract), as laid-out page text.

``ocr_pages(pdf, numbers)`` renders each page with PDFium (greyscale, ``ocr_dpi``) and reads it
with ``tesseract ... tsv``: every word with its box and confidence. A page that is one scanned
image and nothing else is not rendered: its image is taken as stored (:func:`scanned_page`),
straightened if need be on its own pixels, and only then scaled to ``ocr_dpi``. The words are
laid out as the text path lays out a text layer (:func:`connectors.pdf._page_text`): one row per
visual line across the whole page (words of two columns at the same height share a row), left to
right, one space between words. A scan turned by a degree or more is straightened before
Tesseract reads it (the angle from the projection profile of its ink, :func:`estimate_skew`; the
turn made by two shears, :func:`_straighten`; the words' boxes are turned back onto the page as
rendered); a slighter turn is undone on the word boxes in the layout (the median slope of
Tesseract's own lines), so a row is not split by the skew. Before that the words are cleaned of
what print does to Tesseract (:func:`_clean`): table rules read as ``|``, ``[``, ``]`` or
underscores, bullets read as letters (told by their ink on the page image), numbers cut in two
(``01.11 .2024``); punctuation read as a word of its own stays on its line, and text set
vertically in a margin gets rows of its own after the page's.

Each :class:`OcrWord` keeps where it is in the page text (``start``/``end``), on the page (PDF
points from the top-left corner) and how sure Tesseract is (0..1), so a reader's field span maps
back to the words it came from (:func:`words_in`) and the page region a person should look at.

Tesseract is a system program (Debian ``tesseract-ocr`` and its ``eng deu fra nld`` data):
``python -m connectors.ocr install`` installs it with apt-get when it is missing and we are root
(the Makefile calls it, as it does for the browser), else names the command to run;
``python -m connectors.ocr check`` prints the version and languages.
"""

from __future__ import annotations

import argparse
import io
import itertools
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

# pytesseract and PIL at the top, not where first used: the PDF worker's forkserver preloads this
# module (through connectors.pdf), so each worker starts with them imported (0.9 s a document else)
import pypdfium2.raw as pdfium_c
import pytesseract
from PIL import Image

from backoffice.errors import ConfigError, InputError
from connectors.bankfiles.accounts import is_valid_iban

__all__ = [
    "APT_COMMAND",
    "APT_PACKAGES",
    "CONFIG",
    "MAX_PIXELS",
    "THREADS",
    "OcrPage",
    "OcrWord",
    "crop_png",
    "estimate_skew",
    "install",
    "layout",
    "main",
    "ocr_image",
    "ocr_pages",
    "render_page",
    "require_tesseract",
    "scanned_page",
    "tesseract_version",
    "union_box",
    "words_in",
]

LANGUAGES = ("eng", "deu", "fra", "nld")
APT_PACKAGES = ("tesseract-ocr", *(f"tesseract-ocr-{lang}" for lang in LANGUAGES))
APT_COMMAND = "apt-get install -y " + " ".join(APT_PACKAGES)
#: Largest page image OCRed (pixels): an A3 page at 300 dpi is 17.4 million. A larger page is
#: rendered at a lower resolution to fit; one that would fall below MIN_DPI is refused.
MAX_PIXELS = 40_000_000
MIN_DPI = 100
ROW_TOLERANCE = 3.0  # points: tops of words this close are one row (pdfplumber's y_tolerance)
#: Tesseract options: the LSTM engine; page segmentation 3 (automatic: blocks found on the page),
#: which read the real scans of ``bench/ocr_accuracy.py --limit 5`` best (2 Dec 2026, today's
#: reader: header fields right 78/87 with 3, 77/87 with 4, 76/87 with 6; line amounts as the text
#: path reads them 28/34 with 3, 27/34 with 4; the fixture scans 64/65 either way). Straightening
#: the page before Tesseract, a median filter, an unsharp mask and 400 dpi changed nothing there.
CONFIG = "--oem 1 --psm 3"
#: A page image turned by this much or more (degrees, :func:`estimate_skew`) is straightened
#: before Tesseract reads it (:func:`ocr_image`); a slighter turn is left to the layout.
DESKEW_DEGREES = 1.0
#: Turns estimate_skew looks at (degrees either way) and the width (pixels) it looks at them on.
SKEW_RANGE = 5
SKEW_WIDTH = 400
#: A page whose words Tesseract read still lean by this much (degrees, :func:`_skew`) after the
#: straightening is straightened by that too and read again (a page the profile misjudged):
#: before the profile, scans turned by 2 degrees with blur 1.0, header fields right 69/87 ->
#: 76/87 with this step alone (``bench/ocr_accuracy.py --limit 5 --angle 2 --blur 1``).
REDO_DEGREES = 1.5
#: Tesseract's OpenMP threads: one. A worker reads one page at a time and parallelism comes from
#: runs and workers; OpenMP threads spin against each other on a busy machine (a page took twice
#: as long with the default on 2 loaded cores).
THREADS = "1"


@dataclass(frozen=True)
class OcrWord:
    """One word Tesseract read: its text, confidence (0..1), box on the page in PDF points from
    the top-left corner (x0, top, x1, bottom), and its offsets in its page's laid-out text."""

    text: str
    conf: float
    box: tuple[float, float, float, float]
    start: int
    end: int


@dataclass
class OcrPage:
    """One OCRed page (1-based ``page``): its laid-out text, words, and the resolution read at."""

    page: int
    text: str
    words: list[OcrWord] = field(default_factory=list)
    dpi: int = 0
    seconds: float = 0.0


# ----------------------------------------------------------------------------- Tesseract


def tesseract_version() -> str | None:
    """Tesseract's version ("5.3.0"), or None when the ``tesseract`` program is not installed."""
    exe = shutil.which("tesseract")
    if exe is None:
        return None
    res = subprocess.run([exe, "--version"], capture_output=True, text=True, check=False, timeout=30)
    first = (res.stdout or res.stderr or "").strip().splitlines()
    return first[0].split()[-1] if first else None


def _languages() -> set[str]:
    exe = shutil.which("tesseract")
    if exe is None:
        return set()
    res = subprocess.run([exe, "--list-langs"], capture_output=True, text=True, check=False, timeout=30)
    return {ln.strip() for ln in (res.stdout or "").splitlines()[1:] if ln.strip()}


def require_tesseract(languages: str) -> None:
    """InputError (the document cannot be read here) naming the command that installs Tesseract
    when the ``tesseract`` program is missing. A missing language is named when Tesseract fails
    to load it (:func:`ocr_image`): asking it for its languages first costs 0.1 s a document."""
    if shutil.which("tesseract") is None:
        raise InputError(
            f"PDF has no text layer (a scan) and needs OCR, but Tesseract is not installed: run `{APT_COMMAND}` "
            "(or `python -m connectors.ocr install` as root)",
            code="OCR-UNAVAILABLE",
        )


def _missing_language(message: str, languages: str, page: int) -> InputError | None:
    found = re.search(r"Failed loading language '([^']+)'", message)
    if found is None:
        return None
    missing = found.group(1)
    return InputError(
        f"Tesseract has no data for language {missing} (setting ocr_languages={languages!r}): run "
        f"`apt-get install -y tesseract-ocr-{missing}`",
        page=page,
        code="OCR-UNAVAILABLE",
    )


def _can_apt() -> list[str] | None:
    if not shutil.which("apt-get"):
        return None
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return []
    if shutil.which("sudo"):
        ok = subprocess.run(["sudo", "-n", "true"], capture_output=True, check=False, timeout=20)
        if ok.returncode == 0:
            return ["sudo", "-n"]
    return None


def install() -> str:
    """Make sure Tesseract and its eng/deu/fra/nld data are installed (apt-get when missing and
    root, or passwordless sudo); print each step. ConfigError naming the command otherwise."""
    have = _languages()
    if tesseract_version() is not None and set(LANGUAGES) <= have:
        version = tesseract_version() or "?"
        print(f"ocr: Tesseract {version} with {'+'.join(LANGUAGES)} is already installed")
        return version
    prefix = _can_apt()
    if prefix is None:
        raise ConfigError(f"Tesseract (OCR of scanned invoices) is missing: run `sudo {APT_COMMAND}`")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    cmd = [*prefix, "apt-get", "install", "-y", "--no-install-recommends", *APT_PACKAGES]
    for attempt in range(2):
        print(f"ocr: running `{' '.join(cmd)}` ...")
        res = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False, timeout=1800)
        if res.returncode == 0:
            break
        if attempt == 0:
            print("ocr: apt-get install failed, updating package lists and retrying ...")
            subprocess.run(
                [*prefix, "apt-get", "update"], capture_output=True, env=env, check=False, timeout=1800
            )
    installed = tesseract_version()
    if installed is None or not set(LANGUAGES) <= _languages():
        raise ConfigError(f"apt-get could not install Tesseract: run `{APT_COMMAND}` as root")
    print(f"ocr: installed Tesseract {installed}")
    return installed


# --------------------------------------------------------------------------------- render


def render_page(page: Any, dpi: int) -> tuple[Image.Image, int]:
    """A PDFium page as a greyscale PIL image at ``dpi`` (lowered so the image stays within
    MAX_PIXELS) and the resolution used. InputError when the page is too large even at MIN_DPI.

    A page that is a scan (one image, :func:`scanned_page`) is not rendered: its image is taken
    as stored, put on a white page where the page places it and scaled to ``dpi`` (bilinear, as
    PDFium scales an image), 0.2-0.5 s a 300-dpi A4 page less than PDFium's rendering of it."""
    used = _fit_dpi(page, dpi)
    scanned = scanned_page(page, used)
    if scanned is not None:
        return _scaled(scanned[0], _page_pixels(page, used)), used
    return _render(page, used), used


def _fit_dpi(page: Any, dpi: int) -> int:
    width, height = page.get_size()
    area = max(width, 1.0) * max(height, 1.0) / (72.0 * 72.0)  # square inches
    fit = int((MAX_PIXELS / area) ** 0.5)
    used = min(dpi, fit)
    if used < MIN_DPI:
        raise InputError(
            f"page is {width / 72:.0f} x {height / 72:.0f} inches: too large to OCR "
            f"(limit {MAX_PIXELS // 1_000_000} million pixels at {MIN_DPI} dpi)"
        )
    return used


def _render(page: Any, dpi: int) -> Image.Image:
    bitmap = page.render(scale=dpi / 72.0, grayscale=True)
    return bitmap.to_pil()


def _page_pixels(page: Any, dpi: float) -> tuple[int, int]:
    """The size of ``page`` rendered at ``dpi`` (as PDFium sizes its bitmap)."""
    width, height = page.get_size()
    return max(1, math.ceil(width * dpi / 72.0)), max(1, math.ceil(height * dpi / 72.0))


def _scaled(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    return image if image.size == size else image.resize(size, Image.Resampling.BILINEAR)


def scanned_page(page: Any, dpi: int) -> tuple[Image.Image, float] | None:
    """The page as a greyscale image at the resolution of its scan (at most ``dpi``) and that
    resolution, when the page is a scan and nothing else: one 8-bit grey or RGB image, upright,
    opaque, within the page, on a page without rotation or annotations (the image put on a white
    page where the page places it). Anything else (text or drawings beside the image, a mask, a
    turned placement, bilevel or CMYK data) is None: the page is rendered."""
    try:
        if pdfium_c.FPDFPage_CountObjects(page.raw) != 1 or pdfium_c.FPDFPage_GetAnnotCount(page.raw):
            return None
        if page.get_rotation() % 360:
            return None
        obj = next(iter(page.get_objects(max_depth=0)))
        if obj.type != pdfium_c.FPDF_PAGEOBJ_IMAGE or pdfium_c.FPDFPageObj_HasTransparency(obj.raw):
            return None
        a, b, c, d, e, f = obj.get_matrix().get()
        x0, y0, x1, y1 = page.get_cropbox()
        if b or c or a <= 0 or d <= 0 or e < x0 - 1 or f < y0 - 1 or e + a > x1 + 1 or f + d > y1 + 1:
            return None
        meta = obj.get_metadata()
        colour = (pdfium_c.FPDF_COLORSPACE_DEVICEGRAY, pdfium_c.FPDF_COLORSPACE_DEVICERGB)
        if meta.colorspace not in colour or meta.bits_per_pixel not in (8, 24):
            return None
        image = obj.get_bitmap(render=False).to_pil()
    except Exception:  # anything PDFium cannot tell or decode this way is rendered instead
        return None
    if image.mode != "L":
        image = image.convert("L")
    res = min(float(dpi), image.width * 72.0 / a)
    scale = res / 72.0
    placed = _scaled(image, (max(1, round(a * scale)), max(1, round(d * scale))))
    size = _page_pixels(page, res)
    if placed.size == size:
        return placed, res
    sheet = Image.new("L", size, 255)
    sheet.paste(placed, (round((e - x0) * scale), round((y1 - f - d) * scale)))
    return sheet, res


def crop_png(
    image: Image.Image, box: tuple[float, float, float, float], dpi: int, margin: float = 12.0
) -> bytes:
    """The region ``box`` (PDF points, top-left origin) of a page image rendered at ``dpi``, with
    ``margin`` points around it, as PNG bytes."""
    scale = dpi / 72.0
    x0, top, x1, bottom = box
    left = max(0, int((x0 - margin) * scale))
    upper = max(0, int((top - margin) * scale))
    right = min(image.width, int((x1 + margin) * scale) + 1)
    lower = min(image.height, int((bottom + margin) * scale) + 1)
    buf = io.BytesIO()
    image.crop((left, upper, max(right, left + 1), max(lower, upper + 1))).save(buf, format="PNG")
    return buf.getvalue()


# --------------------------------------------------------------------------------- layout


@dataclass
class _Raw:
    text: str
    conf: float
    left: int
    top: int
    width: int
    height: int
    line: tuple[int, int, int]

    @property
    def cx(self) -> float:
        return self.left + self.width / 2

    @property
    def cy(self) -> float:
        return self.top + self.height / 2


def _words(data: dict[str, list[Any]], image: Image.Image | None = None) -> list[_Raw]:
    out: list[_Raw] = []
    for i, text in enumerate(data.get("text", [])):
        text = str(text).strip()
        if int(data["level"][i]) != 5 or not text:
            continue
        conf = float(data["conf"][i])
        if conf < 0:
            continue
        out.append(
            _Raw(
                text,
                min(conf, 100.0) / 100.0,
                int(data["left"][i]),
                int(data["top"][i]),
                int(data["width"][i]),
                int(data["height"][i]),
                (int(data["block_num"][i]), int(data["par_num"][i]), int(data["line_num"][i])),
            )
        )
    return _clean(out, image)


_RULE_CHARS = "|[]{}"
_QUOTED_NUMBER = re.compile(r"^[“”„‚‘’'\"]\d[\d.,]*\d[%€$£]?$")
_BULLET_LOOKALIKES = frozenset("eoO0+*#@©®°«»¢•·●")


def _inked(w: _Raw) -> bool:
    """A word with a letter or digit (punctuation alone is no line of its own)."""
    return any(c.isalnum() for c in w.text)


def _clean(words: list[_Raw], image: Image.Image | None = None) -> list[_Raw]:
    """What table rules do to Tesseract's words, undone. A short vertical rule of a table cell
    (shorter than Tesseract's own line finder removes) is read as ``|``, ``[`` or ``]``: on its
    own (a word of rule characters taller than the text of its line: dropped) or glued to the
    word beside it (``[Total``, ``34,73]``, ``10,00|``: the character stripped, and the word's
    box, stretched to the rule's height, brought back to the height of its line's text). Then
    numbers Tesseract split inside (``01.11 .2024``, ``1.234 ,56``: a part starting with its
    separator, or ``136, 52``: a comma and two decimals) are joined again. A word of underscores (a
    piece of a horizontal rule) is dropped and underscores at a word's ends stripped; a quote glued
    to the front of a number (a misread minus or a speck) is stripped too, never turned into a
    sign. With the page ``image``, a bullet (a filled
    dot, as in the sender line ``Firma GmbH • Straße 1 • 12345 Stadt``) that Tesseract read as a
    letter or sign (``e``, ``+``, ``o``) is told by its ink: a dot fills its box, a letter does not."""
    by_line: dict[tuple[int, int, int], list[_Raw]] = {}
    for w in words:
        by_line.setdefault(w.line, []).append(w)
    page_height = statistics.median(w.height for w in words) if words else 0.0
    out: list[_Raw] = []
    for ws in by_line.values():
        plain = [w for w in ws if _inked(w) and not any(c in _RULE_CHARS for c in w.text)]
        height = statistics.median(w.height for w in plain) if plain else page_height
        top = statistics.median(w.top for w in plain) if plain else None
        for w in ws:
            tall = w.height >= 1.4 * height
            if all(c == "_" for c in w.text):
                continue  # a piece of a horizontal rule
            if all(c in _RULE_CHARS for c in w.text):
                if tall:
                    continue  # a cell's rule
                out.append(w)
                continue
            if image is not None and _is_bullet(w, height, image):
                out.append(_Raw("•", w.conf, w.left, w.top, w.width, w.height, w.line))
                continue
            text = w.text
            lead = len(text) - len(text.lstrip("|_"))
            trail = len(text) - len(text.rstrip("|_"))
            if _QUOTED_NUMBER.match(text[lead:]):
                lead += 1  # a quote glued to a number is a misread sign or a speck
            if tall:
                if text[lead:].startswith(("[", "{")) and "]" not in text and "}" not in text:
                    lead += 1
                core = text[lead : len(text) - trail]
                if core.endswith(("]", "}")) and "[" not in core and "{" not in core:
                    trail += 1
            if not lead and not trail:
                out.append(w)
                continue
            core = text[lead : len(text) - trail]
            if not core:
                continue
            per = w.width / max(len(text), 1)
            left = w.left + round(per * lead)
            width = max(1, w.width - round(per * (lead + trail)))
            new_top, new_height = w.top, w.height
            if tall and top is not None:
                new_top, new_height = int(top), int(height)
            out.append(_Raw(core, w.conf, left, new_top, width, new_height, w.line))
    return _repair_ibans(_join_numbers(out))


def _is_bullet(w: _Raw, height: float, image: Image.Image) -> bool:
    """A one-character word in a roughly square box smaller than its line's text whose ink fills
    most of the box (a disc fills 0.79 of it, a blurred one ~0.7; ``e``, ``o``, ``+`` ~0.3)."""
    if len(w.text) != 1 or w.text not in _BULLET_LOOKALIKES or w.height > 0.8 * height:
        return False
    if not 0.6 <= w.width / max(w.height, 1) <= 1.6 or w.width < 3:
        return False
    m = max(2, w.height // 3)
    box = (w.left - m, w.top - m, w.left + w.width + m, w.top + w.height + m)
    if box[0] < 0 or box[1] < 0 or box[2] > image.width or box[3] > image.height:
        return False
    around = image.crop(box).histogram()
    inside = image.crop((w.left, w.top, w.left + w.width, w.top + w.height)).histogram()
    lit = [i for i, v in enumerate(around) if v]
    if not lit:
        return False
    dark, paper = lit[0], lit[-1]
    if paper - dark < 40:  # no contrast: not a glyph
        return False
    cut = (dark + paper) // 2
    return sum(inside[:cut]) >= 0.6 * w.width * w.height


_NUMBER_HEAD = re.compile(r"^[+-]?\d[\d.,]*$")
_NUMBER_TAIL = re.compile(r"^[.,]\d+[\d.,]*[%€$£]?$")
_CENTS_TAIL = re.compile(r"^\d{2}[%€$£]?$")


def _split_number(prev: _Raw, w: _Raw) -> bool:
    """``prev`` and ``w`` are one number Tesseract cut in two: ``01.11`` ``.2024`` (the second part
    starts with its separator), or ``136,`` ``52`` (a decimal separator, then two decimals: the
    space Tesseract put after the comma is as wide as a real one, so the number's form decides,
    not the gap; ``3, 2014`` stays apart)."""
    if prev.line != w.line or not _NUMBER_HEAD.match(prev.text):
        return False
    gap = w.left - (prev.left + prev.width)
    if not 0 <= gap < 0.6 * max(prev.height, w.height):
        return False
    if _NUMBER_TAIL.match(w.text):
        return True
    return prev.text[-1] in ".," and bool(_CENTS_TAIL.match(w.text))


def _join_numbers(words: list[_Raw]) -> list[_Raw]:
    out: list[_Raw] = []
    for w in words:
        prev = out[-1] if out else None
        if prev is not None and _split_number(prev, w):
            top = min(prev.top, w.top)
            bottom = max(prev.top + prev.height, w.top + w.height)
            out[-1] = _Raw(
                prev.text + w.text,
                min(prev.conf, w.conf),
                prev.left,
                top,
                w.left + w.width - prev.left,
                bottom - top,
                prev.line,
            )
            continue
        out.append(w)
    return out


#: What Tesseract reads for a digit among capitals (``NLSO`` for ``NL50``), and the digit.
_DIGIT_LOOKALIKES = {"O": "0", "o": "0", "D": "0", "Q": "0", "S": "5", "s": "5", "I": "1", "l": "1"}
_DIGIT_LOOKALIKES |= {"|": "1", "B": "8", "Z": "2", "z": "2", "G": "6", "b": "6"}
_IBAN_HEAD = re.compile(r"^[A-Z]{2}[0-9A-Za-z|]{2}")
_IBAN_GROUP = re.compile(r"^[A-Z0-9]{1,4}$")


def _repair_ibans(words: list[_Raw]) -> list[_Raw]:
    """An IBAN whose check digits (its 3rd and 4th characters, always digits) Tesseract read as
    look-alike letters (``NLSOINGB...`` for ``NL50INGB...``, or ``DE3A 7007 ...`` grouped in
    fours) gets its digits back, only when that makes a valid IBAN (mod 97 and the country's
    length and structure: :func:`connectors.bankfiles.accounts.is_valid_iban`) and what was read
    is not one; no other character is touched."""
    out = list(words)
    for i, w in enumerate(out):
        head = w.text
        if not _IBAN_HEAD.match(head) or head[2:4].isdigit():
            continue
        fixed = head[:2] + "".join(_DIGIT_LOOKALIKES.get(c, c) for c in head[2:4])
        if not fixed[2:4].isdigit():
            continue
        rest = ""
        if len(head) == 4:  # grouped in fours: the groups after it on its line
            for nxt in out[i + 1 : i + 9]:
                if nxt.line != w.line or not _IBAN_GROUP.match(nxt.text):
                    break
                rest += nxt.text
        candidates = [(head + rest, fixed + head[4:] + rest)] if rest or len(head) > 4 else []
        # the groups may run on into what follows the IBAN on its line: try the shorter runs too
        if rest:
            candidates += [(head + rest[:n], fixed + rest[:n]) for n in range(len(rest) - 1, 10, -1)]
        for read, repaired in candidates:
            if is_valid_iban(repaired) and not is_valid_iban(read):
                out[i] = replace(w, text=fixed + head[4:])
                break
    return out


def _lines(words: Sequence[_Raw]) -> list[list[_Raw]]:
    """Tesseract's lines, each left to right."""
    lines: dict[tuple[int, int, int], list[_Raw]] = {}
    for w in words:
        lines.setdefault(w.line, []).append(w)
    return [sorted(ws, key=lambda w: w.left) for ws in lines.values()]


#: Letters whose ink stays within the x-height (no ascender, descender or capital), and the
#: punctuation that sits in it or on the baseline; and the x-height as a share of the height
#: of capitals and digits (Helvetica 0.73, Times 0.68).
_X_LETTERS = frozenset("acemnorsuvwxzäöüéèêàâç")
_X_MARKS = frozenset(".,:;-")
_X_SHARE = 0.72


def _x_only(w: _Raw) -> bool:
    """A word of x-height letters only (``vom``, ``an``, ``www``)."""
    return any(c in _X_LETTERS for c in w.text) and all(c in _X_LETTERS or c in _X_MARKS for c in w.text)


def _type_boxes(words: Sequence[_Raw]) -> dict[int, tuple[float, float]]:
    """(top, height) of the type of each word of x-height letters that is clearly shorter than its
    Tesseract line's other words (by ``id``): from its baseline up by the height of capitals of
    its size (its height over _X_SHARE, at most the median height of the line's other words,
    which Tesseract's boxes of low-confidence words and brackets inflate). The text path's rows
    are clusters of font-box tops, not of ink: ``vom`` between a number and a date has its ink
    13 px lower and 0.6 as tall at 300 dpi, yet it is set in their size and shares their row."""
    out: dict[int, tuple[float, float]] = {}
    for ws in _lines(words):
        others = [w.height for w in ws if _inked(w) and not _x_only(w)]
        if not others:
            continue
        height = statistics.median(others)
        for w in ws:
            if _x_only(w) and w.height < 0.85 * height:
                caps = min(w.height / _X_SHARE, height)
                out[id(w)] = (w.top + w.height - caps, caps)
    return out


def _skew(words: Sequence[_Raw]) -> float:
    """The page's slope (dy/dx): the median slope of the bottoms of neighbouring words of like
    height in Tesseract's lines (a line may join a large title and the text beside it; pairs of
    like words are not fooled by that)."""
    slopes: list[float] = []
    for ws in _lines(words):
        for a, b in itertools.pairwise(ws):
            dx = b.cx - a.cx
            if dx < 40 or not 0.8 <= b.height / max(a.height, 1) <= 1.25:
                continue
            slopes.append((b.top + b.height - a.top - a.height) / dx)
    if len(slopes) < 3:
        return 0.0
    slope = statistics.median(slopes)
    return slope if abs(slope) < 0.1 else 0.0  # beyond ~6 degrees it is not a slight skew


def layout(data: dict[str, list[Any]], *, page: int, dpi: int, image: Image.Image | None = None) -> OcrPage:
    """Tesseract's TSV (``image_to_data`` as a dict) as laid-out page text with its words (the page
    ``image`` it was read from, when given, tells bullets from letters: :func:`_clean`)."""
    words = _words(data, image)
    slope = _skew(words)
    # Rows are clusters of tops after undoing the skew, as the text path's rows are clusters of
    # character tops (pdfplumber's). The unit is a piece of a Tesseract line: a line is cut where
    # a word's top jumps by more than the tolerance from its neighbour's (a large title and the
    # smaller text beside it), and a piece's top is its highest word's (so a word of lower-case
    # letters stays with its line). Pieces whose tops are within ROW_TOLERANCE points (or 0.3 of
    # the page's median word height, for large print) of a row's first piece share that row,
    # across the page (two columns at the same height share a row).
    if not words:
        return OcrPage(page=page, text="", words=[], dpi=dpi)
    # text set vertically (a margin note turned by 90 degrees) is read by Tesseract as lines of
    # tall narrow words; like the text path's rotated characters it gets rows of its own after
    # the page's upright text, so it is never mixed into the rows it crosses
    upright: list[_Raw] = []
    turned: list[list[_Raw]] = []
    for ws in _lines(words):
        long = [w for w in ws if len(w.text) >= 2]
        if long and sum(w.height > 1.5 * w.width for w in long) * 2 > len(long):
            turned.append(sorted(ws, key=lambda w: -w.top))
        else:
            upright.extend(ws)
    words = upright
    tolerance = max(
        ROW_TOLERANCE * dpi / 72.0, 0.3 * statistics.median(w.height for w in words) if words else 0.0
    )

    typeset = _type_boxes(words)

    def level(w: _Raw) -> float:
        return typeset.get(id(w), (w.top, 0))[0] - slope * w.cx

    def size(w: _Raw) -> float:
        return typeset.get(id(w), (0, w.height))[1]

    # punctuation (a comma or a dash Tesseract reads as a word of its own, whose ink sits low or
    # in the middle of the line) never starts a piece and gives no piece its top
    pieces: list[list[_Raw]] = []
    for ws in _lines(words):
        pieces.append([ws[0]])
        anchor = ws[0]
        for w in ws[1:]:
            if (
                _inked(w)
                and _inked(anchor)
                and abs(level(w) - level(anchor)) > tolerance
                and not 0.7 <= size(w) / max(size(anchor), 1) <= 1.4
            ):
                pieces.append([w])
            else:
                pieces[-1].append(w)
            if _inked(w):
                anchor = w

    def piece_top(ws: list[_Raw]) -> float:
        return min(level(w) for w in ([w for w in ws if _inked(w)] or ws))

    rows: list[tuple[float, list[_Raw]]] = []
    for top, ws in sorted(((piece_top(ws), ws) for ws in pieces), key=lambda t: t[0]):
        if rows and top - rows[-1][0] <= tolerance:
            rows[-1][1].extend(ws)
            continue
        rows.append((top, list(ws)))
    scale = 72.0 / dpi
    parts: list[str] = []
    out: list[OcrWord] = []
    pos = 0
    ordered = [sorted(ws, key=lambda w: w.left + slope * w.cy) for _, ws in rows] + turned
    for ws in ordered:
        row_parts: list[str] = []
        for w in ws:
            if row_parts:
                pos += 1
            box = (w.left * scale, w.top * scale, (w.left + w.width) * scale, (w.top + w.height) * scale)
            out.append(OcrWord(w.text, w.conf, box, pos, pos + len(w.text)))
            row_parts.append(w.text)
            pos += len(w.text)
        parts.append(" ".join(row_parts))
        pos += 1  # the row's newline
    return OcrPage(page=page, text="\n".join(parts), words=out, dpi=dpi)


# ------------------------------------------------------------------------------------ OCR


def _profile_score(ink: Image.Image, degrees: float) -> float:
    """How sharp the row profile of ``ink`` (text bright on black) is once turned by ``degrees``:
    the sum of squared differences of neighbouring rows' mean ink. Text lines level with the rows
    give tall peaks and empty gaps; a turn smears them."""
    # nearest neighbour: no smoothing, so an unturned candidate is not favoured for its sharpness
    turned = ink.rotate(degrees, resample=Image.Resampling.NEAREST, fillcolor=0.0) if degrees else ink
    column = turned.resize((1, turned.height), Image.Resampling.BOX)
    rows = [float(v) for v in column.get_flattened_data()]  # type: ignore[arg-type]
    return sum((b - a) * (b - a) for a, b in itertools.pairwise(rows))


def estimate_skew(image: Image.Image) -> float:
    """The angle (degrees, PIL's sense: ``image.rotate(angle)`` straightens the page) of a page
    scan turned by at most SKEW_RANGE degrees, from the projection profile of its ink (the angle
    whose turn gives the sharpest row profile): half-degree steps on a copy ~SKEW_WIDTH / 2
    pixels wide, then tenths around the best on one ~SKEW_WIDTH wide (tens of milliseconds a
    page, against seconds of Tesseract). 0.0 for a page with no ink."""
    grey = image.convert("L")
    factor = max(1, round(grey.width / SKEW_WIDTH))
    small = grey.reduce(factor) if factor > 1 else grey
    extrema = small.getextrema()  # (darkest, lightest) of a one-band image
    lo, hi = int(extrema[0]), int(extrema[1])  # type: ignore[arg-type]
    if hi - lo < 40:  # no contrast: nothing printed
        return 0.0
    cut = (lo + hi) // 2
    ink = small.point(lambda v: 255 if v < cut else 0).convert("F")
    tiny = ink.reduce(2)
    coarse = [i / 2 for i in range(-2 * SKEW_RANGE, 2 * SKEW_RANGE + 1)]
    best = max(coarse, key=lambda a: _profile_score(tiny, a))
    fine = [round(best + i / 10, 1) for i in range(-4, 5)]
    return max(fine, key=lambda a: (_profile_score(ink, a), -abs(a)))


def ocr_image(
    image: Image.Image,
    *,
    page: int,
    dpi: int,
    languages: str,
    timeout: float,
    size: tuple[int, int] | None = None,
) -> OcrPage:
    """One page image read by Tesseract (TSV words with boxes and confidences), laid out.
    InputError naming the page when Tesseract fails or takes longer than ``timeout`` seconds.
    Tesseract reads it at ``dpi``, scaled to ``size`` pixels first when given (a scan at its own
    resolution, :func:`scanned_page`: straightened before it is scaled up, on fewer pixels).

    A page turned by DESKEW_DEGREES or more (measured on the image: :func:`estimate_skew`) is
    straightened before Tesseract reads it: past a degree Tesseract's own line finding copes, but
    its characters suffer. If the words Tesseract read still lean by REDO_DEGREES or more (the
    slope of its lines, :func:`_skew`: a page the profile misjudged) the page is straightened by
    that too and read again. The words' boxes are turned back onto the page as rendered, so a
    field's region is where the page shows it (:func:`_turn_back`)."""
    started = time.perf_counter()
    deadline = time.monotonic() + timeout
    target = size or image.size
    # the tesseract child inherits this process's environment (pytesseract passes none of its own)
    os.environ["OMP_THREAD_LIMIT"] = THREADS
    # handed over as an uncompressed PGM file: pytesseract would write a PNG, whose compression
    # costs about half a second a page at 300 dpi (a tenth of Tesseract's own time)
    with tempfile.TemporaryDirectory(prefix="backoffice-ocr-") as tmp:
        source = os.path.join(tmp, f"page-{page}.pgm")
        degrees = estimate_skew(image)
        if abs(degrees) < DESKEW_DEGREES:
            degrees = 0.0
        read = _scaled(_straighten(image, degrees), target)
        read.save(source, format="PPM")
        data = _tesseract(source, page=page, dpi=dpi, languages=languages, timeout=timeout)
        lean = math.degrees(math.atan(_skew(_words(data))))
        if abs(lean) >= REDO_DEGREES:
            degrees += lean
            read = _scaled(_straighten(image, degrees), target)
            read.save(source, format="PPM")
            left = deadline - time.monotonic()
            if left <= 1:
                raise InputError("OCR takes longer than its time limit; refused", page=page)
            data = _tesseract(source, page=page, dpi=dpi, languages=languages, timeout=left)
        result = layout(data, page=page, dpi=dpi, image=read)
        if degrees:
            result = _turn_back(result, degrees, read, dpi)
    result.seconds = time.perf_counter() - started
    return result


def _shear_runs(n: int, slope: float) -> tuple[list[tuple[int, int, int]], bytes]:
    """The shift of each of ``n`` rows (or columns) for a shear by ``slope`` about their middle:
    runs (first, end, whole pixels) of those shifted alike, and each one's fraction of a pixel
    more (0..255)."""
    runs: list[tuple[int, int, int]] = []
    fractions = bytearray(n)
    middle = n / 2
    i = 0
    while i < n:
        whole = math.floor(slope * (i + 0.5 - middle))
        j = i
        while j < n:
            shift = slope * (j + 0.5 - middle)
            if math.floor(shift) != whole:
                break
            fractions[j] = min(255, round(255 * (shift - whole)))
            j += 1
        runs.append((i, j, whole))
        i = j
    return runs, bytes(fractions)


def _shear(image: Image.Image, slope: float, *, rows: bool) -> Image.Image:
    """``image`` sheared by ``slope`` about its centre: its rows shifted sideways by slope times
    their height over the centre (``rows``), or its columns up or down by minus slope times their
    distance right of it. A shift is whole pixels (runs pasted) plus a fraction (a blend with the
    copy one pixel further, weighted per row or column): interpolated along one axis only."""
    width, height = image.size
    runs, fractions = _shear_runs(height if rows else width, slope)
    whole = Image.new("L", image.size, 255)
    for i, j, shift in runs:
        if rows:
            whole.paste(image.crop((0, i, width, j)), (shift, i))
        else:
            whole.paste(image.crop((i, 0, j, height)), (i, shift))
    further = Image.new("L", image.size, 255)
    if rows:
        further.paste(whole.crop((0, 0, width - 1, height)), (1, 0))
        weights = Image.frombytes("L", (1, height), fractions)
    else:
        further.paste(whole.crop((0, 0, width, height - 1)), (0, 1))
        weights = Image.frombytes("L", (width, 1), fractions)
    return Image.composite(further, whole, weights.resize(image.size, Image.Resampling.NEAREST))


def _straighten(image: Image.Image, degrees: float) -> Image.Image:
    """``image`` (greyscale) turned by ``degrees`` (PIL's sense, about its centre, same size,
    white where the page was not) as two shears, rows then columns (:func:`_shear`): each pixel
    is interpolated along one axis, not resampled in two as by a rotation, and it is memory
    copies and one blend a shear: 0.1-0.25 s for a 300-dpi A4 page where PIL's bicubic
    ``rotate`` took 0.6-1.5 s on the loaded 2-core box (bilinear 0.3-0.7 s; nearest neighbour
    0.05 s but jagged glyphs, ``Ueferant``, ``Cooibiue``; whole-pixel shears 0.1 s but a jog in
    every glyph a band boundary crosses: on a sharp page ``NW-24-1001`` read as ``24.100``). The
    shears differ from a rotation by a stretch of 1 - cos(degrees) along each axis (0.06 % at 2
    degrees, 0.3 % at 4.5: a pixel or five at a page's edge), nothing Tesseract notices; the
    words' boxes are mapped back through the shears themselves (:func:`_turn_back`)."""
    if not degrees:
        return image
    slope = math.tan(math.radians(degrees))
    grey = image.convert("L")
    return _shear(_shear(grey, slope, rows=True), -slope, rows=False)


def _turn_back(page: OcrPage, degrees: float, image: Image.Image, dpi: int) -> OcrPage:
    """The words' boxes of a page read after :func:`_straighten` turned ``image`` (as read: its
    size at ``dpi`` gives the page's centre) by ``degrees``, as boxes on the page before the turn
    (the two shears undone in reverse order)."""
    scale = 72.0 / dpi
    cx, cy = image.width / 2 * scale, image.height / 2 * scale
    slope = math.tan(math.radians(degrees))
    words = []
    for w in page.words:
        x0, top, x1, bottom = w.box
        xs, ys = [], []
        for x, y in ((x0, top), (x1, top), (x0, bottom), (x1, bottom)):
            before_columns = y + slope * (x - cx)
            ys.append(before_columns)
            xs.append(x - slope * (before_columns - cy))
        words.append(replace(w, box=(min(xs), min(ys), max(xs), max(ys))))
    page.words = words
    return page


def _tesseract(source: str, *, page: int, dpi: int, languages: str, timeout: float) -> dict[str, list[Any]]:
    try:
        return pytesseract.image_to_data(
            source,
            lang=languages,
            config=f"{CONFIG} --dpi {dpi}",
            output_type=pytesseract.Output.DICT,
            timeout=max(0.001, timeout),  # seconds, fractions too (pytesseract hands it to communicate())
        )
    except pytesseract.TesseractNotFoundError:
        raise InputError(f"Tesseract is not installed: run `{APT_COMMAND}`", page=page) from None
    except pytesseract.TesseractError as exc:
        message = str(exc.message or exc.status)
        missing = _missing_language(message, languages, page)
        if missing is not None:
            raise missing from None
        raise InputError(f"OCR failed: {message}", page=page) from None
    except RuntimeError:  # pytesseract's timeout (TesseractError, handled above, is one too)
        raise InputError(
            f"OCR takes longer than {max(0.001, timeout):g} s (limit); refused", page=page
        ) from None


def ocr_pages(
    pdf: Any, numbers: Iterable[int], *, dpi: int, languages: str, deadline: float
) -> dict[int, OcrPage]:
    """OCR of the 1-based pages ``numbers`` of an open PDFium document, each within what is left
    of ``deadline`` (a ``time.monotonic()`` instant). InputError naming the page on failure."""
    require_tesseract(languages)
    out: dict[int, OcrPage] = {}
    for number in numbers:
        page = pdf[number - 1]
        try:
            try:
                used = _fit_dpi(page, dpi)
                scanned = scanned_page(page, used)
                image = scanned[0] if scanned is not None else _render(page, used)
                size = _page_pixels(page, used)
            except InputError as exc:
                exc.page = number
                raise
            except Exception as exc:  # a corrupt image stream PDFium cannot decode
                raise InputError(
                    f"cannot render page image for OCR: {type(exc).__name__}: {exc}", page=number
                ) from None
        finally:
            page.close()
        left = deadline - time.monotonic()
        if left <= 1:
            raise InputError("OCR takes longer than its time limit; refused", page=number)
        out[number] = ocr_image(image, page=number, dpi=used, languages=languages, timeout=left, size=size)
        image.close()
    return out


def words_in(page: OcrPage, start: int, end: int) -> list[OcrWord]:
    """The words of ``page`` that overlap the character range [start, end) of its text."""
    return [w for w in page.words if w.start < end and w.end > start]


def union_box(words: Sequence[OcrWord]) -> tuple[float, float, float, float]:
    """The smallest box holding every one of ``words``."""
    return (
        min(w.box[0] for w in words),
        min(w.box[1] for w in words),
        max(w.box[2] for w in words),
        max(w.box[3] for w in words),
    )


# ------------------------------------------------------------------------------------ CLI


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m connectors.ocr", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("install", help="install Tesseract and its eng/deu/fra/nld data when missing")
    sub.add_parser("check", help="print Tesseract's version and languages")
    args = parser.parse_args(argv)
    try:
        if args.cmd == "install":
            install()
        else:
            version = tesseract_version()
            if version is None:
                raise ConfigError(f"Tesseract is not installed: run `{APT_COMMAND}`")
            print(f"ocr: Tesseract {version}, languages {'+'.join(sorted(_languages()))}")
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
