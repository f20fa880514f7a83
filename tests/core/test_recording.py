"""Recording writes what registration did not: a payload that changed after registration, and
the violations, evidence and payload of a row that this run took over from another."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from backoffice import audit, lifecycle
from backoffice.contract import Outcome
from backoffice.items import Item, file_sha256, make_key
from backoffice.runner import run_bot
from backoffice.schema import items
from backoffice.store import Store, utcnow
from tests.core.toybot import ToyBot, ToyState, write_orders


def _stored(store: Store) -> dict[str, Any]:
    with store.read() as conn:
        rows = conn.execute(
            select(items.c.key, items.c.status, items.c.payload, items.c.violations, items.c.evidence)
            .where(items.c.bot == "toy")
            .order_by(items.c.id)
        )
        return {r.key: r for r in rows}


class _Relabelling(ToyBot):
    """Changes each payload while acting (after registration stored it)."""

    def act(self, batch: list[Item], state: ToyState) -> list[Outcome]:
        out = super().act(batch, state)
        for it in batch:
            it.payload["customer"] = f"{it.payload['customer']} (relabelled)"
        return out


def test_a_payload_changed_after_registration_is_stored_as_changed(bo_store: Store, tmp_path: Path) -> None:
    orders = write_orders(tmp_path / "orders.csv", 12)
    inputs = {"orders": str(orders), "ledger": str(tmp_path / "ledger.jsonl")}
    s = run_bot(_Relabelling(), inputs, store=bo_store, batch_size=5)
    assert s.done == 12
    rows = _stored(bo_store)
    assert len(rows) == 12
    for r in rows.values():
        assert r.status == "done"
        assert r.payload["customer"].endswith(" (relabelled)")
        assert r.violations == [] and r.evidence == []
    assert audit.verify(bo_store).ok


def test_a_row_taken_over_gets_this_runs_payload_violations_and_evidence(
    bo_store: Store, tmp_path: Path
) -> None:
    orders = write_orders(tmp_path / "orders.csv", 6)
    key = make_key(file_sha256(orders), "O00001")
    now = utcnow()
    stale = {
        "bot": "toy",
        "key": key,
        "run_id": "run-long-gone",  # no such run: nobody can be working on it
        "kind": "business",
        "payload": {"order_id": "O00001", "customer": "stale", "amount": "0.00"},
        "source": {"file": "old.csv", "locator": "row 9"},
        "amount": "0.00",
        "personal": False,
        "currency": "EUR",
        "fx_rate": None,
        "violations": [{"code": "OLD", "message": "from the run before"}],
        "codes": " OLD ",
        "evidence": [{"sha256": "0" * 64, "name": "old.png", "media_type": "image/png"}],
        "priority": 3,
        "approver_only": False,
        "attempts": 0,
        "escalations": 0,
        "lease_until": now - timedelta(minutes=1),
        "created_at": now,
        "updated_at": now,
    }
    with bo_store.write() as conn:
        lifecycle.register(conn, [stale])
    inputs = {"orders": str(orders), "ledger": str(tmp_path / "ledger.jsonl")}
    s = run_bot(ToyBot(), inputs, store=bo_store)
    assert s.done == 6
    taken = _stored(bo_store)[key]
    assert taken.status == "done"
    assert taken.payload == {"order_id": "O00001", "customer": "C1", "amount": "11.25"}
    assert taken.violations == [] and taken.evidence == []
