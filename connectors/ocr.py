"""OCR of image-only PDF pages with Tesseract 5 (through pytesseract), as laid-out page text.

``ocr_pages(pdf, numbers)`` renders each page with PDFium (greyscale, ``ocr_dpi``) and reads it
with ``tesseract ... tsv``: every word with its box and confidence. The words are laid out as the
text path lays out a text layer (:func:`connectors.pdf._page_text`): one row per visual line
across the whole page (words of two columns at the same height share a row), left to right, one
space between words. A slightly rotated scan is straightened on the word boxes first (the median
slope of Tesseract's own lines), so a row is not split by the skew.

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
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

# pytesseract and PIL at the top, not where first used: the PDF worker's forkserver preloads this
# module (through connectors.pdf), so each worker starts with them imported (0.9 s a document else)
import pytesseract
from PIL import Image

from backoffice.errors import ConfigError, InputError

__all__ = [
    "APT_COMMAND",
    "APT_PACKAGES",
    "CONFIG",
    "MAX_PIXELS",
    "THREADS",
    "OcrPage",
    "OcrWord",
    "crop_png",
    "install",
    "layout",
    "main",
    "ocr_image",
    "ocr_pages",
    "render_page",
    "require_tesseract",
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
    MAX_PIXELS) and the resolution used. InputError when the page is too large even at MIN_DPI."""
    width, height = page.get_size()
    area = max(width, 1.0) * max(height, 1.0) / (72.0 * 72.0)  # square inches
    fit = int((MAX_PIXELS / area) ** 0.5)
    used = min(dpi, fit)
    if used < MIN_DPI:
        raise InputError(
            f"page is {width / 72:.0f} x {height / 72:.0f} inches: too large to OCR "
            f"(limit {MAX_PIXELS // 1_000_000} million pixels at {MIN_DPI} dpi)"
        )
    bitmap = page.render(scale=used / 72.0, grayscale=True)
    return bitmap.to_pil(), used


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


def _words(data: dict[str, list[Any]]) -> list[_Raw]:
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
    return out


def _lines(words: Sequence[_Raw]) -> list[list[_Raw]]:
    """Tesseract's lines, each left to right."""
    lines: dict[tuple[int, int, int], list[_Raw]] = {}
    for w in words:
        lines.setdefault(w.line, []).append(w)
    return [sorted(ws, key=lambda w: w.left) for ws in lines.values()]


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


def layout(data: dict[str, list[Any]], *, page: int, dpi: int) -> OcrPage:
    """Tesseract's TSV (``image_to_data`` as a dict) as laid-out page text with its words."""
    words = _words(data)
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
    tolerance = max(ROW_TOLERANCE * dpi / 72.0, 0.3 * statistics.median(w.height for w in words))

    def level(w: _Raw) -> float:
        return w.top - slope * w.cx

    pieces: list[list[_Raw]] = []
    for ws in _lines(words):
        pieces.append([ws[0]])
        for prev, w in itertools.pairwise(ws):
            if abs(level(w) - level(prev)) > tolerance and not 0.7 <= w.height / max(prev.height, 1) <= 1.4:
                pieces.append([w])
            else:
                pieces[-1].append(w)
    rows: list[tuple[float, list[_Raw]]] = []
    for top, ws in sorted(((min(level(w) for w in ws), ws) for ws in pieces), key=lambda t: t[0]):
        if rows and top - rows[-1][0] <= tolerance:
            rows[-1][1].extend(ws)
            continue
        rows.append((top, list(ws)))
    scale = 72.0 / dpi
    parts: list[str] = []
    out: list[OcrWord] = []
    pos = 0
    for _, ws in rows:
        row_parts: list[str] = []
        for w in sorted(ws, key=lambda w: w.left + slope * w.cy):
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


def ocr_image(image: Image.Image, *, page: int, dpi: int, languages: str, timeout: float) -> OcrPage:
    """One page image read by Tesseract (TSV words with boxes and confidences), laid out.
    InputError naming the page when Tesseract fails or takes longer than ``timeout`` seconds."""
    started = time.perf_counter()
    # the tesseract child inherits this process's environment (pytesseract passes none of its own)
    os.environ["OMP_THREAD_LIMIT"] = THREADS
    # handed over as an uncompressed PGM file: pytesseract would write a PNG, whose compression
    # costs about half a second a page at 300 dpi (a tenth of Tesseract's own time)
    with tempfile.TemporaryDirectory(prefix="backoffice-ocr-") as tmp:
        source = os.path.join(tmp, f"page-{page}.pgm")
        image.save(source, format="PPM")
        return _read(source, page=page, dpi=dpi, languages=languages, timeout=timeout, started=started)


def _read(source: str, *, page: int, dpi: int, languages: str, timeout: float, started: float) -> OcrPage:
    try:
        data = pytesseract.image_to_data(
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
    result = layout(data, page=page, dpi=dpi)
    result.seconds = time.perf_counter() - started
    return result


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
                image, used = render_page(page, dpi)
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
        out[number] = ocr_image(image, page=number, dpi=used, languages=languages, timeout=left)
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
