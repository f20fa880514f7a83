"""Resolved payroll exceptions go back through the bot: corrections are re-checked by all rules."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from backoffice.queue import Queue
from backoffice.queue.rounds import history
from backoffice.runner import reprocess, run_bot
from backoffice.schema import audit as audit_table
from backoffice.store import Store
from bots.payroll_reconciliation.bot import PayrollReconciliationBot
from bots.payroll_reconciliation.models import PayrollItem
from tests.bots.payroll_reconciliation.helpers import BOT, codes_by_subject


def item_of(store: Store, employee_id: str) -> Any:
    return next(
        q
        for q in Queue(store).list(status="queued", bot=BOT, limit=None, sort="id")
        if q.payload.get("employee", {}).get("employee_id") == employee_id
    )


def test_corrected_net_is_rechecked_by_every_rule(
    bo_store: Store, bo_users: dict[str, str], payroll_inputs: dict[str, Any]
) -> None:
    bot = PayrollReconciliationBot()
    run_bot(bot, payroll_inputs, store=bo_store)
    queue = Queue(bo_store)
    it = item_of(bo_store, "E00201")  # net 50.00 too high
    (v,) = it.violations
    raised = queue.stats(bot=BOT)["exceptions_by_code"]
    queue.claim(it.id, "associate")
    queue.resolve(
        it.id,
        "associate",
        "correct",
        "net recomputed from gross and deductions",
        root_cause="bad_source_data",
        changes={"employee.net": v.expected},
        model=PayrollItem,
    )
    summary = reprocess(bot, store=bo_store)
    assert summary.total == 1
    # the bank file paid the wrong (old) net: the correction surfaces the overpayment
    assert codes_by_subject(bo_store)["E00201"] == {"PAY-BANK-AMOUNT"}
    # issue 13: the first round's code stays, on the item and in the KPIs
    rounds = history(bo_store, it.id)
    assert [[x["code"] for x in r["violations"]] for r in rounds] == [[v.code], ["PAY-BANK-AMOUNT"]]
    assert rounds[0]["decision"] == "correct" and rounds[0]["maker"] == "associate"
    after = queue.stats(bot=BOT)["exceptions_by_code"]
    assert after[v.code] == raised[v.code]  # still counted though corrected away
    assert after["PAY-BANK-AMOUNT"] == raised.get("PAY-BANK-AMOUNT", 0) + 1


def test_approved_exception_is_reconciled_after_maker_checker(
    bo_store: Store, bo_users: dict[str, str], payroll_inputs: dict[str, Any]
) -> None:
    bot = PayrollReconciliationBot()
    run_bot(bot, payroll_inputs, store=bo_store)
    queue = Queue(bo_store)
    it = item_of(bo_store, "E00188")  # PAY-HOURS: 8 hours paid without a timesheet
    queue.claim(it.id, "associate")
    queue.resolve(it.id, "associate", "approve", "manager confirmed the hours by e-mail")
    queue.resolve(it.id, "team_lead", "approve", "checked the e-mail")
    summary = reprocess(bot, store=bo_store)
    assert summary.done == 1
    assert "E00188" not in codes_by_subject(bo_store)
    with bo_store.read() as conn:
        reconciled = [
            d
            for a, d in conn.execute(select(audit_table.c.action, audit_table.c.data))
            if a == "payroll.reconciled" and '"E00188"' in str(d).replace("'", '"')
        ]
    assert len(reconciled) == 1
