"""Payroll reconciliation at scale: a 200,000-row register end to end.

    .venv/bin/python bench/payroll_bench.py [--rows 200000] [--with-statement] [--with-previous] [--flow] [--keep DIR]

Generates a clean payroll (register xlsx, HR master, timesheets, pain.001 bank file, GL; optionally
the camt.053 statement and the previous register), then measures, each in its own process so
peak memory (max RSS) is per step:

1. baseline: bare openpyxl read-only iteration over the register (``iter_rows(values_only=True)``);
2. reader: ``connectors.excel.read_table`` with typed columns over the same file;
3. bot alone: the bot's look-ups, register stream, payload validation and every rule, no store;
4. end to end: the bot through ``backoffice.runner.run_bot`` (the path the Prefect flow runs, one
   call per batch) into a fresh SQLite store: look-ups, rules, queue/audit records, workbook.

Prints rows/s, peak memory and the ratios against the baseline measured in this run, by wall
time and by CPU time (the CPU ratio is the steadier figure on a shared machine); target: end to
end at most 2.5x the baseline. No absolute times are asserted anywhere.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _rss_mb() -> float:
    """Peak resident memory of this process (VmHWM; ru_maxrss would include the parent's before exec)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def step_baseline(register: str) -> dict[str, float]:
    from openpyxl import load_workbook

    t, c = time.perf_counter(), time.process_time()
    wb = load_workbook(register, read_only=True)
    ws = wb.worksheets[0]
    n = 0
    for _row in ws.iter_rows(values_only=True):
        n += 1
    wb.close()
    return {
        "seconds": time.perf_counter() - t,
        "cpu": time.process_time() - c,
        "rows": n - 1,
        "rss_mb": _rss_mb(),
    }


def step_reader(register: str) -> dict[str, float]:
    from bots.payroll_reconciliation.context import REGISTER_COLUMNS
    from connectors.excel import read_table

    t, c = time.perf_counter(), time.process_time()
    n = sum(1 for _ in read_table(register, REGISTER_COLUMNS, key="employee_id", on_error="collect"))
    return {
        "seconds": time.perf_counter() - t,
        "cpu": time.process_time() - c,
        "rows": n,
        "rss_mb": _rss_mb(),
    }


def step_e2e(inputs_json: str, home: str) -> dict[str, float]:
    os.environ["BACKOFFICE_HOME"] = home
    from backoffice.runner import run_bot
    from backoffice.store import Store
    from bots.payroll_reconciliation.bot import PayrollReconciliationBot

    inputs = json.loads(inputs_json)
    store = Store.open()
    t, c = time.perf_counter(), time.process_time()
    summary = run_bot(PayrollReconciliationBot(), inputs, store=store)
    seconds = time.perf_counter() - t
    return {
        "seconds": seconds,
        "cpu": time.process_time() - c,
        "rows": summary.extra.get("employees", 0),
        "rss_mb": _rss_mb(),
        "done": summary.done,
        "queued": summary.queued,
        "report_bytes": Path(summary.extra["report"]).stat().st_size,
    }


def step_bot(inputs_json: str, home: str) -> dict[str, float]:
    """The bot's own work without the store: look-ups, register stream, validation and all rules."""
    os.environ["BACKOFFICE_HOME"] = home
    from backoffice.runner import Run
    from backoffice.store import Store
    from bots.payroll_reconciliation.bot import PayrollReconciliationBot

    bot = PayrollReconciliationBot()
    inputs = bot.parse_inputs(json.loads(inputs_json))
    run = Run(run_id="bench", bot=bot.name, inputs=inputs, store=Store.open())
    t, c = time.perf_counter(), time.process_time()
    state = bot.open(inputs, run)
    ctx = bot.rules_context(state)
    n = breaks = 0
    for item in bot.read(state):
        n += 1
        breaks += bool(bot.ruleset.check(bot.model.model_validate(item.payload), ctx))
    return {
        "seconds": time.perf_counter() - t,
        "cpu": time.process_time() - c,
        "rows": n,
        "rss_mb": _rss_mb(),
        "breaks": breaks,
    }


def step_flow(inputs_json: str, home: str) -> dict[str, float]:
    """End to end through the Prefect flow (embedded mode: a temporary local server starts first)."""
    os.environ["BACKOFFICE_HOME"] = home
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "ERROR")
    from flows.payroll_reconciliation import payroll_reconciliation

    inputs = json.loads(inputs_json)
    t, c = time.perf_counter(), time.process_time()
    result = payroll_reconciliation(**inputs)
    return {
        "seconds": time.perf_counter() - t,
        "cpu": time.process_time() - c,
        "rows": result.get("employees", 0),
        "rss_mb": _rss_mb(),
        "done": result["done"],
        "queued": result["queued"],
        "report_bytes": Path(result["report"]).stat().st_size,
    }


