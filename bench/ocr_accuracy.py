"""Header-field accuracy of invoice extraction on scans: real invoice PDFs rendered to 200-dpi
greyscale JPEG scans with a slight rotation, blur and grain (``fixtures.scans``), read with OCR.

    .venv/bin/python bench/ocr_accuracy.py [--realdata ../shared/realdata] [--json] [--quick] [--details]

Sources, scored as ``bench/extract_accuracy.py`` scores the text path (same ground truth, same
comparison):

- ``mustangproject``: the Factur-X / ZUGFeRD PDFs that have a text layer, against their embedded
  XML (the scans keep no XML, no text layer);
- ``invoice2data``: the PDFs of invoice2data's ``tests/compare`` against their expected JSON;
- ``fixtures``: the bundled invoices (``fixtures/invoices/pdf``), against what the text path reads
  from the original PDF (our own layouts: this measures what the OCR loses, nothing else).

For each source three figures: ``ocr_templates`` (the scan through the production path, vendor
templates loaded, as the invoice bot reads it), ``ocr_generic`` (no templates: a vendor never
seen) and ``vs_text`` (of the header fields the text layer gets right, the share the scan gets
right too: the OCR's own loss, independent of the reader). The ``ocr_templates`` result also
counts the INV-LOW-CONFIDENCE flags (default threshold) on right fields (needless checks) and on
wrong fields read (errors caught before posting). ``--json`` prints one
``bench/_report.py`` result per source and figure (``ratio`` = share right, ``target`` 0.90 for
the header fields of ``ocr_templates``, the issue-12 target). ``--quick`` takes at most 2 PDFs per
source; one scan page costs ~3-6 s of Tesseract on a loaded 2-core box, so the whole set takes
several minutes.

``--seed S`` moves the degradation (the n-th PDF's scan gets seed S+n: the angle's sign and the
grain, which ``fixtures.scans.scan_pdf`` seeds through the C library's ``srand``: before, it
depended on how many scans the process had made), ``--angle`` and ``--blur`` make it stronger.

Measured 3 Dec 2026, 19:04-20:05 UTC (all 30 real PDFs, ``--no-fixtures``, 296 header fields; 2
cores at load 3-11): the same scratch harness (``_extract_invoice`` with OCR in-process, this
bench's cases, scans and scoring, Tesseract's TSV cached by the bytes of the image it read), the
reader of the working tree at 19:04 on both sides. Before = ``connectors/ocr.py`` of 286cbff,
after = 72c24b9: a turned page straightened by two shears interpolated along one axis each
instead of a bicubic rotation; a page that is one scanned image taken as stored, straightened on
its own (200-dpi) pixels and only then scaled to 300 dpi (bilinear), instead of rendered by
PDFium at 300 dpi and turned there (one resampling of the glyphs less); IBAN check digits read as
look-alike letters (``NLSOINGB...``) repaired when that makes a valid IBAN.

| scans | before: right | wrong (flagged / silent) | after: right | wrong (flagged / silent) |
|---|---|---|---|---|
| seed 0, 0.8 deg, blur 0.7 | 274/296 = 92.6 % | 13 (3 / 10) | 274/296 = 92.6 % | 13 (3 / 10) |
| seed 100, 0.8 deg, blur 0.7 | 268/296 = 90.5 % | 15 (4 / 11) | 270/296 = 91.2 % | 13 (3 / 10) |
| seed 0, 2 deg, blur 1.0 | 254/296 = 85.8 % | 19 (8 / 11) | 263/296 = 88.9 % | 20 (10 / 10) |
| seed 100, 2 deg, blur 1.0 | 258/296 = 87.2 % | 15 (6 / 9) | 260/296 = 87.8 % | 22 (12 / 10) |

(The "before" figures are 1-2 fields above those of the morning: the reader changed meanwhile.)
Why 2 degrees lost more than 0.8: not the angle estimate (estimate_skew gives 2.0 +- 0.1 on
every 2-degree scan of the set) but the glyphs: the page went through three resamplings (the
scan's own rotation, PDFium's 200 -> 300 dpi, the bicubic straightening) on top of the stronger
blur, and Tesseract's page segmentation then dropped whole blocks (ZTESTZUGFERD's totals block:
6 fields; AWS's and QualityHosting's totals; coolblue's number and IBAN). After, at seed 0, 16
fields were gained and 7 lost (4 of them flagged INV-LOW-CONFIDENCE: ``Ueferant``, a seller name
read from ZTESTZUGFERD's letterhead); at seed 100 12 gained and 10 lost (7 flagged), so the wrong
values went up there but most are flagged. 2 degrees with blur 1.0 is
still below the 90 % target on both seeds (the 0.8-degree scans meet it on both now). Whole-pixel
shears (no interpolation at all, 0.1 s) were tried and dropped: a one-pixel jog in every glyph a
band boundary crosses, and on a sharp (unblurred) page ``NW-24-1001`` was read as ``24.100``.

Silent wrong values (goal: flag them by OCR confidence): of the 10 left on each row, 9 are the
page's, not the OCR's (MustangBeispiel prints 963,12 where its XML says 963.11: 3 fields;
valid/invalidXRechnung print RE-20200620/508 and 2020 dates: 6 fields): the text layer reads the
same, so no OCR confidence can flag them. The tenth is SammyMaystone's ``invoice_number_1`` read
as ``# invoice number 1`` (the underscores gone in the blur; the ``1`` has confidence 0.82-0.96),
or at seed 100 / 0.8 degrees validAvoir's tax total (-241.95 for -14.99, field confidence 0.6
but no OCR span, so not flagged: ``connectors/pdf.py`` flags only fields with OCR words).
Tesseract's word confidence (LSTM) is already the weakest character's, which is what the fields
take (``connectors.pdf._ocr_confidence``); per-character confidences would not have flagged
these. The digit misread of before (coolblue2's ``992268600``, 0.91) is read right after.

Measured 3 Dec 2026, 06:15-07:30 UTC (all 30 real PDFs, ``--no-fixtures``, 296 header fields;
2 cores at load 4-9): a scratch harness that runs ``_extract_invoice`` with OCR in-process (no PDF
workers; otherwise this bench's ``run``, cases, scoring and scans) with Tesseract's TSV cached by
the bytes of the image it read, so both sides of a row read the very same Tesseract output; the
reader frozen at 1d8e059 on both sides (``connectors/invoice_templates`` changed in the working
tree meanwhile). Before = ``connectors/ocr.py`` of cfc66eb (the page straightened from 1 degree,
3ef6b0b), after = ae18659 (a word of x-height letters placed by the type of its size). "Wrong"
= a value read that is not the truth's, "flagged" = of those, with INV-LOW-CONFIDENCE; the rest
of the misses are fields not read at all.

| scans | before: right | wrong (flagged / silent) | after: right | wrong (flagged / silent) |
|---|---|---|---|---|
| seed 0, 0.8 deg, blur 0.7 | 271/296 = 91.6 % | 14 (4 / 10) | 272/296 = 91.9 % | 13 (3 / 10) |
| seed 100, 0.8 deg, blur 0.7 | 265/296 = 89.5 % | 16 (5 / 11) | 266/296 = 89.9 % | 15 (4 / 11) |
| seed 0, 2 deg, blur 1.0 | 251/296 = 84.8 % | 19 (8 / 11) | 252/296 = 85.1 % | 18 (7 / 11) |
| seed 100, 2 deg, blur 1.0 | 255/296 = 86.1 % | 16 (7 / 9) | 256/296 = 86.5 % | 15 (6 / 9) |

The field gained is the same on all four (zugferd_2p1's issue date: ``vom`` cut off its line, so
the date after it went to a row of its own); no field was lost; the one flagged wrong field less
is that date. Nine of the silent wrong values are the page's, not the OCR's: MustangBeispiel
prints 963,12 where its XML says 963.11 (3 fields), and valid/invalidXRechnung print
RE-20200620/508 and its 2020 dates where the XML has 2019 (6 fields); the text path reads them the
same. Silent OCR errors left: ``invoice_number_1`` read as ``invoice number 1`` (underscores lost
in the blur; the ``1`` has confidence 0.82-0.94), at 2 degrees coolblue2's ``992288600`` read as
``992268600`` (confidence 0.91), and a credit note's tax total derived from a misread net total
(no span, so no OCR confidence). Misread names (``FACTU U R. Coolblue B.V.``, ``cronus``,
``Bei Spiel GmbH ee Ecke 12``) are flagged (0.46-0.66). Most of the loss at 2 degrees is fields
not read at all (25-26 against 11-15), chiefly two pages: ZTESTZUGFERD (its totals block and the
name beside a label of another size) and Facture_F20180027 (its totals row joined with the
smaller text beside it). Below 90 % on seed 100 at the default scan, and 85-86 % at 2 degrees:
the issue-12 target is not met on all 30 PDFs.

Tried, not kept: rotating the page with nearest-neighbour resampling when straightening it (14x
faster than bicubic, 0.05 s against 0.6 s a page): seed 0 at 2 degrees 252/296 either way, but
with more character errors (``Ueferant``, ``Cooibiue``: 25 wrong values against 18), so no.
Bilinear resampling (0.28 s a page): at 2 degrees seed 0 258/296 (+6) but seed 100 254/296 (-2),
so not kept either (``ocr_bench.py --angle 2`` with it: 1.40 at load 9, still above 1.3).

Measured 2 Dec 2026 (``--limit 5``: 5 mustangproject + 5 invoice2data PDFs, 87 header fields;
the reader of the working tree at 14:27 UTC, the same on both sides; 2 cores at load 12-20),
header fields right, ``ocr_templates``, real files together:

| scans | before (``connectors/ocr.py`` of b7c7f7e) | after (words cleaned, ``_clean``) |
|---|---|---|
| seed 0 (the default) | 79/87 = 90.8 % | 81/87 = 93.1 % |
| seed 100 | 79/87 = 90.8 % | 81/87 = 93.1 % |
| seed 200 (*) | 77/87 = 88.5 % | 81/87 = 93.1 % |
| seed 0, 2.0 degrees, blur 1.0 | 67/87 = 77.0 % (*) | 69/87 = 79.3 % (*); 76/87 = 87.4 % with the page straightened and read again (``REDO_DEGREES``, 5d23cd3; INV-LOW-CONFIDENCE on 2 of the 6 wrong fields read) |
| all 30 real PDFs, seed 0 (*) | 262/296 = 88.5 % | 271/296 = 91.6 % |
| all 30 real PDFs, seed 100 (*) | 250/296 = 84.5 % | 265/296 = 89.5 % |

(*) measured with a scratch harness that runs the same Tesseract TSV through ``layout`` and
``parse_text`` (templates loaded), without the PDF workers; the rest by this bench (seed 0 again
at 5d23cd3: 81/87, the straightening step does not touch 0.8-degree scans).
The text layer of the same PDFs gives 81/87 (all 30: 280/296). ``vs_text`` went from 50/51 and
29/30 to 51/51 and 30/30 on seeds 0 and 100: every header field the text layer gets right, the
scan gets right too. The fixtures stay 69/70 (``BF-2024-OO18``, letters O printed where a zero is
expected, read as ``0018``: an OCR look-alike the fixture is made to contain). Before the grain was
seeded the default run gave 78/87 (89.7 %) with psm 3.

What the remaining wrong fields are, on seeds 0/100/200: all six are wrong on the text layer too
(the reader's or the page's: MustangBeispiel prints 963,12 where its XML says 963.11, and its
seller VAT id and buyer reference are not found; AzureInterior's PO number). On all 30 PDFs the
scan-only misses left are layout the text layer gets from font metrics, not ink (a name and a
label of another font size on one visual line: ZTESTZUGFERD's "Muster GmbH Rechnungsnummer: ...",
Facture_F20180027's totals row beside smaller text), character errors (``-11,21`` read as
``=11 22``, ``IBZY2087`` as ``IBZY 2087``) and labels Tesseract does not see at all (oyo's
"Grand Total" on a coloured band). At 2 degrees and blur 1.0, before the page was straightened,
most losses were character errors (``Ueferant``, ``2022-11-26`` for ``-28``, ``34,73`` read
without its comma); straightened, five scan-only misses are left (a label read into its value's
row, "Name Lieferant GmbH"; QualityHosting's total; a buyer and a due date on one page).

What the cleaning does (each from a field the scan lost and the text layer kept): table-cell rules
read as ``[``/``|``/``]`` (QualityHosting's boxed ``Total EUR 34,73`` came out as ``[Total |
34,73]`` with ``EUR`` on a row of its own), bullets of DIN 5008 return-address lines read as ``e``
and ``+`` (the buyer "Theodor Est" of seven mustangproject samples of one layout), a comma
Tesseract reads as a word of its own pushed to a row of its own (AWS's ``August 3 , 2014``), a
number cut in two (``01.11 .2024``, ``136, 52``), underscores of rules (saeco's ``_BTW``), vertical
margin text mixed into the rows it crosses (the AWV ZUGFeRD samples).
Not done: look-alike repair of amounts and dates (O/0, l/1, S/5, B/8), as no word of the OCR
output of the scans read here (seeds 0 and 100 of all 30 PDFs, seed 200 and the stronger set of 10)
would have needed it. Earlier (psm choice): ``--psm 4`` 77/87, ``--psm 6`` 76/87, straightening the page
before Tesseract (projection profile) 76/87, a median filter, an unsharp mask and 400 dpi no
change.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _report import Results, add_common_args  # noqa: E402
from extract_accuracy import (  # noqa: E402
    Score,
    _invoice_attachment,
    _truth_from_xml,
    invoice2data_truth,
    same,
)

from backoffice.errors import InputError  # noqa: E402
from connectors.einvoice import HEADER_FIELDS  # noqa: E402
from connectors.invoice_templates import load_templates  # noqa: E402
from connectors.ocr import tesseract_version  # noqa: E402
from connectors.pdf import extract_invoice, read_text  # noqa: E402
from fixtures.scans import scan_pdf  # noqa: E402

TARGET = 0.90
QUICK = 2


def _header(truth: dict[str, Any], got: dict[str, Any], s: Score, label: str) -> None:
    for name in HEADER_FIELDS:
        if truth.get(name) is not None:
            s.add(
                name,
                same(name, truth[name], got.get(name)),
                f"{label}: {name} want {truth[name]!r} got {got.get(name)!r}",
            )


def _flags(truth: dict[str, Any], got: dict[str, Any], counts: dict[str, int]) -> None:
    """How the INV-LOW-CONFIDENCE flags fall: on right fields (needless checks) and on wrong ones
    (caught), against the number of right and wrong fields."""
    flagged = {
        e.get("field")
        for e in got.get("errors", [])
        if isinstance(e, dict) and e.get("code") == "INV-LOW-CONFIDENCE"
    }
    for name in HEADER_FIELDS:
        if truth.get(name) is None or got.get(name) is None:
            continue
        kind = "right" if same(name, truth[name], got.get(name)) else "wrong"
        counts[kind] += 1
        counts[f"{kind}_flagged"] += name in flagged


def _read(pdf: Path, templates: bool) -> dict[str, Any]:
    try:
        return extract_invoice(pdf, use_xml=False, templates=load_templates() if templates else []).to_json()
    except InputError as exc:
        return {"errors": [str(exc)]}


def _cases(
    realdata: Path, limit: int | None, fixtures: bool = True
) -> Iterator[tuple[str, Path, dict[str, Any]]]:
    """(source, pdf, header truth) of every scored PDF (the bundled invoices unless ``fixtures``
    is false)."""
    mustang = realdata / "mustangproject"
    picked = 0
    for pdf in sorted(mustang.rglob("*.pdf")) if mustang.exists() else []:
        if limit is not None and picked >= limit:
            break
        try:
            data = _invoice_attachment(pdf)
            if data is None or not read_text(pdf).has_text:
                continue
        except InputError:
            continue
        truth = _truth_from_xml(data)
        if truth is not None:
            picked += 1
            yield "mustangproject", pdf, truth
    compare = realdata / "invoice2data" / "tests" / "compare"
    picked = 0
    for pdf in sorted(compare.glob("*.pdf")) if compare.exists() else []:
        if limit is not None and picked >= limit:
            break
        exp = pdf.with_suffix(".json")
        if exp.exists():
            picked += 1
            yield "invoice2data", pdf, invoice2data_truth(json.loads(exp.read_text())[0])
    picked = 0
    for pdf in sorted((ROOT / "fixtures" / "invoices" / "pdf").glob("*.pdf")) if fixtures else []:
        if limit is not None and picked >= limit:
            break
        if pdf.name.startswith("bad-"):
            continue
        picked += 1
        yield "fixtures", pdf, _read(pdf, templates=True)


def run(
    realdata: Path,
    limit: int | None,
    details: bool,
    seed: int = 0,
    angle: float = 0.8,
    blur: float = 0.7,
    fixtures: bool = True,
) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="ocr-bench-") as tmp:
        for n, (source, pdf, truth) in enumerate(_cases(realdata, limit, fixtures)):
            scores = out.setdefault(
                source,
                {
                    "pdfs": 0,
                    "pages": 0,
                    "ocr_templates": Score(),
                    "ocr_generic": Score(),
                    "vs_text": Score(),
                    "flags": {"right": 0, "right_flagged": 0, "wrong": 0, "wrong_flagged": 0},
                },
            )
            scan = scan_pdf(pdf, Path(tmp) / f"{n:03d}-{pdf.stem}.pdf", seed=seed + n, angle=angle, blur=blur)
            label = f"{source}/{pdf.name}"
            templated = _read(scan, templates=True)
            generic = _read(scan, templates=False)
            text = _read(pdf, templates=True)
            scores["pdfs"] += 1
            scores["pages"] += len(read_text(pdf).pages)
            _header(truth, templated, scores["ocr_templates"], f"{label} [ocr, templates]")
            _flags(truth, templated, scores["flags"])
            _header(truth, generic, scores["ocr_generic"], f"{label} [ocr, generic]")
            right_on_text = {
                k: truth[k]
                for k in HEADER_FIELDS
                if truth.get(k) is not None and same(k, truth[k], text.get(k))
            }
            _header(right_on_text, templated, scores["vs_text"], f"{label} [ocr vs text]")
            if details:
                print(f"{label}: {templated.get('errors') or ''}", file=sys.stderr)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--realdata", type=Path, default=ROOT.parent / "shared" / "realdata")
    add_common_args(ap)
    ap.add_argument("--details", action="store_true", help="list every wrong field on stderr")
    ap.add_argument("--limit", type=int, default=None, help="at most this many PDFs per source")
    ap.add_argument("--seed", type=int, default=0, help="scan degradation seed (the n-th PDF gets seed+n)")
    ap.add_argument(
        "--angle", type=float, default=0.8, help="rotation of the scans in degrees (sign by seed)"
    )
    ap.add_argument("--blur", type=float, default=0.7, help="Gaussian blur radius of the scans")
    ap.add_argument(
        "--no-fixtures", action="store_true", help="real files only (the bundled invoices are not scored)"
    )
    args = ap.parse_args()
    if tesseract_version() is None:
        print("ocr_accuracy: Tesseract is not installed (apt-get install tesseract-ocr ...)", file=sys.stderr)
        return 1
    limit = QUICK if args.quick else args.limit
    measured = run(args.realdata, limit, args.details, args.seed, args.angle, args.blur, not args.no_fixtures)
    results = Results("ocr accuracy", json_=args.json)
    for source, figures in measured.items():
        for path in ("ocr_templates", "ocr_generic", "vs_text"):
            s: Score = figures[path]
            right, total = sum(s.right.values()), sum(s.total.values())
            results.add(
                f"{source}, {path}, header fields right",
                ratio=right / total if total else float("nan"),
                target=TARGET if path == "ocr_templates" else None,
                better="higher",
                right=right,
                fields=total,
                pdfs=figures["pdfs"],
                pages=figures["pages"],
                per_field={k: f"{s.right[k]}/{s.total[k]}" for k in sorted(s.total)},
                **({"low_confidence_flags": figures["flags"]} if path == "ocr_templates" else {}),
            )
            if args.details:
                for miss in s.misses:
                    print("  " + miss, file=sys.stderr)
    results.done()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
