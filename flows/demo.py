"""The demo: all three bots on fixtures/, embedded SQLite store, Prefect embedded mode.

Run by ``backoffice demo`` (and ``make demo``). It seeds demo users (password
``backoffice-demo``), runs invoice matching, payroll reconciliation and data entry (the latter
against the fixture ERP app started on 127.0.0.1 with a free port), and prints what went
straight through and what waits in the queue. Running it again skips what is already done.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

import fixtures
from backoffice.errors import ConflictError
from backoffice.store import Store
from backoffice.users import add_user
from flows.data_entry import data_entry
from flows.invoice_matching import invoice_matching
from flows.payroll_reconciliation import payroll_reconciliation

__all__ = ["DEMO_PASSWORD", "DEMO_USERS", "run_demo"]

DEMO_PASSWORD = "backoffice-demo"  # noqa: S105 - documented demo credential
DEMO_USERS = {
    "alice": "associate",
    "adam": "associate",
    "bob": "team_lead",
    "carol": "approver",
    "quinn": "qa_analyst",
    "cora": "compliance",
    "root": "admin",
    "rita": "rpa_expert",
}
FIXTURES = Path(fixtures.__file__).resolve().parent


def seed_users(store: Store) -> None:
    for name, role in DEMO_USERS.items():
        try:
            add_user(store, name, role, by="demo", password=DEMO_PASSWORD)
        except ConflictError:
            continue  # seeded by an earlier demo run


def run_demo(console: Console | None = None) -> dict[str, Any]:
    console = console or Console()
    store = Store.open()
    seed_users(store)
    reports = store.home / "reports"
    reports.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {}

    console.print("[bold]1/3 invoice matching[/] (fixtures/invoices)")
    inv = FIXTURES / "invoices"
    results["invoice-matching"] = invoice_matching(
        invoices=str(inv / "pdf"),
        pos=str(inv / "purchase_orders.xlsx"),
        receipts=str(inv / "receipts.csv"),
        vendors=str(inv / "vendors.xlsx"),
        ledger=str(reports / "invoice_ledger.xlsx"),
    )

    console.print("[bold]2/3 payroll reconciliation[/] (fixtures/payroll)")
    pay = FIXTURES / "payroll"
    results["payroll-reconciliation"] = payroll_reconciliation(
        payroll_register=str(pay / "register_2024_01.xlsx"),
        hr=str(pay / "hr_master.csv"),
        timesheets=str(pay / "timesheets.csv"),
        bank_file=str(pay / "bank_payments.xml"),
        statement=str(pay / "statement.xml"),
        gl=str(pay / "gl_totals.csv"),
        previous=str(pay / "previous_register_2023_12.xlsx"),
        vendors=str(pay / "vendors.csv"),
        out=str(reports / "payroll_reconciliation_2024_01.xlsx"),
    )

    console.print("[bold]3/3 data entry[/] (fixtures/data_entry -> fixture ERP app)")
    from fixtures.erp_app import start_in_thread

    with start_in_thread(store.home / "erp_demo.db") as erp:
        os.environ["BACKOFFICE_ERP_USER"] = erp.user
        os.environ["BACKOFFICE_ERP_PASSWORD"] = erp.password
        results["data-entry"] = data_entry(
            input=str(FIXTURES / "data_entry" / "invoices.xlsx"), target=erp.url
        )

    table = Table(title="demo runs")
    for col in ("bot", "items", "done", "queued", "system", "skipped"):
        table.add_column(col, justify="right" if col != "bot" else "left")
    for name, r in results.items():
        table.add_row(
            name,
            str(r["total"]),
            str(r["done"]),
            str(r["queued"]),
            str(r["system_exceptions"]),
            str(r["skipped"]),
        )
    console.print(table)
    console.print(
        f"store: {store.safe_url}\nreports: {reports}\n"
        "next: backoffice queue list | backoffice queue stats | backoffice audit verify | "
        f"backoffice inbox  (users {', '.join(DEMO_USERS)}; password {DEMO_PASSWORD!r})"
    )
    return results
