"""A small bot used by the core tests: orders checked against a limit, posted to a FakeLedger.

The simplest example of the bot contract: typed ``Inputs``, a ``Params`` object the rule set
versions and the rules read, per-run ``State`` holding the run's ledger (so its failure switches
count across the retries of one run, and nothing is shared between runs or kept in a global).
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from backoffice.contract import Bot, InputFile, Inputs, Outcome, OutputFile, State
from backoffice.errors import InputError
from backoffice.items import Item, SourceRef, file_sha256, make_key
from backoffice.money import parse_amount
from backoffice.rules import RuleSet, Violation, rule
from backoffice.runner import Run
from backoffice.testing import FakeLedger


class Order(BaseModel):
    order_id: str
    customer: str
    amount: Decimal


class ToyInputs(Inputs):
    orders: InputFile = Field(description="CSV of orders: order_id, customer, amount.")
    ledger: OutputFile = Field(description="The ledger (JSON lines) the orders are posted to.")
    blocked: list[str] = Field(default_factory=list, description="Customers whose orders need approval.")
    fail_rate: float = Field(default=0.0, ge=0, le=1, description="Share of ledger posts that fail.")
    fail_times: int = Field(default=0, ge=0, description="The first N ledger posts of a run fail.")


class ToyParams(BaseModel):
    model_config = ConfigDict(frozen=True)

    limit: Decimal = Field(default=Decimal("1000"), description="Orders above this need a look (TOY-LIMIT).")


PARAMS = ToyParams()


@dataclass(frozen=True)
class ToyContext:
    """What the rules see: the parameters and this run's blocked customers."""

    limit: Decimal
    blocked: frozenset[str]


@rule(code="TOY-LIMIT", owner_role="associate", sla=timedelta(hours=4), description="Amount above the limit")
def over_limit(order: Order, ctx: ToyContext) -> Iterable[Violation]:
    if order.amount > ctx.limit:
        yield Violation(
            code="",
            message="amount above limit",
            field="amount",
            expected=str(ctx.limit),
            actual=str(order.amount),
        )


@rule(code="TOY-BLOCKED", owner_role="team_lead", sla=timedelta(hours=1), approver_only=True)
def blocked_customer(order: Order, ctx: ToyContext) -> Iterable[Violation]:
    """Customer is blocked"""
    if order.customer in ctx.blocked:
        yield Violation(code="", message="customer blocked", field="customer", actual=order.customer)


@rule(code="TOY-ROUND", description="Round amounts are recorded")
def round_amount(order: Order, ctx: ToyContext) -> Iterable[Violation]:
    if order.amount == order.amount.to_integral_value() and order.amount > 0:
        yield Violation(code="", message="round amount", severity="info", field="amount")


RULES = RuleSet("toy", [over_limit, blocked_customer, round_amount], params=PARAMS)


class ToyState(State[ToyInputs]):
    def __init__(self, inputs: ToyInputs, run: Run, params: ToyParams = PARAMS) -> None:
        super().__init__(inputs, run)
        self.context = ToyContext(limit=params.limit, blocked=frozenset(inputs.blocked))
        self.ledger = FakeLedger(inputs.ledger, fail_rate=inputs.fail_rate, fail_times=inputs.fail_times)


class ToyBot(Bot[ToyInputs, ToyState]):
    name = "toy"
    Inputs = ToyInputs
    model = Order
    ruleset = RULES
    title_field = "order_id"
    summary_labels = ("orders", "posted")

    def __init__(self, params: ToyParams | None = None) -> None:
        """Params in the constructor, as the contract says (change control builds the bot with the
        approved ones); the default is the module's rule set."""
        self.params = params or PARAMS
        self.ruleset = RULES if params is None else RuleSet("toy", RULES.rules, params=self.params)

    def open(self, inputs: ToyInputs, run: Run) -> ToyState:
        return ToyState(inputs, run, self.params)

    def read(self, state: ToyState) -> Iterable[Item]:
        path = state.inputs.orders
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

    def rules_context(self, state: ToyState) -> ToyContext:
        return state.context

    def act(self, items: list[Item], state: ToyState) -> list[Outcome]:
        crash_after = int(os.environ.get("TOY_CRASH_AFTER", "0"))
        out = []
        for n, it in enumerate(items, start=1):
            written = state.ledger.post(it.key, it.payload)
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
