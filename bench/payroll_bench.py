"""Payroll reconciliation at scale: a 200,000-row register end to end, against bare python-calamine.

    .venv/bin/python bench/payroll_bench.py [--json] [--quick] [--flow] [--rows 200000]
                                            [--with-statement] [--with-previous] [--keep DIR]

Generates a clean payroll (register xlsx, HR master, timesheets, pain.001 bank file, GL; optionally
the camt.053 statement and the previous register), then measures, each in its own process so
peak memory (VmHWM) is per step:

1. baseline: bare python-calamine iteration over the register (``iter_rows()`` of the first sheet);
2. reader: ``connectors.excel.read_table`` with the register's typed columns over the same file;
3. bot alone: the bot's look-ups, register stream, payload validation and every rule, no store;
4. end to end: the bot through ``backoffice.runner.run_bot`` (the path the Prefect flow runs, one
   call per batch) into a fresh SQLite store: look-ups, rules, queue/audit records, workbook;
5. with ``--flow``: end to end through the Prefect flow (``flows.payroll_reconciliation``). The
   embedded Prefect server's start (9-25 s, once per process) is paid by a warm-up flow first and
   reported as ``prefect_start_s``; the timed flow is the reconciliation itself.

Results (``bench/_report.py``): the end-to-end ratio at ``--rows`` (through the flow with
``--flow``, else through ``run_bot``), target <= 6x the baseline; peak memory of that step as
ratio = MB / 500 (target <= 1, i.e. <= 500 MB); and the scaling curve, the ``run_bot``
end-to-end ratio at 10k, 50k and 200k rows (``--quick``: 2k, 5k and 20k, and 20k for the main
result). Ratios are by wall time; CPU-time ratios are in the figures (steadier on a loaded box).

Profile (2026-12-02, 20k rows, ``run_bot`` without Prefect; CPU seconds per section measured
in-process with ``time.process_time`` around each runner step, the shares agree with cProfile):

| section (share of end-to-end CPU)             | round 3 | round 4 start | round 4 end |
|-----------------------------------------------|--------|-------|-------|
| rules (``check_item``)                        |  28 %  |  17 % |  22 % |
|   of which the IBAN check (schwifty)          |  22 %  |   8 % |  11 % |
| recording outcomes + audit (``record_outcomes``)| 21 % |  28 % |  19 % |
| item registration (``ownership.register``)    |  13 %  |  19 % |  17 % |
| look-ups (``load_context``: HR, timesheets, pain.001) | 15 % | 14 % | 20 % |
| register stream (``payroll_items``, the excel reader) | 15 % | 15 % | 16 % |
| act, report                                   |   3 %  |   4 % |   4 % |
| of all: cyclic GC (gen-2 passes over the look-ups) |  -  |  17-21 % | 9 % |

(round 4 end: cProfile's cumulative shares at 20k, of a smaller whole; "round 3" is cProfile's
cumulative share too, which over-weights deep call trees such as schwifty's; the GC share is
measured with ``gc.callbacks``.) Round 3 fixed: each distinct account is
IBAN-checked once per run (a memo in the run's ``PayrollContext``); the register's account is
masked only for an unreadable row; timesheet lines share their week text and zero.

Round 4 (issue 15 row 1), structural, each measured at 20k rows in-process (CPU us/row
517 -> 311 on a box at load 7-14):

- the look-ups live as long as the run, so ``bot_run`` moves them out of the cyclic GC's reach
  (``gc.freeze`` after ``open``, ``gc.unfreeze`` at the end): GC 21 % -> 9 % of the run
  (517 -> 416 us/row);
- ``jsonable`` walks the value once instead of ``json.loads(canonical(x))`` (same result, same
  errors: ``tests/core/test_jsonutil.py``), and recording reuses what registration stored
  (``runner.ownership.Registered``): the payload is rewritten only when it changed after
  registration or the row was taken over from another run, a freshly registered row's empty
  violations/evidence are not written again, the audit entry reuses the stored source
  (``tests/core/test_recording.py``): 416 -> 378 us/row;
- pain.001: one walk of each transaction's subtree instead of seven ElementPath searches (lxml's
  ``find`` is Python code): 50k payments 1.4 s -> 0.9 s, the same ``PaymentFile``;
- excel: float cells skip the text checks; money of repeated float values is memoised (Decimals
  are immutable): the register reader -10 %, same values and messages.

Kept as it is, on purpose: one audit entry per item (DOMAIN.md: each entry names its subject, the
item id; ``audit.itemstate`` replays every item from its entries and ``item_story`` reads them by
subject; a batch entry would break both). What remains, per row at 200k (CPU, in-process): the
store ~120 us (SQLAlchemy's per-row parameter processing of the executemany, ~20 columns with
JSON and UTC datetime processors; ``lifecycle`` and ``audit.chain`` are not this bench's
owner's), the IBAN check ~40 us (schwifty's national check digits look the bank up per account),
the other rules ~40 us, the register stream (excel reader, payloads, items) ~55 us, the
look-ups ~70 us, the GC ~30 us (the shares above applied to 346 us/row).

Memory (round 4): python-calamine 0.9.1 cannot stream: ``get_sheet_by_name`` builds the whole cell grid
(``iter_rows``/``to_python(nrows=)`` only page through it), so the register's grid (the
baseline's own 309 MB at 200k) is held while it is read. The rest is the look-ups (measured at
50k: HR master 34 MB, timesheets 44 MB, pain.001 payments 23 MB, i.e. ~400 MB at 200k) and
Prefect (~110 MB more through the flow). Below 500 MB needs a streaming xlsx reader and
smaller look-ups: not done.

Round 4 results (``--json``, full size, each once, on a box at load 12-19 from other sessions: the wall
ratios swing with the load, the CPU figures are steadier; "before" is the tree at 778eca1, run
from an export of it, the same machine an hour earlier):

| measurement                               | before (778eca1) | after   |
|-------------------------------------------|-----------------|---------|
| 200k through the Prefect flow, wall ratio |  70.1x          |  19.0x  |
| 200k through the Prefect flow, CPU ratio  |  45.9x          |  32.1x  |
| 200k through the flow, CPU us/row         |   -             |  382    |
| peak memory through the flow              |  878 MB         |  878 MB |
| peak memory run_bot / bot alone (200k)    |   -             |  766 / 766 MB |
| 10k run_bot: CPU ratio, CPU us/row        |  39.4x, -       |  26.7x, 325 |
| 50k run_bot: CPU ratio, CPU us/row        |  41.4x, -       |  28.4x, 343 |
| 200k run_bot: CPU ratio, CPU us/row       |  36.8x, -       |  29.1x, 346 |

Attribution (``--quick --json``, 20k rows through ``run_bot``, the two runs side by side in the
same load window, each from an export of the tree): HEAD without this round's payroll changes
(other sessions' work of the same hour included, e.g. the audit append) 433 us/row CPU, 38.2x;
HEAD with them 337 us/row, 28.8x; 778eca1 41.2x. So about 22 % of the CPU per row is this
round's payroll work, about 7 % the others'.

(the before run's JSON had no CPU seconds; with its baseline at ~12 us/row CPU as in the after
run, its ratios are ~480, ~500 and ~440 us/row; round 3 measured 570, 646 and 569.) CPU per row
is flat from 10k to 200k (325, 343, 346 us/row): linear. Targets missed: 29-32x CPU against
<= 6x, and 766-878 MB against <= 500 MB.

Round 5 (issue 15 row 1; 2026-12-02 afternoon, on a box at load 7-21 from other sessions).
Profiled first, in-process, 20k rows, CPU per section with ``time.process_time`` around each
runner step (cProfile over-weights deep Python call trees such as schwifty's and SQLAlchemy's by
2-4x on this box, so the shares below are the un-profiled ones), at the start of the round:
store 116 us/row (registration 56, of it ``lifecycle.register`` 34; recording 60, of it
``lifecycle.apply_rows`` 20 and ``audit.append_many`` 17), rules with the payload validation 44,
register stream 44, look-ups 42, cyclic GC 20 (of it 8 in the look-ups' build: full passes over
the growing look-ups, a cost worse than linear), report and act 9; 273 us/row in all.

Changed, each checked to store the same rows and audit entries (a planted 3,000-row payroll
with statement, previous register and vendors, run by the tree before and after: every item
column and every audit entry equal but for run ids, times and the rule-set version; the chain
verifies):

- the look-ups are built with the cyclic GC paused (``context._collector_paused``, as
  ``bots.invoice_matching`` does for its indexes): no full passes over them while they grow;
- the runner pauses the cyclic GC while ``batched`` fills a batch and while ``process_batch``
  runs it (``backoffice.runner.batches``): the batch's objects live until it is recorded and
  are freed by reference counting; the collector runs between batches. GC 20 -> 8 us/row;
- ``connectors.excel``: a column's numbers and dates are coerced once per distinct raw cell
  per read and the one immutable value shared (``cells.remembering``; a cell that fails fails
  each time with its message; bool/int cells are never looked up, so ``TRUE`` is not ``1.0``);
- timesheet lines are one tuple per distinct (week, hours) shared by every employee, payments
  per employee a tuple, not a list. Look-ups at 200k (RSS after each, in one process): HR master
  122 -> 95 MB, timesheets 151 -> 59 MB, pain.001 payments 88 MB (its ``Payment`` objects are
  ``connectors.bankfiles``', not this bench's owner's).

Measured and left, with why:

- (a) the store. Bypassing SQLAlchemy's per-row bind processing buys little: 20k rows of the
  registration insert through ``lifecycle.register`` take 34 us/row, the same rows pre-serialised
  once (``json.dumps``, naive UTC text) through the bare ``sqlite3`` ``executemany`` 28 us/row,
  the same stored bytes: SQLite's own insert into ``items`` with its 12 indexes is most of it.
  And only ``backoffice.lifecycle`` may write ``items`` (tests/core/test_lifecycle.py scans for
  any other ``insert(items)``), so a plain-typed table view would have to live there (not this
  bench's owner's; about 6 us/row for registration, less for the update). The audit append is
  already a batch of pre-serialised text rows (``chain.append_many``); recording needs nothing
  more of ``audit.chain``.
- (b) IBAN, per distinct account, un-profiled: 12 us (``IBAN(...)`` 4.7, structure + length +
  mod-97 4.0, the bank registry look-up 1.9 inside the national check 2.8, the warnings context
  1.3). Every account of this fixture has its own bank code, so one check per bank code would
  save nothing here and at most the 1.9 us of the look-up on real data, by re-implementing
  schwifty's choice of national algorithm (DESIGN: one IBAN check, on schwifty). Not done;
  tests/connectors/test_bankfiles_iban.py unchanged and green.
- (c) python-calamine 0.9.1 is the newest release (``pip index versions``), and no release or
  ``load_workbook`` option streams rows: the grid is built whole (the baseline's own 309 MB at
  200k) and held while the register is read.
- (e) the payload validation (``bot.model.model_validate`` on the dict, ~11 us/row) is in
  ``backoffice.runner.checks``, not this bench's owner's; not tried.

Results (``--json``, full size, each once, on a box at load 12-21 from other sessions: the wall
ratios are the load's, not the code's (the baseline's own wall time swung 4.8-14.6 s at 200k);
CPU per row is the steady figure. "before" is the tree at b7c7f7e, run from an export of it an
hour earlier on the same box; "after" is b9df571, also from an export):

| measurement                                  | before (b7c7f7e) | after (b9df571) |
|----------------------------------------------|------------------|-----------------|
| 200k through the Prefect flow, CPU us/row    |  401             |  352            |
| 200k through the flow, CPU ratio (baseline)  |  23.9x (16.8 us/row: a noisy baseline) | 30.0x (11.7) |
| 200k through the flow, wall ratio            |  76.1x           |  15.9x          |
| peak memory through the flow                 |  875 MB          |  766 MB         |
| peak memory run_bot / bot alone (200k)       |  765 / 764 MB    |  656 / 656 MB   |
| 10k run_bot: CPU us/row, CPU ratio           |  346, 30.5x      |  329, 28.4x     |
| 50k run_bot: CPU us/row, CPU ratio           |  411, 36.2x      |  318, 28.3x     |
| 200k run_bot: CPU us/row, CPU ratio          |  376, 22.4x (16.8) | 318, 27.1x    |

Against a steady baseline of ~11.5 us/row CPU the ratios are ~35x before and ~28-31x after.
In between, 1e35ac0 (everything but the GC pause in ``batched``) measured 307 / 318 / 336
us/row at 10k / 50k / 200k and 365 through the flow, 766 MB: the last change is within this
box's noise at full size (3-5 % at 20k, A/B in one window). CPU per row is flat from 10k to 200k:
linear. Targets missed: ~28-30x CPU against <= 6x, 656-766 MB against <= 500 MB.

What remains, per row at 20k (CPU, in-process, load ~11, 303-326 us/row in all): the store
~135 us (``lifecycle.register`` ~41 and ``apply_rows`` ~23, ``audit.append_many`` ~20, the
registration's and recording's own Python ~50: the payload's JSON form, the source dump, the
ownership read-back, the audit entries), the rules with the payload validation ~52 (IBAN 12),
the register stream ~50 (the excel reader ~30 against the bare iteration's ~10, items ~20), the
look-ups ~37, GC ~8. A 6x target means ~70 us/row for all of it: the store's SQLite insert alone
(28 us/row, see (a)) and the rules take that. Memory: the grid (~270 MB at 200k), the look-ups
(~240 MB) and Prefect (~110 MB through the flow); below 500 MB needs a streaming xlsx reader
(none in python-calamine) and payments held smaller in ``connectors.bankfiles``.

Round 6 (issue 15 row 1; 2026-12-03 06:10-07:45, on a box at load 4-11 from other sessions:
CPU per row is inflated by the load against round 5's, compare within this round only).
Memory first, measured in-process at 200k (VmHWM / VmRSS):

- ``connectors.excel``: a sheet XML above 32 MiB (inflated) that calamine reads is read in
  slices (``sources._sliced_gen``): its rows are cut before a ``<row`` into pieces of >= 4 MiB
  (4x the sharedStrings part when that is larger), each handed to calamine as a workbook of its
  own (the same workbook, styles, shared strings and content-type parts, the other sheets as
  empty ones; the rows keep their ``r`` numbers), so one slice's grid is held, not the sheet's.
  The values are calamine's, cell for cell; a sheet where a row lacks its ``r`` is read whole.
  ``read_table`` over the 200k register: peak 331 -> 124 MB, CPU the same within noise (A/B
  in one window: 11.5 / 11.6 s whole, 12.7 / 10.7 s sliced). Tests: the sliced read equals the
  whole read (inline and shared strings, leading empty columns, absent rows between slices, a
  header row given by number, broken XML) in ``tests/connectors/test_excel_sliced.py``.
- look-ups (``load_context`` at 200k: peak 397 -> 284 MB, CPU 19.3 -> 18.1 s, from an export
  of each tree): employees whose timesheet weeks are the same line tuples in the same order
  share one ``Hours`` (80k timesheets, a few hundred patterns); look-ups and the register's
  seen set are keyed by the HR master's own id strings; a payment's account text is the HR
  record's when equal; the address / national-ID owner maps are freed before the next
  look-up grows; pain.001 keeps one Decimal per distinct amount text (67k of 200k). The
  look-ups dumped field by field at 50k and on the fixtures equal those of the tree before.
- rules: the ghost check builds no empty set per account, address and national ID.

Not done, with why: python-calamine 0.9.1 is still the newest release (``pip index
versions``); the store (``backoffice.runner`` / ``lifecycle`` / ``audit``) is the largest CPU
share (~120-135 us/row, round 5's analysis holds) and not this bench's owner's; the pain.001
parse (~45 % of the look-ups' CPU under cProfile, the trie walk per transaction) and the IBAN
check (~12 us per distinct account, schwifty) were left as they are.

Results (``--flow``, full size, the tree at e46a0f4, each step once; "start" is cfc66eb, run
at 06:11 on the same box, whose 200k row was already partly this round's reader and so is
not shown; round 5's after-figures at a lower load for reference):

| measurement                                   | round 5 after (b9df571) | start (cfc66eb) | after (e46a0f4) |
|-----------------------------------------------|-------------------------|-----------------|-----------------|
| peak memory through the Prefect flow (200k)   |  766 MB                 |  -              |  482 MB (0.96 of 500) |
| peak memory run_bot / bot alone (200k)        |  656 / 656 MB           |  -              |  365 / 358 MB   |
| peak memory read_table alone (200k)           |  -                      |  331 MB (A/B)   |  125 MB         |
| 200k through the flow: CPU us/row, CPU ratio  |  352, 30.0x             |  -              |  650, 37.0x (load 14.6) |
| 200k run_bot: CPU us/row, CPU ratio           |  318, 27.1x             |  -              |  580, 33.0x (load 14.6) |
| 50k run_bot: CPU us/row, CPU ratio, peak      |  318, 28.3x             |  584, 30.0x, 226 MB (load 7.9) |  482, 26.3x, 204 MB (load 10.1) |
| 10k run_bot: CPU us/row, CPU ratio, peak      |  329, 28.4x             |  500, 22.2x, 121 MB (load 4.5) |  480, 25.6x, 118 MB (load 9.0) |

The wall ratios of this run (43.3x through the flow, 32.9x through run_bot) are the load's (the
baseline's own 200k wall time was 9.2 s against 3.5 s CPU). Memory target met through the flow
(482 MB, of which ~115 MB is Prefect's: run_bot peaks at 365 MB); CPU target missed (~26-33x
against <= 6x on this box): the store's per-row work (round 5's (a)) and the rules are most of
it, and a 6x target leaves ~70 us/row for everything.

Round 7 (issue 15 row 1; 2026-12-03 evening, a box at load 3-10 from other sessions, on which
the same code takes ~1.7x the CPU of round 5's figures: the baseline itself is ~21 us/row CPU).
Profiled first, in-process, 20k rows through ``run_bot``, CPU per runner step
(``time.process_time`` around each): look-ups 73, register stream 91, registration 114 (of it
``lifecycle.register`` 74), rules with the payload validation 101 (of it the IBAN check ~44,
validation ~13), recording 116 (``lifecycle.apply_rows`` 45, ``audit.append_many`` 36), act,
report, GC ~19 us/row; 535 us/row in all. Changed, in the store's batch writes:

- ``store.executemany`` (used by ``lifecycle.register`` and ``lifecycle.apply_rows``): on
  SQLite the statement is compiled once as SQLAlchemy compiles it for those rows, each row is
  a tuple in its parameter order, and a value object that repeats in the batch (the shared
  ``now`` and lease times, flags, None) goes through its column's bind processor once; one
  driver executemany. The stored bytes are those of ``conn.execute``
  (``tests/core/test_store_executemany.py``); other backends and anything it does not cover
  take ``conn.execute``;
- ``audit.append_many`` of many entries: one driver executemany of the compiled INSERT (the
  audit columns are plain text and integers), and the hashed scalar fields written as
  canonical JSON directly (``chain._head_json``, the same text as ``canonical()``, which it
  falls back to for other values); same rows and hashes as one-at-a-time appends
  (``tests/core/test_audit_batch_append.py``), the chain verifies; ``verify`` gains too.

In-process A/B at 20k (export of 4eebeaa vs 3b1a516, back to back, load 9.7-10.1):
registration 114 -> 91 us/row (``lifecycle.register`` 74 -> 51), recording 116 -> 88
(``apply_rows`` 45 -> 26, audit append 36 -> 26); 535 -> 486 us/row in all. The whole-run
figure swings +-15 % between runs on this box (four more pairs: 531/542, 613/465), the store's
sections much less.

Results (``--json --flow``, full size, each step once; "before" is an export of 4eebeaa run
19:20-19:50 at load 7-8.5, "after" 3b1a516 run 19:56-20:03 at load 0.5-4; the wall ratios are
the load's, CPU per row is the figure to compare, and it still moves ~10 % with the load):

| measurement                                     | before (4eebeaa)      | after (3b1a516)       |
|-------------------------------------------------|-----------------------|-----------------------|
| 200k through the Prefect flow: wall ratio       | 20.7x                 | 36.1x (flow 156 s wall / 108 s CPU, baseline 4.3 s) |
| 200k through the flow: CPU ratio, CPU us/row    | 25.0x, 583            | 25.3x, 538            |
| peak memory through the flow                    | 481 MB                | 481 MB                |
| 200k run_bot: CPU ratio, CPU us/row, peak       | 25.7x, 599, 364 MB    | 22.8x, 486, 369 MB    |
| 50k run_bot: CPU ratio, CPU us/row              | 20.5x, 602 (baseline 29.4 us/row, noisy) | 21.5x, 465 |
| 10k run_bot: CPU ratio, CPU us/row              | 27.3x, 598            | 22.6x, 477            |

CPU per row is flat from 10k to 200k (477, 465, 486 us/row): linear. Targets: memory met
(481 MB, unchanged); CPU ratio still ~22-25x against <= 6x. What remains, per row at 20k on
this box: the store ~180 us (SQLite's own insert into ``items`` and its 12 indexes ~24 us of
the registration; ``runner.ownership.register`` and ``runner.recording`` build payload JSON
twice, select ids in 900-key chunks, dump violations/evidence per row: ~40 us each, not this
bench's owner's), the IBAN check ~44 us (``connectors.bankfiles.iban_problem`` on schwifty, one
per distinct account; every account of this fixture is distinct), the excel reader ~58 us
(``connectors.excel``), the look-ups ~73 us (CSV readers and the pain.001 parse), the payload
validation ~13 us (``runner.checks``). Not tried this round: ``Item`` construction (pydantic
validation plus private-attribute set-up, ~30 us/row on this box; ``model_construct`` is
slower in pydantic 2.14, it inspects default factories per call).
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
sys.path.insert(0, str(ROOT / "bench"))

from _report import Results, add_common_args  # noqa: E402


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
    from python_calamine import CalamineWorkbook

    t, c = time.perf_counter(), time.process_time()
    wb = CalamineWorkbook.from_path(register)
    n = 0
    for _row in wb.get_sheet_by_index(0).iter_rows():
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
    """End to end through the Prefect flow; a warm-up flow starts the embedded server first."""
    os.environ["BACKOFFICE_HOME"] = home
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "ERROR")
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")  # a loaded box
    from prefect import flow

    from flows.payroll_reconciliation import payroll_reconciliation

    @flow(name="bench-warm-up")
    def warm_up() -> int:
        return 1

    t = time.perf_counter()
    warm_up()
    start_s = time.perf_counter() - t
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
        "prefect_start_s": start_s,
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


def _payroll(work: Path, rows: int, statement: bool, previous: bool) -> dict[str, str]:
    from fixtures.payroll.generate import generate

    only = {"register", "hr", "timesheets", "bank", "gl", "answer"}
    if statement:
        only.add("statement")
    if previous:
        only.add("previous")
    if not (work / "register_2024_01.xlsx").exists():
        generate(work, n=rows, seed=11, plant=False, only=only)
    inputs = {
        "register": str(work / "register_2024_01.xlsx"),
        "hr": str(work / "hr_master.csv"),
        "timesheets": str(work / "timesheets.csv"),
        "bank_file": str(work / "bank_payments.xml"),
        "gl": str(work / "gl_totals.csv"),
        "out": str(work / "reconciliation.xlsx"),
    }
    if statement:
        inputs["statement"] = str(work / "statement.xml")
    if previous:
        inputs["previous"] = str(work / "previous_register_2023_12.xlsx")
    return inputs


def _home() -> str:
    return tempfile.mkdtemp(prefix="payroll-bench-home-")


def _measure(inputs: dict[str, str], steps: tuple[str, ...]) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for step in steps:
        if step in ("baseline", "reader"):
            out[step] = _child(step, inputs["register"])
            continue
        home = _home()
        try:
            out[step] = _child(step, json.dumps(inputs), home)
        finally:
            shutil.rmtree(home, ignore_errors=True)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = add_common_args(argparse.ArgumentParser(description="payroll reconciliation benchmark"))
    ap.add_argument("--rows", type=int, help="register rows for the main result (200,000; --quick 20,000)")
    ap.add_argument("--with-statement", action="store_true", help="also reconcile a camt.053 statement")
    ap.add_argument(
        "--with-previous", action="store_true", help="also read a previous register of the same size"
    )
    ap.add_argument("--flow", action="store_true", help="the main result through the Prefect flow")
    ap.add_argument("--no-curve", action="store_true", help="skip the scaling curve")
    ap.add_argument("--keep", type=Path, help="generate into (and keep) this directory (one per size)")
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

    rows = a.rows or (20_000 if a.quick else 200_000)
    curve = () if a.no_curve else ((2_000, 5_000, 20_000) if a.quick else (10_000, 50_000, 200_000))
    results = Results("payroll", json_=a.json)
    say = (lambda *_: None) if a.json else print
    measured: dict[int, dict[str, dict[str, float]]] = {}
    for n in sorted({rows, *curve}):
        work = (a.keep / str(n)) if a.keep else Path(tempfile.mkdtemp(prefix="payroll-bench-"))
        try:
            t = time.perf_counter()
            inputs = _payroll(work, n, a.with_statement, a.with_previous)
            gen_s = time.perf_counter() - t
            steps: tuple[str, ...] = ("baseline", "e2e")
            if n == rows:
                steps = ("baseline", "reader", "bot", "e2e", *(("flow",) if a.flow else ()))
            measured[n] = m = _measure(inputs, steps)
        finally:
            if a.keep is None:
                shutil.rmtree(work, ignore_errors=True)
        base = m["baseline"]
        say(
            f"payroll bench: {base['rows']:,.0f} register rows, generated in {gen_s:.1f}s; load {os.getloadavg()[0]:.1f}"
        )
        say(f"  {'step':<52} {'wall':>8} {'rows/s':>9} {'cpu':>8} {'peak RSS':>10}  wall ratio  cpu ratio")
        names = {
            "baseline": "bare python-calamine iteration (baseline)",
            "reader": "connectors.excel.read_table",
            "bot": "bot alone (look-ups, stream, validation, rules)",
            "e2e": "end to end (run_bot: rules, queue, audit, workbook)",
            "flow": "end to end through the Prefect flow",
        }
        for step, r in m.items():
            say(
                f"  {names[step]:<52} {r['seconds']:7.1f}s {n / r['seconds']:9,.0f} {r['cpu']:7.1f}s"
                f" {r['rss_mb']:7.1f} MB  {r['seconds'] / base['seconds']:9.2f}x {r['cpu'] / base['cpu']:9.2f}x"
            )

    m = measured[rows]
    base = m["baseline"]
    main_step = "flow" if a.flow else "e2e"
    r = m[main_step]
    via = "through the Prefect flow" if a.flow else "through run_bot"
    extra = {"prefect_start_s": round(r["prefect_start_s"], 1)} if "prefect_start_s" in r else {}
    results.add(
        f"{rows:,} rows end to end {via}",
        ratio=r["seconds"] / base["seconds"],
        target=6.0,
        better="lower",
        rows=rows,
        seconds=round(r["seconds"], 2),
        baseline_seconds=round(base["seconds"], 2),
        cpu_ratio=round(r["cpu"] / base["cpu"], 2),
        cpu_seconds=round(r["cpu"], 2),
        baseline_cpu_seconds=round(base["cpu"], 2),
        per_row_cpu_us=round(r["cpu"] / rows * 1e6, 1),
        done=r["done"],
        queued=r["queued"],
        **extra,
    )
    results.add(
        f"{rows:,} rows peak memory {via} (ratio = MB / 500)",
        ratio=r["rss_mb"] / 500,
        target=1.0,
        better="lower",
        peak_rss_mb=round(r["rss_mb"], 1),
        baseline_peak_rss_mb=round(base["rss_mb"], 1),
        **{
            f"{step}_peak_rss_mb": round(m[step]["rss_mb"], 1)
            for step in ("reader", "bot", "e2e")
            if step in m
        },
    )
    for n in curve:
        mm = measured[n]
        e, b = mm["e2e"], mm["baseline"]
        results.add(
            f"scaling, {n:,} rows end to end through run_bot",
            ratio=e["seconds"] / b["seconds"],
            target=6.0,
            better="lower",
            rows=n,
            seconds=round(e["seconds"], 2),
            baseline_seconds=round(b["seconds"], 2),
            per_row_us=round(e["seconds"] / n * 1e6, 1),
            baseline_per_row_us=round(b["seconds"] / n * 1e6, 2),
            cpu_ratio=round(e["cpu"] / b["cpu"], 2),
            per_row_cpu_us=round(e["cpu"] / n * 1e6, 1),
            baseline_per_row_cpu_us=round(b["cpu"] / n * 1e6, 2),
            peak_rss_mb=round(e["rss_mb"], 1),
        )
    results.done()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
