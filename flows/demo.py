"""The demo: all three bots on fixtures/, embedded SQLite store, Prefect embedded mode.

``backoffice demo [--json]`` (and ``make demo``) is :func:`command`, published under the
entry-point group ``backoffice.commands``, so the core CLI neither imports this module nor
``fixtures``. It seeds demo users (password ``backoffice-demo``), puts the ownership register
fixtures/owners.toml in force (proposed by rita, approved by carol), runs invoice matching, payroll
reconciliation and data entry through their flows (the latter against the fixture ERP app started
on 127.0.0.1 with a free port), and prints what went straight through and what waits in the
queue. Running it again skips what is already done.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from backoffice.errors import ConflictError
from backoffice.store import Store
from backoffice.users import add_user

__all__ = ["DEMO_PASSWORD", "DEMO_USERS", "apply_register", "command", "run_demo"]

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


def fixtures_dir() -> Path:
    import fixtures

    return Path(fixtures.__file__).resolve().parent


def seed_users(store: Store) -> None:
    for name, role in DEMO_USERS.items():
        try:
            add_user(store, name, role, by="demo", password=DEMO_PASSWORD)
        except ConflictError:
            continue  # seeded by an earlier demo run


def apply_register(store: Store) -> None:
    """The ownership register the demo runs under (fixtures/owners.toml): proposed by rita (RPA
    expert) and approved by carol (the client approver), unless it is already in force."""
    from backoffice.ownership import approve, current_register, list_versions, load_register, propose

    reg = load_register(fixtures_dir() / "owners.toml", store=store)
    current = current_register(store, reg.engagement)
    if current is not None and current.version == reg.version:
        return
    waiting = [
        v
        for v in list_versions(store, "carol", reg.engagement, status="proposed")
        if v.version == reg.version
    ]
    rec = waiting[0] if waiting else propose(store, reg, "rita", reason="the demo's ownership register")
    approve(store, rec.id, "carol", reason="the demo runs under it")


@contextmanager
def _erp_login(user: str, password: str) -> Iterator[None]:
    """The fixture ERP's login where the data-entry bot looks for it (the environment, as in
    production), for the demo run only."""
    names = ("BACKOFFICE_ERP_USER", "BACKOFFICE_ERP_PASSWORD")
    before = {n: os.environ.get(n) for n in names}
    os.environ.update(dict(zip(names, (user, password), strict=True)))
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def run_demo(console: Console | None = None) -> dict[str, Any]:
    from fixtures.erp_app import start_in_thread
    from flows.data_entry import data_entry
    from flows.invoice_matching import invoice_matching
    from flows.payroll_reconciliation import payroll_reconciliation

    console = console or Console()
    store = Store.open()
    seed_users(store)
    apply_register(store)  # every queued item gets a decision owner and a response-time commitment
    reports = store.home / "reports"
    reports.mkdir(parents=True, exist_ok=True)
    fixtures = fixtures_dir()
    results: dict[str, Any] = {}

    console.print("[bold]1/3 invoice matching[/] (fixtures/invoices)")
    inv = fixtures / "invoices"
    results["invoice-matching"] = invoice_matching(
        invoices=str(inv / "pdf"),
        pos=str(inv / "purchase_orders.xlsx"),
        receipts=str(inv / "receipts.csv"),
        vendors=str(inv / "vendors.xlsx"),
        ledger=str(reports / "invoice_ledger.xlsx"),
    )

    console.print("[bold]2/3 payroll reconciliation[/] (fixtures/payroll)")
    pay = fixtures / "payroll"
    results["payroll-reconciliation"] = payroll_reconciliation(
        register=str(pay / "register_2024_01.xlsx"),
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
    with start_in_thread(store.home / "erp_demo.db") as erp, _erp_login(erp.user, erp.password):
        results["data-entry"] = data_entry(
            input=str(fixtures / "data_entry" / "invoices.xlsx"), target=erp.url
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
        "next: backoffice queue list --user alice | backoffice queue stats --user alice | backoffice audit verify | "
        f"backoffice inbox  (users {', '.join(DEMO_USERS)}; password {DEMO_PASSWORD!r})"
    )
    return results


def command(
    json_: Annotated[bool, typer.Option("--json", help="Print the run summaries as JSON.")] = False,
) -> None:
    """Run all three bots on fixtures/ with the embedded store and Prefect's embedded mode."""
    from backoffice.cli._common import print_json

    result = run_demo()
    if json_:
        print_json(result)
