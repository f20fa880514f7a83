"""Speed of invoice extraction on the real text PDFs, against bare pypdfium2 in the same run.

    .venv/bin/python bench/extract_bench.py [--realdata ../shared/realdata] [--json] [--quick]

Files: every PDF under ``mustangproject`` and ``invoice2data/tests/compare`` of the real data
(../shared/realdata/SOURCES.txt) that has a text layer. Each pass reads every file once:

- baseline: bare pypdfium2, per page the text (``get_text_range``) and every character's box
  (``get_charbox``), nothing else;
- ``extract_invoices``: the extraction of every file (document checks, embedded files, PDFium
  characters laid out as pdfplumber's ``extract_text`` lays them out, the XML or the templates
  and the layout reader, the cross-check; a PDF with an embedded e-invoice is cross-checked
  against PDFium's own page text, no character boxes or layout, laid out only for a value not
  found there) through the document sandbox as one batch inside a
  ``connectors.pdf_sandbox.session()``: one reused worker reads the files back to back, every
  limit still per document (the ratio; ``cpu_ratio``: the same in CPU seconds, the worker's
  and this process's against the baseline's, which a loaded machine moves much less);
- session per call: ``extract_invoice`` per file in the same session, one round trip each (what
  ``bots/invoice_matching`` calls today, ``session_per_call_ratio``);
- worker per document: ``extract_invoice`` outside a session, a fresh forked worker each
  (``worker_per_document_ratio``);
- ``read_text``: the text layer and embedded files alone, in this process;
- in process: the same extraction without the sandbox worker (``connectors.pdf._extract_invoice``);
- the text reader: ``parse_text`` (templates and ``connectors/invoice_templates/layout.py``) on
  the pages of the files read from their text (``text_reader_s``); ``without_text_reader_ratio``
  is the batch less that time: everything but the reader.

The ratio is the best pass of each (``--quick``: 2 passes, full: 5), target <= 2x. Full size also
times pdfplumber ``extract_text`` once, the reader this replaced (a figure, not a target).

Measured (``--quick``, 40 files, 2 cores shared with other sessions at load 15-19; three runs
each, before and after alternating, median first, range in brackets). "Before" is commit
778eca1 with today's ``layout.py`` copied in, so the rows differ only by this change:

| figure | before | after |
|---|---|---|
| ratio (before: session per call; after: batch) | 3.67x [3.31-3.95] | 2.57x [2.30-2.65] |
| session per call ratio | 3.67x | 2.48x [2.48-2.53] |
| baseline, bare pypdfium2 | 0.96 s [0.84-1.17] | 0.84 s [0.69-1.30] |
| extraction (headline) | 3.52 s [2.77-4.60] | 2.16 s [1.59-3.46] |
| cpu_ratio (worker + parent CPU / baseline CPU) | (not measured) | 2.41x [2.33-2.51] |
| ``read_text`` ratio | 2.03x [1.88-3.08] | 1.22x [1.04-1.23] |
| in process ratio | 2.81x [2.39-3.91] | 1.95x [1.66-2.14] |
| text reader (20 files), s | | 0.53 s [0.50-0.88] |
| everything but the text reader | | 1.93x [1.57-1.98] |

The same three-and-three on a quiet moment of the machine (load 0.4-2), median [range]:

| figure | before | after |
|---|---|---|
| ratio (before: session per call; after: batch) | 3.87x [3.85-3.89] | 2.44x [2.13-2.51] |
| session per call ratio | 3.87x | 2.53x [2.25-3.15] |
| baseline / extraction, s | 0.168 / 0.646 | 0.167 / 0.417 |
| cpu_ratio | | 2.54x [2.51-2.58] |
| ``read_text`` ratio | 2.16x [1.97-2.27] | 1.28x [1.13-1.30] |
| in process ratio | 3.16x [3.09-3.32] | 2.20x [2.02-2.48] |
| text reader (20 files) | | 0.14 s = 0.84x the baseline |
| everything but the text reader | | 1.60x [1.45-1.69] |

Full size (``--json``, 5 passes, load ~2): ratio 2.61x (0.426 s against 0.163 s), cpu_ratio 2.56x,
session per call 2.67x, ``read_text`` 1.34x, in process 2.56x, text reader 0.146 s, everything
but the text reader 1.72x; pdfplumber ``extract_text`` alone on the same files 3.28 s.

CPU seconds of ``read_text`` on the 40 files (``time.process_time``, best of 7, less moved by the
load): 0.39 s before, 0.25 s after, bare baseline 0.16 s (2.4x -> 1.5x).

What changed: one PDFium pass per document (pages, embedded files through PDFium's attachment
API, which blank pages show an image: the document was opened twice and pdfminer parsed it a
third time); a page's character codes in one ``FPDFText_GetText`` call (two PDFium calls a
character remain: its text object and its box), font spans per font, boxes struct-unpacked;
the line layout in one stable sort per line group; the inflation pre-scan skipped for files too
small to inflate past the budget (38 of the 40); the batch (``extract_invoices``). The batch saves
the parent-worker round trip per document (0.1 ms when both are scheduled, 1-20 ms measured at
load 15), which these runs cannot tell apart from the pass-to-pass noise.

Round of 2 December 2026, afternoon (issue 15 row "invoice extraction, text PDFs"). What changed:
the 20 files with an embedded e-invoice no longer get character boxes, the layout or the image
scan: their cross-check reads PDFium's own page text (one ``FPDFText_GetText`` a page) and lays a
page out only for a value not found there (1 of the 20: 103767-Invoice, whose IBAN wraps onto a
second line of a table cell; the laid-out text interleaved the next column, so the old reading
reported a false INV-XML-TEXT error: the one output that changed, ``read_text`` is the same on
all 88 real and fixture PDFs); the three per-character PDFium calls without declared argument
types (ctypes' ``from_param`` conversions: 0.24 -> 0.15 us a call, the character loop 0.115 ->
0.095 s on the 40 files); the pre-scan inflates only the streams that could matter (2 of the 40
files are big enough to be scanned: 17.5 -> 15.5 ms). Tried and dropped (not faster in
CPython 3.11): boxes into one array through ``map``, the layout sort as two key-less sorts.

Measured with the same ``layout.py`` (the reader another helper is changing) on both sides; the
machine at load 19-23 (2 cores, ~7 sessions), so the wall ratios move +-30 % run to run:

| figure | before (b7c7f7e) | after |
|---|---|---|
| in-process CPU, same process, interleaved, median of 3 (best of 5 each) | 0.548 s = 2.50x | 0.446 s = 2.04x |
| batch CPU in a session, worker + parent, same process, median of 3 | 0.538 s = 2.50x | 0.465 s = 2.16x |
| bench ``--quick``, median of 3, ``ratio`` (wall) | 2.08x [1.26-2.44] | 2.23x [2.04-3.07] |
| bench ``--quick``, median of 3, ``cpu_ratio`` | 2.24x [2.16-2.30] | 2.25x [2.07-2.41] |
| bench full size (``--json``, 5 passes), ``ratio`` / ``cpu_ratio`` | 2.44x / 2.23x | 2.26x / 2.17x |
| full size ``without_text_reader_ratio`` (the batch less the reader) | 1.64x | 1.25x |
| text reader alone (full size), against the baseline | 0.57 s = 0.79x | 0.64 s = 1.01x |

The bench's own CPU figure did not separate the two at this load (its quick passes are 2, the
first of them cold for 39 files); the controlled rows above (both versions in one process,
alternating, the baseline measured between them) did, by 0.34-0.46x of the baseline. The two
full-size runs were 10 minutes apart and ``generic.py`` (the reader's) changed in between, which
is why their reader rows differ.

Target <= 2x not met: the text reader alone (templates and ``layout.py``, another module) is now
0.8-1.0x the baseline (0.6-0.85x this morning); everything else is 1.25x at full size
(``without_text_reader_ratio``; 1.34-2.28x in the quick runs at this load). In-process CPU on
all 40 files, before the XML files stopped being laid out: PDFium's page and text-page loads
0.5x (the baseline pays them too), the character loop 0.65x, the layout 0.28x; now only the 20
text-read files pay the last two. Then ``parse_xml`` and the cross-check of the 20 XML files and
the worker's costs (pre-scan of 2 files, results pickled: ~0.1x). Below 2x needs the reader under ~0.75x again, or
the per-character work out of Python (no bulk box API in PDFium; a compiled helper is not in
this project's build).

Round of 2 December 2026, late afternoon (issue 15 row "invoice extraction, text PDFs"): the
layout reader (``connectors/invoice_templates/layout.py`` and ``generic.py``) made faster with
byte-identical outputs: ``read_invoice``'s whole result (``repr`` of every field, confidence,
span and line, with ``dayfirst`` True and False, and ``candidates()``) compared before and after
every change on 440 documents (the 40 real text PDFs and 5 x 80 generated by
``bench/invoice_layouts.py``, held-out sets 0-4, seed 7): no difference. What changed: a case-
insensitive alternation of labels is searched behind a one-character look-ahead of the
characters its matches can start with (``generic._guarded``, built from the parsed pattern: same
matches, Python's ``re`` builds no such set itself for ``re.I`` alternations; the right-of-label
fields' per-line filter was 30 % of the reader); a document's table-row tokens (date test and
number) read once (per-document memo, 5004 ``parse_number`` calls for 1482 distinct tokens on
the 40 files), name cells split once per document, a line's street test once per address
window; patterns run per line compiled once; the VAT-id scan reads a line's labels only when it
holds a country prefix; the currency guess skips ISO codes not in the text.

Measured at load 1.3-2.3 (2 cores, the CI run of the whole suite on the same machine):

| figure | before (1ffbfdc) | after |
|---|---|---|
| ``read_invoice`` CPU, 40 real text PDFs, both versions in one process, interleaved, median of 7 (three such runs) | 0.305-0.311 s | 0.197-0.203 s = 0.64-0.65x |
| bench full size (``--json``, 5 passes), ``ratio``, median of 3 (after: of 4), alternating | 2.21x [2.21-2.24] | 1.97x [1.94-1.99] |
| same, ``cpu_ratio`` | 2.31x [2.14-2.36] | 1.99x [1.97-2.00] |
| same, in process ratio | 2.05x [2.03-2.15] | 1.81x [1.62-1.83] |
| same, session per call ratio | 2.29x [2.16-2.29] | 2.06x [2.00-2.12] |
| text reader (20 text-read files), s / against the baseline | 0.159 s = 0.84x | 0.102 s = 0.57x |
| ``without_text_reader_ratio`` (not this change) | 1.38x [1.29-1.42] | 1.40x [1.39-1.44] |

("Before" is today's tree with the two reader modules as they were at 1ffbfdc, run from a copy,
so the rows differ only by this change.) Target <= 2x met at full size at this load, by a small
margin: ``cpu_ratio`` 1.97-2.00x; what is left is the part outside the reader (~1.4x here).

Round of 2 December 2026, evening (the PDFium pass outside the reader, ``read_text`` pages and
``extract_invoice`` identical on all 88 real and fixture PDFs): in-process CPU on the 40 files,
old and new module in one process, interleaved, median of 7 (two runs, load 0.7-1.2): 1.745x ->
1.635x and 1.772x -> 1.668x the baseline; full size (``--json``, one run, load 0.7-0.9): ratio
1.87x, ``cpu_ratio`` 1.90x, in process 1.67x, ``read_text`` 1.16x, reader 0.101 s = 0.56x,
``without_text_reader_ratio`` 1.31x (was 1.40x). What changed: lines dealt into per-line
buckets and each sorted with an ``itemgetter`` key (was one sort and a ``groupby`` by lambdas),
``_words`` without the per-character orientation branch, the page-object scan for inkless
spaces through untyped calls, text-object handles as ``c_size_t``.
"""

