"""Speed of invoice extraction on the real text PDFs, against bare pypdfium2 in the same run.

    .venv/bin/python bench/extract_bench.py [--realdata ../shared/realdata] [--json] [--quick]

Files: every PDF under ``mustangproject`` and ``invoice2data/tests/compare`` of the real data
(../shared/realdata/SOURCES.txt) that has a text layer. Each pass reads every file once:

- baseline: bare pypdfium2, per page the text (``get_text_range``) and every character's box
  (``get_charbox``), nothing else;
- ``extract_invoice``: what the bot calls per invoice (document checks, embedded files,
  PDFium characters laid out as pdfplumber's ``extract_text`` lays them out, the XML or the
  templates and generic reader, the cross-check), through the document sandbox when
  ``connectors.pdf`` routes it there;
- ``read_text``: the text layer and embedded files alone, in this process;
- in process: the same extraction without the sandbox worker (``connectors.pdf._extract_invoice``
  when the module has one), to show what the worker process per document costs.

The ratio is the best pass of each (``--quick``: 2 passes, full: 5), target <= 2x. Full size also
times pdfplumber ``extract_text`` once, the reader this replaced (a figure, not a target).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import pypdfium2 as pdfium  # noqa: E402
from _report import Results, add_common_args  # noqa: E402

import connectors.pdf as pdf_module  # noqa: E402
from backoffice.errors import InputError  # noqa: E402
from connectors.pdf import extract_invoice, read_text  # noqa: E402

TARGET = 2.0


def text_pdfs(realdata: Path) -> list[Path]:
    found = sorted((realdata / "mustangproject").rglob("*.pdf"))
    found += sorted((realdata / "invoice2data" / "tests" / "compare").glob("*.pdf"))
    usable = []
    for pdf in found:
        try:
            if read_text(pdf).has_text:
                usable.append(pdf)
        except InputError:
            continue
    return usable


def bare_pdfium(path: Path) -> int:
    doc = pdfium.PdfDocument(str(path))
    n = 0
    try:
        for page in doc:
            textpage = page.get_textpage()
            n += len(textpage.get_text_range())
            for i in range(textpage.count_chars()):
                textpage.get_charbox(i)
            textpage.close()
            page.close()
    finally:
        doc.close()
    return n


def best_pass(fn: Callable[[Path], object], files: list[Path], passes: int) -> float:
    best = float("inf")
    for _ in range(passes):
        start = time.perf_counter()
        for f in files:
            fn(f)
        best = min(best, time.perf_counter() - start)
    return best


def plumber_text(path: Path) -> None:
    import pdfplumber

    with pdfplumber.open(path) as pdf:
        for page in pdf.pages:
            page.extract_text()


def main() -> int:
    ap = add_common_args(argparse.ArgumentParser(description=__doc__))
    ap.add_argument("--realdata", type=Path, default=ROOT.parent / "shared" / "realdata")
    args = ap.parse_args()
    if not args.realdata.exists():
        print(f"no real data at {args.realdata}", file=sys.stderr)
        return 1
    files = text_pdfs(args.realdata)
    passes = 2 if args.quick else 5
    extract_invoice(files[0])  # warm: templates loaded, sandbox worker started
    base = best_pass(bare_pdfium, files, passes)
    extract = best_pass(extract_invoice, files, passes)
    text = best_pass(read_text, files, passes)
    # the body extract_invoice runs in the sandbox worker, if it routes through one
    inner = getattr(pdf_module, "_extract_invoice", extract_invoice)
    in_process = best_pass(inner, files, passes)
    figures: dict[str, object] = {
        "files": len(files),
        "passes": passes,
        "baseline_s": round(base, 3),
        "extract_invoice_s": round(extract, 3),
        "read_text_s": round(text, 3),
        "read_text_ratio": round(text / base, 2),
        "in_process_extract_s": round(in_process, 3),
        "in_process_ratio": round(in_process / base, 2),
    }
    if not args.quick:
        figures["pdfplumber_extract_text_s"] = round(best_pass(plumber_text, files, 1), 3)
    results = Results("extract", json_=args.json)
    results.add(
        "invoice extraction, real text PDFs vs bare pypdfium2 text + char boxes",
        ratio=extract / base,
        target=TARGET,
        better="lower",
        **figures,
    )
    results.done()
    if not args.json:
        print(", ".join(f"{k}={v}" for k, v in figures.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
