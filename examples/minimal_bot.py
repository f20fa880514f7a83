"""The smallest complete bot: orders from a CSV checked against a limit, run with ``run_bot``.

    python examples/minimal_bot.py

It writes three orders to a temporary CSV and runs the bot on them once: one order goes
straight through, one breaks the limit rule and one has an unreadable amount; both of those
wait in the exception queue (``backoffice queue list --user NAME``). The store is ``BACKOFFICE_HOME``
(``.backoffice`` by default). Run it again on the same store and the same three orders are
skipped: items are keyed by their source, so nothing is processed twice.

Only names from ``backoffice`` itself are used: that is the bot author's API.
"""

from __future__ import annotations

import csv
import tempfile
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from pydantic import BaseModel, Field

from backoffice import (
    Bot,
    InputError,
    InputFile,
    Inputs,
    Item,
    Outcome,
    RuleSet,
    Run,
    SourceRef,
    State,
    Violation,
    file_sha256,
    make_key,
    parse_amount,
    rule,
    run_bot,
)


# -- what the bot is given: one field per `backoffice run orders --option` -----------------------
class OrderInputs(Inputs):
    orders: InputFile = Field(description="CSV of orders: order_id, customer, amount.")


# -- one item: the payload model the runner validates before any rule runs ----------------------
class Order(BaseModel):
    order_id: str
    customer: str
    amount: Decimal


# -- the rules: pure functions with stable codes; their params are part of the rule-set version -
class Limits(BaseModel):
    order_limit: Decimal = Decimal("1000.00")


@rule(code="ORD-LIMIT", owner_role="team_lead", sla=timedelta(hours=4), description="Amount above the limit")
def over_limit(order: Order, limits: Limits) -> Iterator[Violation]:
    if order.amount > limits.order_limit:
        yield Violation(
            code="",  # the rule's code is filled in
            message="amount above the order limit",
            field="amount",
            expected=str(limits.order_limit),
            actual=str(order.amount),
        )


# -- the bot: per-run state, read, act ------------------------------------------------------------
class OrderState(State[OrderInputs]):
    """What one run keeps: here, the orders it posted."""

    def __init__(self, inputs: OrderInputs, run: Run) -> None:
        super().__init__(inputs, run)
        self.posted: list[str] = []


class OrderBot(Bot[OrderInputs, OrderState]):
    name = "orders"
    description = "Post orders up to the order limit; larger ones wait for a team lead."
    Inputs = OrderInputs
    model = Order
    title_field = "customer"
    summary_labels = ("orders", "posted")

    def __init__(self) -> None:
        self.limits = Limits()
        self.ruleset = RuleSet("orders", [over_limit], params=self.limits)

    def open(self, inputs: OrderInputs, run: Run) -> OrderState:
        return OrderState(inputs, run)

    def read(self, state: OrderState) -> Iterator[Item]:
        path = state.inputs.orders
        sha = file_sha256(path)
        with path.open(newline="") as fh:
            for row_no, row in enumerate(csv.DictReader(fh), start=2):
                key = make_key(sha, row["order_id"])  # the same order always has the same key
                source = SourceRef(file=path.name, locator=f"row {row_no}", sha256=sha)
                try:
                    amount = parse_amount(row["amount"])
                except ValueError as exc:  # an unreadable row is queued, never dropped
                    err = InputError(str(exc), file=path.name, row=row_no, column="amount")
                    yield Item.from_input_error(self.name, key, err, source, payload=row)
                    continue
                payload = {"order_id": row["order_id"], "customer": row["customer"], "amount": str(amount)}
                yield Item(
                    bot=self.name, key=key, payload=payload, source=source, amount=amount, currency="EUR"
                )

    def rules_context(self, state: OrderState) -> Limits:
        return self.limits

    def act(self, items: list[Item], state: OrderState) -> list[Outcome]:
        # Only items that passed every rule get here. A real bot posts them to a target system,
        # idempotently by item.key, and raises TransientError for a failure worth retrying.
        state.posted.extend(it.key for it in items)
        return [Outcome(key=it.key, ok=True, result={"posted": True}, action="order.posted") for it in items]


bot = OrderBot()


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        orders = Path(tmp) / "orders.csv"
        orders.write_text("order_id,customer,amount\nO-1,ACME,120.00\nO-2,Globex,4500.00\nO-3,Initech,12x\n")
        summary = run_bot(bot, {"orders": orders})
    print(
        f"orders: {summary.total} read, {summary.done} posted, {summary.queued} queued, "
        f"{summary.skipped} skipped (already processed)"
    )
    for code, count in sorted(summary.codes.items()):
        print(f"  {code}: {count}")
    print(f"rule set {summary.ruleset_version}; see them with: backoffice queue list --user NAME")


if __name__ == "__main__":
    main()
