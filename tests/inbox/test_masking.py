"""The inbox and the queue CLI mask what the bots declare personal (tests.compliance.databots):
a pay figure, a bank account, a national id; an item's amount when it is a person's pay; the list
titles come from each bot's title_field."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from backoffice.cli import main
from backoffice.plugins import use_bots
from backoffice.queue import Queue
from backoffice.runner import run_bot
from backoffice.store import Store
from tests.compliance import databots
from tests.inbox.conftest import login, make_client, post

ACCOUNT = "DE89370400440532013000"
OTHER_ACCOUNT = "DE02120300000000202051"
NATIONAL_ID = "67000002R"


def _record(key: str, payload: dict[str, Any], amount: str) -> dict[str, Any]:
    return {"key": key, "payload": payload, "amount": amount, "source": {"file": "in.json", "locator": key}}


@pytest.fixture
def queued(bo_store: Store, bo_users: dict[str, str], tmp_path: Path) -> Iterator[dict[str, int]]:
    """One employee's pay line (amount = net pay) and one invoice, queued by real runs."""
    employee = {
        "employee_id": "E7",
        "name": "Ann Example",
        "national_id": NATIONAL_ID,
        "bank_account": ACCOUNT,
        "gross": "5123.45",
        "net": "4321.98",
    }
    pay = databots.write_items(
        tmp_path / "pay.json", [_record("E7-2024-01", {"kind": "employee", "employee": employee}, "4321.98")]
    )
    invoice = {"invoice_number": "INV-777", "vendor_id": "V1", "gross_total": "777.12", "iban": OTHER_ACCOUNT}
    inv = databots.write_items(tmp_path / "inv.json", [_record("INV-777", invoice, "777.12")])
    with use_bots([databots.payroll, databots.invoices]):
        run_bot(databots.payroll, {"pay_lines": pay, "hr_gross": "5000.00"}, store=bo_store)
        run_bot(databots.invoices, {"invoices": inv, "master_iban": ACCOUNT}, store=bo_store)
        ids = {it.key: it.id for it in Queue(bo_store).list(status="queued", limit=None)}
        yield {"pay": ids["E7-2024-01"], "invoice": ids["INV-777"]}


def test_queue_list_masks_a_persons_pay_and_titles_items_by_their_title_field(bo_store, queued) -> None:
    c = make_client(bo_store)
    login(c, "associate")
    page = c.get("/queue").text
    assert "4,321.98" not in page and "4321.98" not in page and "•••.••" in page
    assert "777.12" in page  # an invoice's amount is not personal
    assert "Ann Example" in page and "INV-777" in page  # the bots' title fields
    assert ACCOUNT not in page and OTHER_ACCOUNT not in page


def test_item_page_shows_its_workers_the_pay_and_masks_the_rest_until_compliance_unmasks(
    bo_store, queued
) -> None:
    c = make_client(bo_store)
    login(c, "associate")  # the item's tier role: works it, so sees the pay figures it must check
    html = c.get(f"/items/{queued['pay']}").text
    assert "5123.45" in html and 'id="need-to-know"' in html
    assert NATIONAL_ID not in html and ACCOUNT not in html  # last 4 only, unless unmasked
    assert "••••002R" in html and "••••3000" in html
    assert "Ann Example" in html  # not declared personal
    qa = make_client(bo_store)
    login(qa, "qa")  # does not work the item: masks
    html = qa.get(f"/items/{queued['pay']}").text
    assert "5123.45" not in html and "•••.••" in html and NATIONAL_ID not in html
    inv = c.get(f"/items/{queued['invoice']}").text
    assert OTHER_ACCOUNT not in inv and "••••2051" in inv and "777.12" in inv
    comp = make_client(bo_store)
    token = login(comp, "compliance")
    clear = post(comp, f"/items/{queued['pay']}/unmask", token, reason="payroll query PQ-1").text
    assert NATIONAL_ID in clear and ACCOUNT in clear and "5123.45" in clear


def test_queue_cli_masks_by_the_declared_classes(queued, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["queue", "list", "--json", "--user", "qa"]) == 0
    rows = {r["key"]: r for r in json.loads(capsys.readouterr().out)}
    pay, inv = rows["E7-2024-01"], rows["INV-777"]
    assert pay["amount"] == "•••.••" and inv["amount"] == "777.12"
    e = pay["payload"]["employee"]
    assert e["gross"] == e["net"] == "•••.••" and e["bank_account"] == "••••3000"
    assert e["national_id"] == "••••002R" and e["name"] == "Ann Example"
    v = pay["violations"][0]
    assert v["field"] == "employee.gross" and v["expected"] == v["actual"] == "•••.••"
    assert inv["payload"]["iban"] == "••••2051" and inv["payload"]["gross_total"] == "777.12"
    assert main(["queue", "show", str(pay["id"]), "--json", "--user", "qa"]) == 0
    assert ACCOUNT not in capsys.readouterr().out


def test_the_api_item_shows_its_workers_the_pay_they_check_and_masks_it_for_others(bo_store, queued) -> None:
    from backoffice.users import create_token

    c = make_client(bo_store)
    pay = queued["pay"]

    def shown(user: str) -> str:
        token = create_token(bo_store, user, "test", days=1, auth="password")[1]
        with use_bots([databots.payroll, databots.invoices]):
            r = c.get(f"/api/v1/items/{pay}", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200
        return json.dumps(r.json())

    worker, qa = shown("associate"), shown("qa")
    assert "4321.98" in worker and ACCOUNT not in worker and ACCOUNT[-4:] in worker  # need to know
    assert "4321.98" not in qa and ACCOUNT not in qa  # not its worker: masks
