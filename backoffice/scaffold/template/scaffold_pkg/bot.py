"""The scaffold-name bot: read payment requests, let the rules check them, write the rest to a ledger.

Steps (the runner calls them; each gets this run's state, nothing is kept between runs):

1. ``open``: the state of one run, with the keys already in the ledger;
2. ``read``: one item per CSV row, keyed by the file's sha256 and the row's ref, so a rerun never
   processes a row twice; a row that cannot be read becomes an item with an ``INPUT`` violation
   (it goes to the queue, it is never dropped);
3. the runner validates each payload with :class:`ScaffoldNamePayment` and runs the rule set,
   built with the bot's params (the approved ones, once change control approved a change); rows
   that break a rule wait in the exception queue for a person;
4. ``act``: the rows that passed are appended to the ledger, idempotently by key.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Mapping
from typing import Any

from backoffice import (
    Bot,
    InputError,
    Item,
    Outcome,
    Run,
    RunSummary,
    SourceRef,
    State,
    file_sha256,
    make_key,
    parse_amount,
)

from .models import COLUMNS, ScaffoldNameInputs, ScaffoldNamePayment
from .rules import PARAMS, RULES, ScaffoldNameParams, build_ruleset


class ScaffoldNameState(State[ScaffoldNameInputs]):
    """One run's state: the keys already written to the ledger."""

    def __init__(self, inputs: ScaffoldNameInputs, run: Run) -> None:
        super().__init__(inputs, run)
        self.in_ledger: set[str] = set()


class ScaffoldNameBot(Bot[ScaffoldNameInputs, ScaffoldNameState]):
    name = "scaffold-name"
    description = "Pay requests from a CSV up to a limit; larger ones and those without an account wait."
    Inputs = ScaffoldNameInputs
    model = ScaffoldNamePayment
    record_class = "financial"  # how long retention keeps its items and audit entries
    title_field = "payee"  # what titles an item in the queue and the inbox
    summary_labels = ("payments", "paid")
    ruleset = RULES

    def __init__(self, params: ScaffoldNameParams | None = None) -> None:
        """Params in the constructor, as the bot contract says: change control builds the bot with
        the approved params (``type(bot)(params)``), and the rules run with them."""
        self.params = params or PARAMS
        self.ruleset = RULES if params is None else build_ruleset(self.params)

    def open(self, inputs: ScaffoldNameInputs, run: Run) -> ScaffoldNameState:
        state = ScaffoldNameState(inputs, run)
        if inputs.ledger.exists():
            with inputs.ledger.open() as fh:
                state.in_ledger = {json.loads(line)["key"] for line in fh if line.strip()}
        return state

    def read(self, state: ScaffoldNameState) -> Iterator[Item]:
        path = state.inputs.payments
        sha = file_sha256(path)
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
            if missing:
                raise InputError(f"missing columns: {', '.join(missing)}", file=path.name)
            for row_no, row in enumerate(reader, start=2):
                ref = (row["ref"] or "").strip()
                key = make_key(sha, ref or f"row {row_no}")
                source = SourceRef(file=path.name, locator=f"row {row_no}", sha256=sha)
                payload = {c: (row[c] or "").strip() or None for c in COLUMNS}
                try:
                    amount = parse_amount(row["amount"])
                except ValueError as exc:
                    err = InputError(str(exc), file=path.name, row=row_no, column="amount")
                    yield Item.from_input_error(self.name, key, err, source, payload=payload)
                    continue
                payload["amount"] = str(amount)
                yield Item(bot=self.name, key=key, payload=payload, source=source, amount=amount)

    def rules_context(self, state: ScaffoldNameState) -> ScaffoldNameParams:
        return self.params

    def act(self, items: list[Item], state: ScaffoldNameState) -> list[Outcome]:
        outcomes = []
        state.inputs.ledger.parent.mkdir(parents=True, exist_ok=True)
        with state.inputs.ledger.open("a") as fh:
            for it in items:
                written = it.key not in state.in_ledger
                if written:
                    fh.write(json.dumps({"key": it.key, **it.payload}) + "\n")
                    state.in_ledger.add(it.key)
                outcomes.append(
                    Outcome(key=it.key, ok=True, result={"written": written}, action="payment.paid")
                )
        return outcomes

    def finish(self, state: ScaffoldNameState, summary: RunSummary) -> Mapping[str, Any]:
        return {"ledger": str(state.inputs.ledger)}


bot = ScaffoldNameBot()
