"""The payroll bot's bank inputs swapped: a statement given as --bank-file (and a payment file as
--statement) is refused as what it is, before anything is written."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from backoffice.errors import InputError
from backoffice.runner import run_bot
from backoffice.schema import runs
from backoffice.store import Store
from bots.payroll_reconciliation.bot import PayrollReconciliationBot
from tests.bots.payroll_reconciliation.helpers import status_counts


def refused(store: Store, inputs: dict[str, Any]) -> InputError:
    with pytest.raises(InputError) as ei:
        run_bot(PayrollReconciliationBot(), inputs, store=store)
    assert status_counts(store) == {} and not Path(inputs["out"]).exists()
    with store.read() as conn:
        assert [r.status for r in conn.execute(select(runs.c.status))] == ["failed"]
    return ei.value


def test_statement_given_as_bank_file(bo_store: Store, payroll_inputs: dict[str, Any]) -> None:
    payroll_inputs["bank_file"] = payroll_inputs["statement"]
    err = refused(bo_store, payroll_inputs)
    assert err.code == "NOT-PAYMENT-FILE" and err.file == payroll_inputs["statement"]
    assert "this is a bank statement (camt.053), not a payment file" in str(err)
    assert "NbOfTxs" not in str(err)


def test_payment_file_given_as_statement(bo_store: Store, payroll_inputs: dict[str, Any]) -> None:
    payroll_inputs["statement"] = payroll_inputs["bank_file"]
    err = refused(bo_store, payroll_inputs)
    assert err.code == "NOT-STATEMENT" and "this is a payment file (pain.001), not a bank statement" in str(
        err
    )
