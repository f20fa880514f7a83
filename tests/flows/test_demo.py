"""`backoffice demo`: the three bots on fixtures/, mounted from the `backoffice.commands` entry point."""

from __future__ import annotations

import json
import os

import pytest

from backoffice.browser import launch_options
from backoffice.cli import main
from backoffice.errors import ConfigError

pytestmark = [pytest.mark.browser, pytest.mark.slow]

COUNTS = {  # (items, done, queued) on a fresh home, as the README and `make demo` show
    "invoice-matching": (50, 21, 29),  # 46 PDFs + 2 bare XRechnung XML (posted) + 2 refused files
    "payroll-reconciliation": (328, 311, 17),
    "data-entry": (15, 8, 7),
}


def test_demo_on_a_fresh_home_prints_the_known_counts(bo_store, prefect_harness, capsys, monkeypatch) -> None:
    try:
        launch_options()
    except ConfigError as exc:
        pytest.skip(f"no Chromium: {exc}")
    monkeypatch.delenv("BACKOFFICE_ERP_USER", raising=False)
    monkeypatch.delenv("BACKOFFICE_ERP_PASSWORD", raising=False)
    assert main(["demo", "--json"]) == 0
    out = capsys.readouterr().out
    assert "demo runs" in out and "backoffice-demo" in out  # the table, then the next steps
    results = json.loads(out[out.index("\n{") + 1 :])
    got = {name: (r["total"], r["done"], r["queued"]) for name, r in results.items()}
    assert got == COUNTS
    assert all(r["system_exceptions"] == 0 for r in results.values())
    assert "BACKOFFICE_ERP_PASSWORD" not in os.environ  # the fixture ERP's login was for its run only
    assert (bo_store.home / "reports" / "payroll_reconciliation_2024_01.xlsx").is_file()
    # the demo runs under fixtures/owners.toml: every queued item has a named decision owner and a
    # response-time commitment from it
    from sqlalchemy import select

    from backoffice.lifecycle import QUEUED
    from backoffice.schema import items

    with bo_store.read() as conn:
        rows = conn.execute(
            select(items.c.decision_owner, items.c.response_due).where(items.c.status.in_(QUEUED))
        )
        owned = [(r.decision_owner, r.response_due is not None) for r in rows]
    assert len(owned) == sum(q for _, _, q in COUNTS.values())
    assert all(owner in ("bob", "carol") and due for owner, due in owned)
