"""Issue 13: a queued employee carries the records it was compared with (structured evidence), and
its violation messages quote pay only through a masked rendering."""

from __future__ import annotations

import json
from typing import Any

from backoffice.audit import evidence_path
from backoffice.evidence_records import parse_records
from backoffice.pii import PAY_MASK, Masking
from backoffice.queue import Queue
from backoffice.runner import run_bot
from backoffice.store import Store
from bots.payroll_reconciliation.bot import PayrollReconciliationBot


def _employee_items(store: Store) -> list[Any]:
    return [
        it for it in Queue(store).list(status="queued", limit=None) if it.row["payload"]["kind"] == "employee"
    ]


def test_a_queued_employee_carries_its_compared_records(
    bo_store: Store, payroll_inputs: dict[str, Any]
) -> None:
    run_bot(PayrollReconciliationBot(), payroll_inputs, store=bo_store)
    hours = [it for it in _employee_items(bo_store) if "PAY-HOURS" in it.row["codes"]]
    assert hours, "the fixture plants a PAY-HOURS case"
    it = hours[0]
    (ref,) = [e for e in it.row["evidence"] if e["name"].endswith("-records.json")]
    records = parse_records(json.loads(evidence_path(bo_store, ref["sha256"]).read_text()))
    assert records is not None
    names = [r.name for r in records]
    assert names[:3] == ["Register", "HR master", "Timesheets"] and "Bank payment" in names
    register = records[0]
    assert "regular_hours" in register.highlight
    assert str(register.classes["net"]) == "personal.pay"
    timesheets = records[2]
    assert isinstance(timesheets.data, list) and timesheets.data and "hours" in timesheets.data[0]
    assert "hours" in timesheets.highlight
    hr = records[1]
    assert isinstance(hr.data, dict) and str(hr.classes["bank_account"]) == "personal.bank_account"
    # masked for readers who do not work the item: pay and the account
    shown = Masking().declared(hr.classes, hr.data)
    assert shown["bank_account"].startswith("••••") and shown["bank_account"] != hr.data["bank_account"]
    if hr.data.get("hourly_rate") is not None:
        assert shown["hourly_rate"] == PAY_MASK
    # departments and controls carry no records
    others = [
        i for i in Queue(bo_store).list(status="queued", limit=None) if i.row["payload"]["kind"] != "employee"
    ]
    assert all(not e["name"].endswith("-records.json") for i in others for e in i.row["evidence"])


def test_no_pay_figure_reaches_a_listing(bo_store: Store, payroll_inputs: dict[str, Any]) -> None:
    run_bot(PayrollReconciliationBot(), payroll_inputs, store=bo_store)
    masking = Masking()
    for it in _employee_items(bo_store):
        emp = it.row["payload"]["employee"]
        figures = {
            str(emp[k]) for k in ("gross", "net", "base_pay", "rate") if emp.get(k) not in (None, "0", "0.00")
        }
        for v in it.to_dict(masking=masking)["violations"]:
            text = f"{v['message']} {v['expected']} {v['actual']}"
            for f in figures:
                assert f not in text, (it.row["codes"], v["message"])