from __future__ import annotations

import argparse
import os
import resource
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
from connectors.einvoice import pick_invoice_attachment  # noqa: E402
from connectors.invoice_templates import load_templates, parse_text  # noqa: E402
from connectors.pdf import extract_invoice, extract_invoices, read_text  # noqa: E402
from connectors.pdf_sandbox import bounded, session  # noqa: E402

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


def worker_cpu(_path: Path) -> tuple[int, float]:
    """The process running this (the session's worker) and the CPU seconds it has used."""
    use = resource.getrusage(resource.RUSAGE_SELF)
    return os.getpid(), use.ru_utime + use.ru_stime


def best_batch(files: list[Path], passes: int) -> tuple[float, float]:
    """Best wall seconds and best CPU seconds (the worker's and this process's) of
    ``extract_invoices(files)`` in the current session. A pass during which the session replaced
    its worker (every MAX_CALLS documents) gives no CPU figure: the new worker's count restarts."""
    best = best_cpu = float("inf")
    for _ in range(passes):
        pid_before, worker_before = bounded(worker_cpu, files[0])
        cpu = time.process_time()
        start = time.perf_counter()
        extract_invoices(files)
        best = min(best, time.perf_counter() - start)
        cpu = time.process_time() - cpu
        pid_after, worker_after = bounded(worker_cpu, files[0])
        if pid_after == pid_before:
            best_cpu = min(best_cpu, cpu + worker_after - worker_before)
    return best, best_cpu


