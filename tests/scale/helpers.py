"""Checks shared by the scale tests and the bench: items, audit chain, ledger postings."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from openpyxl import load_workbook
from sqlalchemy import select

from backoffice import audit
from backoffice.queue import QUEUED
from backoffice.schema import items
from backoffice.store import Store

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "fixtures" / "invoices"
BOT = "invoice-matching"


def fixture_inputs(ledger: Path, invoices: Path | None = None) -> dict[str, str]:
    return {
        "invoices": str(invoices or FIXTURES / "pdf"),
        "pos": str(FIXTURES / "purchase_orders.xlsx"),
        "receipts": str(FIXTURES / "receipts.csv"),
        "vendors": str(FIXTURES / "vendors.xlsx"),
        "ledger": str(ledger),
    }


def outcomes(store: Store, bot: str = BOT) -> dict[str, tuple[str, tuple[str, ...]]]:
    """file name -> (done | queued, rule codes) for every item of the bot."""
    with store.read() as conn:
        rows = conn.execute(
            select(items.c.key, items.c.status, items.c.codes, items.c.source).where(items.c.bot == bot)
        )
        out: dict[str, tuple[str, tuple[str, ...]]] = {}
        for r in rows:
            name = Path(r.source["file"]).name
            if name in out:
                raise AssertionError(f"{name} is in the items table twice")
            state = "queued" if r.status in QUEUED else r.status
            out[name] = (state, tuple(sorted((r.codes or "").split())))
    return out


def ledger_keys(path: Path) -> list[str]:
    """The item keys on the ledger's Invoices sheet, in order (duplicates kept)."""
    if not path.exists():
        return []
    wb = load_workbook(path, read_only=True)
    try:
        rows = wb["Invoices"].iter_rows(values_only=True)
        header = [str(h) for h in next(rows)]
        col = header.index("key")
        return [str(r[col]) for r in rows if r and r[col]]
    finally:
        wb.close()


def check_exactly_once(
    store: Store, expected_files: int, ledgers: list[Path], bot: str = BOT
) -> dict[str, Any]:
    """Every item done or queued exactly once, the audit chain intact, no invoice posted twice."""
    found = outcomes(store, bot)
    assert len(found) == expected_files, (len(found), expected_files)
    states = Counter(state for state, _ in found.values())
    assert set(states) <= {"done", "queued"}, states
    # exactly one final audit record per item: posted or queued
    finals = Counter(
        e["subject"]
        for e in audit.entries(store, bot=bot)
        if e["action"] in ("invoice.posted", "item.queued") and not e["data"].get("reprocessed")
    )
    assert len(finals) == expected_files and set(finals.values()) == {1}, finals.most_common(3)
    posted = [
        e for e in audit.entries(store, bot=bot, action="invoice.posted") if e["data"]["result"].get("posted")
    ]
    keys = [k for ledger in ledgers for k in ledger_keys(ledger)]
    assert len(keys) == len(set(keys)), "an invoice is on the ledger twice"
    assert len(keys) == len(posted) == states["done"], (len(keys), len(posted), states)
    result = audit.verify(store)
    assert result.ok, result.reason
    return {"done": states["done"], "queued": states["queued"], "audit_entries": result.checked}
