"""Data entry speed: the bot against a minimal hand-written Playwright script, same rows, same run.

    .venv/bin/python bench/entry_bench.py [--rows 200] [--repeat 1] [--json] [--quick]

``--quick``: 40 rows (same ratio, smaller n). ``--json``: one JSON line (bench/_report.py).

Both type the same ``--rows`` invoices into their own fresh copy of the fixture ERP, each served
from its own subprocess, with the same Chromium and launch options:

1. baseline: a minimal script: launch, log in, and per row open "New invoice", fill the fields,
   save, read the record page back and compare. Nothing else (no search, no evidence, no store).
2. bot: ``backoffice.runner.run_bot`` with the data-entry bot into a fresh SQLite store: reading
   and validating the xlsx, rules against the target's vendor master, search for the key before
   creating, typing, read-back, a masked screenshot per record stored as evidence, queue/audit
   records for every row.

Prints rows/min of each and the ratio bot/baseline (target: at most 1.3x). With ``--repeat N``
each side runs N times, alternating, and the best time of each counts. No absolute times are
asserted anywhere.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from _report import Results, add_common_args  # noqa: E402
from openpyxl import load_workbook  # noqa: E402

from backoffice.browser import launch_options  # noqa: E402
from fixtures.data_entry.generate import make_rows, write_workbook  # noqa: E402
from fixtures.erp_app import DEFAULT_PASSWORD, DEFAULT_USER, start_subprocess  # noqa: E402

TARGET_RATIO = 1.3
FIELDS = (
    "vendor_no",
    "invoice_no",
    "invoice_date",
    "due_date",
    "currency",
    "net_amount",
    "tax_amount",
    "gross_amount",
    "po_number",
    "description",
)


def baseline(xlsx: Path, url: str) -> tuple[float, int]:
    """The minimal hand-written script. Returns (seconds, rows entered and read back equal)."""
    from playwright.sync_api import sync_playwright

    started = time.perf_counter()
    ws = load_workbook(xlsx, read_only=True).active
    rows = list(ws.iter_rows(min_row=2, values_only=True))
    ok = 0
    with sync_playwright() as p:
        browser = p.chromium.launch(**launch_options())
        page = browser.new_page()
        page.goto(f"{url}/login")
        page.fill("#username", DEFAULT_USER)
        page.fill("#password", DEFAULT_PASSWORD)
        with page.expect_navigation():
            page.click("#login-submit")
        for r in rows:
            values = dict(zip(FIELDS, r[1:], strict=True))
            text = {
                k: (
                    v.date().isoformat()
                    if hasattr(v, "date")
                    else f"{v:.2f}"
                    if isinstance(v, int | float)
                    else str(v or "")
                )
                for k, v in values.items()
            }
            page.goto(f"{url}/invoices/new")
            page.select_option("#vendor_no", text["vendor_no"])
            page.select_option("#currency", text["currency"])
            for k in FIELDS:
                if k not in ("vendor_no", "currency") and text[k]:
                    page.fill(f"#{k}", text[k])
            with page.expect_navigation():
                page.click("#save")
            saved = page.eval_on_selector_all(
                "#record [data-field]",
                "els => Object.fromEntries(els.map(e => [e.dataset.field, e.textContent.trim()]))",
            )
            if all(saved.get(k) == text[k] for k in FIELDS):
                ok += 1
        browser.close()
    return time.perf_counter() - started, ok


def bot_run(xlsx: Path, url: str, home: Path) -> tuple[float, dict[str, Any]]:
    os.environ["BACKOFFICE_HOME"] = str(home)
    os.environ["BACKOFFICE_ERP_USER"] = DEFAULT_USER
    os.environ["BACKOFFICE_ERP_PASSWORD"] = DEFAULT_PASSWORD
    from backoffice.runner import run_bot
    from backoffice.settings import reset_settings
    from backoffice.store import Store
    from bots.data_entry.bot import bot

    reset_settings()
    Store.close_all()
    store = Store.open()
    started = time.perf_counter()
    summary = run_bot(bot, {"input": str(xlsx), "target": url}, store=store)
    elapsed = time.perf_counter() - started
    Store.close_all()
    return elapsed, summary.to_dict()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=1)
    add_common_args(ap)
    args = ap.parse_args(argv)
    if args.quick:
        args.rows = 40
    work = Path(tempfile.mkdtemp(prefix="entry-bench-"))
    xlsx = write_workbook(work / "invoices.xlsx", make_rows(args.rows))
    base_times: list[float] = []
    bot_times: list[float] = []
    base_ok = 0
    summary: dict[str, Any] = {}
    for i in range(args.repeat):
        erp = start_subprocess(work / f"erp-base-{i}.db")
        try:
            t, base_ok = baseline(xlsx, erp.url)
            base_times.append(t)
        finally:
            erp.stop()
        erp = start_subprocess(work / f"erp-bot-{i}.db")
        try:
            t, summary = bot_run(xlsx, erp.url, work / f"home-{i}")
            bot_times.append(t)
            entered = len({r["external_ref"] for r in erp.db.invoices()})
        finally:
            erp.stop()
    b, m = min(base_times), min(bot_times)
    result = {
        "rows": args.rows,
        "baseline_seconds": round(b, 2),
        "baseline_rows_per_min": round(args.rows / b * 60, 1),
        "baseline_read_back_equal": base_ok,
        "bot_seconds": round(m, 2),
        "bot_rows_per_min": round(args.rows / m * 60, 1),
        "bot_done": summary.get("done"),
        "bot_queued": summary.get("queued", 0) + summary.get("system_exceptions", 0),
        "bot_records_in_target": entered,
        "ratio_bot_vs_baseline": round(m / b, 3),
        "target_ratio": TARGET_RATIO,
        "target_met": m / b <= TARGET_RATIO,
    }
    results = Results("entry", json_=args.json)
    results.add(
        f"data entry, {args.rows} rows vs a bare Playwright script (time)",
        ratio=m / b,
        target=TARGET_RATIO,
        better="lower",
        **{
            k: v
            for k, v in result.items()
            if k not in ("ratio_bot_vs_baseline", "target_ratio", "target_met")
        },
    )
    if not args.json:
        print(f"data entry, {args.rows} rows (best of {args.repeat})")
        print(
            f"  baseline script : {b:7.2f} s  {result['baseline_rows_per_min']:8.1f} rows/min  "
            f"({base_ok} read back equal)"
        )
        print(
            f"  data-entry bot  : {m:7.2f} s  {result['bot_rows_per_min']:8.1f} rows/min  "
            f"({summary.get('done')} done, {result['bot_queued']} queued, {entered} records in the target)"
        )
        print(
            f"  ratio bot/baseline: {m / b:.2f}x (target <= {TARGET_RATIO}x: "
            f"{'met' if result['target_met'] else 'MISSED'})"
        )
    results.done()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
