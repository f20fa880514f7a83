"""Scale-out: one invoice-matching run split into several flow runs that workers share.

- ``invoice-matching-split`` deals the files of a directory (every file: PDFs, XML and the files
  the bot refuses, so each is accounted for by exactly one part) round-robin into ``parts`` parts and
  submits one flow run of the ``invoice-matching-part`` deployment per part (workers on any
  machine pick them up), waits for all of them and returns the combined summary.
- ``invoice-matching-part`` is one bot run (one flow, a task per batch, via
  :func:`backoffice.orchestration.tasks.run_bot_flow`) over its share of the files, named by
  the bot's ``files`` input. The bot's look-ups are still built from the whole directory, so
  cumulative partial invoicing and duplicate checks judge every invoice exactly as a single run
  would; only reading, checking and posting are split. Keys are the bot's own (file name +
  sha256), so a part that is run again, or two overlapping splits, never post an invoice twice.

Both flows are the bot's extra flows (``InvoiceMatchingBot.flows()``), so ``backoffice deploy``
registers them; then e.g.::

    prefect deployment run invoice-matching-split/backoffice --param invoices=/data/inv \\
        --param pos=/data/po.xlsx --param receipts=/data/gr.csv --param vendors=/data/vendors.xlsx \\
        --param parts=4

The parent waits while its parts run, so give workers room for it (no ``--limit 1`` on the
only worker), or run the parent where you submit it: ``python -m bots.invoice_matching.split``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger
from prefect.deployments import run_deployment

from backoffice.contract import Bot
from backoffice.errors import InputError, TerminalError
from backoffice.orchestration.tasks import run_bot_flow
from backoffice.plugins import registry
from backoffice.schema import runs
from backoffice.store import Store
from bots.invoice_matching.invoices import invoice_files

__all__ = ["deal", "invoice_matching_part", "invoice_matching_split", "split_summary"]

PART_FLOW = "invoice-matching-part"
BOT = "invoice-matching"


def _bot() -> Bot[Any, Any]:
    """The installed invoice-matching bot, from the plugin registry as the bot's own run flow
    takes it (so this module does not import the bot module, whose ``flows()`` imports it)."""
    return registry().get(BOT)


def deal(files: list[str], parts: int) -> list[list[str]]:
    """Round-robin over the sorted names: parts differ by at most one file; empty parts dropped."""
    if parts < 1:
        raise InputError("parts must be at least 1", field="parts")
    ordered = sorted(files)
    return [chunk for chunk in (ordered[k::parts] for k in range(parts)) if chunk]


def _inputs(
    invoices: str, pos: str, receipts: str, vendors: str, ledger: str | None, fx: dict[str, str] | None
) -> dict[str, Any]:
    inputs: dict[str, Any] = {"invoices": invoices, "pos": pos, "receipts": receipts, "vendors": vendors}
    if ledger:
        inputs["ledger"] = ledger
    if fx:
        inputs["fx"] = fx
    return inputs


@flow(name=PART_FLOW)
def invoice_matching_part(
    invoices: str,
    pos: str,
    receipts: str,
    vendors: str,
    files: list[str],
    ledger: str | None = None,
    fx: dict[str, str] | None = None,
    split: str | None = None,
    batch_size: int | None = None,
) -> dict[str, Any]:
    """One part of a split invoice-matching run: the bot over ``files`` (names in ``invoices``)."""
    bot = _bot()
    values = {**_inputs(invoices, pos, receipts, vendors, ledger, fx), "files": files, "split": split}
    return run_bot_flow(bot, bot.parse_inputs(values), batch_size=batch_size)


_FINAL = ("COMPLETED", "FAILED", "CRASHED", "CANCELLED")


def _wait(flow_run_ids: list[Any], timeout: float, poll: float) -> dict[str, str]:
    from prefect import get_client

    deadline = time.monotonic() + timeout
    states: dict[str, str] = {}
    with get_client(sync_client=True) as client:
        while True:
            for fid in flow_run_ids:
                if states.get(str(fid)) in _FINAL:
                    continue
                fr = client.read_flow_run(fid)
                states[str(fid)] = fr.state.type.value if fr.state else "PENDING"
            if all(s in _FINAL for s in states.values()):
                return states
            if time.monotonic() > deadline:
                raise TerminalError(f"split parts still running after {timeout:.0f}s: {states}")
            time.sleep(poll)


def split_summary(split_prefix: str, store: Store | None = None) -> dict[str, Any]:
    """Add up the bot runs whose inputs carry ``split`` starting with ``split_prefix``: the item
    counts, the rule codes and the files seen, read and refused (the parts' files add up to the
    directory's)."""
    from sqlalchemy import select

    store = store or Store.open()
    with store.read() as conn:
        rows = conn.execute(
            select(runs.c.id, runs.c.status, runs.c.inputs, runs.c.summary).where(runs.c.bot == BOT)
        ).fetchall()
    total = {
        "total": 0,
        "done": 0,
        "queued": 0,
        "system_exceptions": 0,
        "skipped": 0,
        "files_seen": 0,
        "files_read": 0,
        "files_refused": 0,
    }
    codes: dict[str, int] = {}
    parts = []
    for r in rows:
        split = (r.inputs or {}).get("split") or ""
        if not split.startswith(split_prefix):
            continue
        s = r.summary or {}
        parts.append({"run_id": r.id, "split": split, "status": r.status, "total": s.get("total", 0)})
        for k in total:
            total[k] += int(s.get(k, 0))
        for code, n in (s.get("codes") or {}).items():
            codes[code] = codes.get(code, 0) + int(n)
    return {**total, "codes": dict(sorted(codes.items())), "parts": sorted(parts, key=lambda p: p["split"])}


@flow(name="invoice-matching-split")
def invoice_matching_split(
    invoices: str,
    pos: str,
    receipts: str,
    vendors: str,
    ledger: str | None = None,
    fx: dict[str, str] | None = None,
    parts: int = 4,
    deployment: str = "backoffice",
    timeout_seconds: float = 3600,
    poll_seconds: float = 2,
) -> dict[str, Any]:
    """Split a directory of invoices into ``parts`` flow runs of ``invoice-matching-part/DEPLOYMENT``."""
    from prefect.runtime import flow_run

    logger = get_run_logger()
    checked = _bot().parse_inputs(_inputs(invoices, pos, receipts, vendors, ledger, fx))  # before any part
    names = [p.name for p in invoice_files(checked.invoices)]
    chunks = deal(names, parts)
    split_id = f"{flow_run.get_id() or 'local'}"
    submitted = []
    for k, chunk in enumerate(chunks, start=1):
        params = {
            **_inputs(invoices, pos, receipts, vendors, ledger, fx),
            "files": chunk,
            "split": f"{split_id}:{k}/{len(chunks)}",
        }
        fr: Any = run_deployment(  # a FlowRun (sync call)
            f"{PART_FLOW}/{deployment}",
            parameters=params,
            timeout=0,
            flow_run_name=f"part-{k}-of-{len(chunks)}",
        )
        submitted.append(fr.id)
        logger.info("part %d/%d: %d invoices -> flow run %s", k, len(chunks), len(chunk), fr.id)
    states = _wait(submitted, timeout_seconds, poll_seconds)
    summary = split_summary(f"{split_id}:")
    summary.update(flow_runs=states, files=len(names))
    failed = {fid: s for fid, s in states.items() if s != "COMPLETED"}
    if failed:
        raise TerminalError(f"{len(failed)} of {len(states)} parts did not complete: {failed}")
    return summary


if __name__ == "__main__":  # pragma: no cover - run the parent here, its parts on the workers
    import argparse
    import json

    ap = argparse.ArgumentParser(
        description="Run a split invoice-matching run (parent here, parts on workers)."
    )
    for opt in ("invoices", "pos", "receipts", "vendors"):
        ap.add_argument(f"--{opt}", required=True)
    ap.add_argument("--ledger")
    ap.add_argument("--fx", action="append", default=[], metavar="CUR=RATE", help="repeatable")
    ap.add_argument("--parts", type=int, default=4)
    ap.add_argument("--deployment", default="backoffice")
    a = ap.parse_args()
    result = invoice_matching_split(
        invoices=str(Path(a.invoices).resolve()),
        pos=str(Path(a.pos).resolve()),
        receipts=str(Path(a.receipts).resolve()),
        vendors=str(Path(a.vendors).resolve()),
        ledger=str(Path(a.ledger).resolve()) if a.ledger else None,
        fx=dict(pair.partition("=")[::2] for pair in a.fx) or None,
        parts=a.parts,
        deployment=a.deployment,
    )
    print(json.dumps(result, indent=2))
