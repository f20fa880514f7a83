"""A small bot used by the core tests: orders checked against a limit, posted to a FakeLedger."""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from backoffice.errors import InputError
from backoffice.items import Item, SourceRef, file_sha256, make_key
from backoffice.money import parse_amount
from backoffice.rules import RuleSet, Violation, rule
from backoffice.runner import Outcome, RunContext
from backoffice.testing import FakeLedger


class Order(BaseModel):
    order_id: str
    customer: str
    amount: Decimal


@rule(code="TOY-LIMIT", owner_role="associate", sla=timedelta(hours=4), description="Amount above the limit")
def over_limit(order: Order, ctx: dict[str, Any]) -> Iterable[Violation]:
    if order.amount > ctx["limit"]:
        yield Violation(
            code="",
            message="amount above limit",
            field="amount",
            expected=str(ctx["limit"]),
            actual=str(order.amount),
        )


@rule(code="TOY-BLOCKED", owner_role="team_lead", sla=timedelta(hours=1), approver_only=True)
def blocked_customer(order: Order, ctx: dict[str, Any]) -> Iterable[Violation]:
    """Customer is blocked"""
    if order.customer in ctx["blocked"]:
        yield Violation(code="", message="customer blocked", field="customer", actual=order.customer)


@rule(code="TOY-ROUND", description="Round amounts are recorded")
def round_amount(order: Order, ctx: dict[str, Any]) -> Iterable[Violation]:
    if order.amount == order.amount.to_integral_value() and order.amount > 0:
        yield Violation(code="", message="round amount", severity="info", field="amount")


RULES = RuleSet("toy", [over_limit, blocked_customer, round_amount], params={"limit": "1000"})


_LEDGERS: dict[str, FakeLedger] = {}


class ToyBot:
    name = "toy"
    model = Order
    ruleset = RULES

    def read(self, inputs: dict[str, Any], run: RunContext) -> Iterable[Item]:
        path = Path(inputs["orders"])
        sha = file_sha256(path)
        with path.open(newline="") as fh:
            for row_no, row in enumerate(csv.DictReader(fh), start=2):
                src = SourceRef(file=path.name, locator=f"row {row_no}", sha256=sha)
                key = make_key(sha, row.get("order_id"))
                try:
                    amount = parse_amount(row.get("amount"))
                except ValueError as exc:
                    err = InputError(str(exc), file=path.name, row=row_no, column="amount")
                    yield Item.from_input_error(self.name, key, err, src, payload=row)
                    continue
                payload = {"order_id": row["order_id"], "customer": row["customer"], "amount": str(amount)}
                yield Item(bot=self.name, key=key, payload=payload, source=src, amount=amount, currency="EUR")

    def context(self, inputs: dict[str, Any], run: RunContext) -> dict[str, Any]:
        return {"limit": Decimal("1000"), "blocked": set(inputs.get("blocked", []))}

    def act(self, items: list[Item], ctx: Any, run: RunContext) -> list[Outcome]:
        path = run.inputs["ledger"]
        ledger = _LEDGERS.get(path)
        if ledger is None:  # one ledger per target for the process, so failure switches count across calls
            ledger = _LEDGERS[path] = FakeLedger(
                Path(path),
                fail_rate=float(run.inputs.get("fail_rate", 0)),
                fail_times=int(run.inputs.get("fail_times", 0)),
            )
        crash_after = int(os.environ.get("TOY_CRASH_AFTER", "0"))
        out = []
        for n, it in enumerate(items, start=1):
            written = ledger.post(it.key, it.payload)
            if crash_after and n >= crash_after:
                os._exit(17)  # simulate a killed worker right after posting
            out.append(Outcome(key=it.key, ok=True, result={"posted": written}, action="order.posted"))
        return out


bot = ToyBot()


def write_orders(path: Path, n: int, *, bad_rows: Iterable[int] = (), big: Iterable[int] = ()) -> Path:
    bad, large = set(bad_rows), set(big)
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["order_id", "customer", "amount"])
        for i in range(1, n + 1):
            amount = "12x" if i in bad else ("5000.00" if i in large else f"{10 + i % 90}.25")
            w.writerow([f"O{i:05d}", f"C{i % 7}", amount])
    return path