def _child(step: str, *args: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--step", step, *args],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="payroll reconciliation benchmark")
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--with-statement", action="store_true", help="also reconcile a camt.053 statement")
    ap.add_argument(
        "--with-previous", action="store_true", help="also read a previous register of the same size"
    )
    ap.add_argument("--flow", action="store_true", help="also run end to end through the Prefect flow")
    ap.add_argument("--keep", type=Path, help="generate into (and keep) this directory")
    ap.add_argument("--step", help=argparse.SUPPRESS)
    ap.add_argument("args", nargs="*", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.step:
        fn = {
            "baseline": step_baseline,
            "reader": step_reader,
            "bot": step_bot,
            "e2e": step_e2e,
            "flow": step_flow,
        }[a.step]
        print(json.dumps(fn(*a.args)))
        return 0

    from fixtures.payroll.generate import generate

    work = a.keep or Path(tempfile.mkdtemp(prefix="payroll-bench-"))
    only = {"register", "hr", "timesheets", "bank", "gl", "answer"}
    if a.with_statement:
        only.add("statement")
    if a.with_previous:
        only.add("previous")
    t = time.perf_counter()
    if not (work / "register_2024_01.xlsx").exists():
        generate(work, n=a.rows, seed=11, plant=False, only=only)
    gen_s = time.perf_counter() - t
    register = str(work / "register_2024_01.xlsx")
    inputs = {
        "register": register,
        "hr": str(work / "hr_master.csv"),
        "timesheets": str(work / "timesheets.csv"),
        "bank_file": str(work / "bank_payments.xml"),
        "gl": str(work / "gl_totals.csv"),
        "out": str(work / "reconciliation.xlsx"),
    }
    if a.with_statement:
        inputs["statement"] = str(work / "statement.xml")
    if a.with_previous:
        inputs["previous"] = str(work / "previous_register_2023_12.xlsx")
    home = tempfile.mkdtemp(prefix="payroll-bench-home-")
    try:
        base = _child("baseline", register)
        reader = _child("reader", register)
        bot = _child("bot", json.dumps(inputs), home)
        e2e = _child("e2e", json.dumps(inputs), home)
        flow = None
        if a.flow:
            shutil.rmtree(home, ignore_errors=True)
            flow = _child("flow", json.dumps(inputs), tempfile.mkdtemp(prefix="payroll-bench-home-"))
    finally:
        shutil.rmtree(home, ignore_errors=True)
        if a.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    rows = base["rows"]
    print(f"payroll bench: {rows:,} register rows ({Path(register).name}), generated in {gen_s:.1f}s")
    print(f"  inputs: {', '.join(k for k in inputs if k != 'out')}; load average {os.getloadavg()[0]:.1f}")
    print(f"  {'step':<52} {'wall':>8} {'rows/s':>9} {'cpu':>8} {'peak RSS':>10}  wall ratio  cpu ratio")
    steps = (
        ("openpyxl read-only iteration (baseline)", base),
        ("connectors.excel.read_table", reader),
        ("bot alone (look-ups, stream, validation, rules)", bot),
        ("end to end (run_bot: rules, queue, audit, workbook)", e2e),
        *([("end to end through the Prefect flow", flow)] if flow else []),
    )
    for name, r in steps:
        print(
            f"  {name:<52} {r['seconds']:7.1f}s {rows / r['seconds']:9,.0f} {r['cpu']:7.1f}s {r['rss_mb']:7.1f} MB"
            f"  {r['seconds'] / base['seconds']:9.2f}x {r['cpu'] / base['cpu']:9.2f}x"
        )
    print(
        f"  end to end: {e2e['done']:,.0f} items done, {e2e['queued']:,.0f} queued, report {e2e['report_bytes']:,.0f} bytes"
    )
    wall, cpu = e2e["seconds"] / base["seconds"], e2e["cpu"] / base["cpu"]
    verdict = "met" if wall <= 2.5 else "NOT met"
    print(f"  target end to end <= 2.5x baseline: {verdict} (wall {wall:.2f}x, cpu {cpu:.2f}x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