def best_cpu_pass(fn: Callable[[Path], object], files: list[Path], passes: int) -> float:
    best = float("inf")
    for _ in range(passes):
        start = time.process_time()
        for f in files:
            fn(f)
        best = min(best, time.process_time() - start)
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
    base_cpu = best_cpu_pass(bare_pdfium, files, passes)
    with session():  # one worker for the batch, as the bot reads its invoice directory
        extract_invoices(files[:1])
        extract, extract_cpu = best_batch(files, passes)
        per_call = best_pass(extract_invoice, files, passes)
    per_document = best_pass(extract_invoice, files, passes)
    text = best_pass(read_text, files, passes)
    # the body extract_invoice runs in the sandbox worker, if it routes through one
    inner = getattr(pdf_module, "_extract_invoice", extract_invoice)
    in_process = best_pass(inner, files, passes)
    # the text reader (templates and the layout reader) on the pages of the files read from text
    templates = load_templates()
    pages = {f: read_text(f) for f in files}
    by_text = [f for f in files if pick_invoice_attachment(pages[f].attachments) is None]
    reader = best_pass(lambda f: parse_text(pages[f].pages, templates), by_text, passes)
    figures: dict[str, object] = {
        "files": len(files),
        "passes": passes,
        "baseline_s": round(base, 3),
        "extract_invoices_s": round(extract, 3),
        "baseline_cpu_s": round(base_cpu, 3),
        "extract_invoices_cpu_s": round(extract_cpu, 3),
        "cpu_ratio": round(extract_cpu / base_cpu, 2),
        "session_per_call_s": round(per_call, 3),
        "session_per_call_ratio": round(per_call / base, 2),
        "worker_per_document_s": round(per_document, 3),
        "worker_per_document_ratio": round(per_document / base, 2),
        "read_text_s": round(text, 3),
        "read_text_ratio": round(text / base, 2),
        "in_process_extract_s": round(in_process, 3),
        "in_process_ratio": round(in_process / base, 2),
        "text_files": len(by_text),
        "text_reader_s": round(reader, 3),
        "without_text_reader_ratio": round((extract - reader) / base, 2),
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
