"""A fourth bot, written outside this repository and installed with pip, works end to end with no file
of backoffice/ changed: listed, run from the CLI, its exceptions queued, its personal data masked
wherever it is shown (queue, inbox, evidence pack), retained by its record class, deployable.

The bot pays bonuses: ``amount`` is a person's pay (``amount_class = DataClass.PAY``), ``fixed_pay``
is declared ``DataClass.PAY`` and ``payout_account`` ``DataClass.BANK_ACCOUNT``. The field names are
chosen so that no guess from key names would mask them (no "salary", no "iban", no "bank_account"),
and the accounts are not IBANs (nothing in free text gives them away): masking can only come from
the declarations.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from backoffice import Store
from tests.conftest import REPO
from tests.plugins.installing import (
    add_users,
    backoffice,
    cli_env,
    inbox_client,
    installed_here,
    pack_texts,
    pip_install,
    queue_list,
    user_args,
)

pytestmark = pytest.mark.slow  # one real `backoffice run` (Prefect's embedded server starts: 10-30 s)

NAME = "bonus-payouts"
PACKAGE = "bonus_payouts_bot"

PYPROJECT = f"""\
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "bonus-payouts-bot"
version = "1.0.0"
description = "Bonus payouts checked against a cap and the accounts on file."
requires-python = ">=3.11"
dependencies = ["backoffice"]

[project.entry-points."backoffice.bots"]
{NAME} = "{PACKAGE}.bot:bot"

[tool.setuptools.packages.find]
include = ["{PACKAGE}*"]
"""

BOT = '''\
"""Bonus payouts: each bonus is capped by a share of the person's fixed pay and paid to the account
on file for that person."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, Field

from backoffice import (
    Bot, DataClass, InputError, InputFile, Inputs, Item, Outcome, Run, RuleSet, SourceRef, State,
    Violation, file_sha256, make_key, parse_amount, rule,
)


class PayoutInputs(Inputs):
    payouts: InputFile = Field(description="CSV of bonus payouts: payout_id, person, amount, fixed_pay, payout_account.")
    master: InputFile = Field(description="CSV of the accounts on file: person, account.")


class Payout(BaseModel):
    payout_id: str
    person: str
    amount: Annotated[Decimal, DataClass.PAY]
    fixed_pay: Annotated[Decimal, DataClass.PAY]
    payout_account: Annotated[str, DataClass.BANK_ACCOUNT]


class Caps(BaseModel):
    bonus_pct: Decimal = Decimal("20")


class PayoutState(State[PayoutInputs]):
    def __init__(self, inputs: PayoutInputs, run: Run) -> None:
        super().__init__(inputs, run)
        self.accounts: dict[str, str] = {}
        self.caps = Caps()


@rule(code="BONUS-CAP", owner_role="team_lead", sla=timedelta(hours=8), description="Bonus above the cap")
def over_cap(p: Payout, state: PayoutState) -> Iterator[Violation]:
    cap = (p.fixed_pay * state.caps.bonus_pct / 100).quantize(Decimal("0.01"))
    if p.amount > cap:
        yield Violation(code="", message="bonus above the cap", field="amount", expected=str(cap), actual=str(p.amount))


@rule(code="BONUS-ACCOUNT", owner_role="associate", approver_only=True, description="Not the account on file")
def account_on_file(p: Payout, state: PayoutState) -> Iterator[Violation]:
    on_file = state.accounts.get(p.person)
    if on_file != p.payout_account:
        yield Violation(
            code="", message="payout account is not the account on file", field="payout_account",
            expected=on_file, actual=p.payout_account,
        )


class PayoutBot(Bot[PayoutInputs, PayoutState]):
    name = "bonus-payouts"
    description = "Pay bonuses up to a cap, to the account on file."
    Inputs = PayoutInputs
    model = Payout
    record_class = "payroll"
    title_field = "person"
    amount_class = DataClass.PAY
    summary_labels = ("payouts", "paid")

    def __init__(self) -> None:
        self.ruleset = RuleSet("bonus-payouts", [over_cap, account_on_file], params=Caps())

    def open(self, inputs: PayoutInputs, run: Run) -> PayoutState:
        state = PayoutState(inputs, run)
        with inputs.master.open(newline="") as fh:
            state.accounts = {r["person"]: r["account"] for r in csv.DictReader(fh)}
        return state

    def read(self, state: PayoutState) -> Iterator[Item]:
        path = state.inputs.payouts
        sha = file_sha256(path)
        with path.open(newline="") as fh:
            for n, row in enumerate(csv.DictReader(fh), start=2):
                key = make_key(sha, row["payout_id"])
                src = SourceRef(file=path.name, locator=f"row {n}", sha256=sha)
                try:
                    amount = parse_amount(row["amount"])
                except ValueError as exc:
                    err = InputError(str(exc), file=path.name, row=n, column="amount")
                    yield Item.from_input_error(self.name, key, err, src, payload=row)
                    continue
                yield Item(bot=self.name, key=key, payload=dict(row), source=src, amount=amount, currency="EUR")

    def act(self, items: list[Item], state: PayoutState) -> list[Outcome]:
        return [Outcome(key=it.key, ok=True, result={"scheduled": True}, action="bonus.scheduled") for it in items]


bot = PayoutBot()
'''

PAYOUTS = """\
payout_id,person,amount,fixed_pay,payout_account
P-1,Ada,1201.37,64012.91,550011112222
P-2,Bert,23456.79,86421.37,660022223333
P-3,Cleo,904.13,50033.17,770033334444
"""
MASTER = "person,account\nAda,550011112222\nBert,660022223333\nCleo,770099998888\n"

# Every personal figure and account of the run (the cap 17284.27 is 20% of Bert's fixed pay).
SECRETS = [
    "1201.37",
    "64012.91",
    "550011112222",
    "23456.79",
    "86421.37",
    "17284.27",
    "660022223333",
    "904.13",
    "50033.17",
    "770033334444",
    "770099998888",
]


def leaked(text: str) -> list[str]:
    return [s for s in SECRETS if s in text]


# -- one distribution, installed once, run once -----------------------------------------------------
@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The bot written outside the repo, installed into T; one CLI run of it in a fresh home."""
    root = tmp_path_factory.mktemp("third_party")
    assert REPO not in root.parents, "the bot must live outside the repository"
    src = root / "src"
    (src / PACKAGE).mkdir(parents=True)
    (src / "pyproject.toml").write_text(PYPROJECT)
    (src / PACKAGE / "__init__.py").write_text('"""A bot of a third party."""\n')
    (src / PACKAGE / "bot.py").write_text(BOT)
    target = root / "T"
    how = pip_install(src, target)

    home = root / "home"
    add_users(home)
    data = root / "data"
    data.mkdir()
    (data / "payouts.csv").write_text(PAYOUTS)
    (data / "master.csv").write_text(MASTER)
    env = cli_env(target, home)
    run_cmd = ("run", NAME, "--payouts", str(data / "payouts.csv"), "--master", str(data / "master.csv"))
    run = backoffice(*run_cmd, *user_args(("run", NAME), "expert", env), "--json", env=env)
    return {"target": target, "home": home, "env": env, "how": how, "summary": json.loads(run.stdout)}


@pytest.fixture
def installed(dist: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    with installed_here(dist["target"], dist["home"], PACKAGE, monkeypatch) as store:
        yield store


def queue_json(dist: dict[str, Any]) -> list[dict[str, Any]]:
    return queue_list(dist["env"], NAME)


# -- the checks -------------------------------------------------------------------------------------
def test_installed_outside_the_repo_with_no_core_change(dist: dict[str, Any]) -> None:
    assert dist["how"] in ("pip", "egg_info")
    assert (dist["target"] / PACKAGE / "bot.py").is_file()


def test_bots_json_lists_it(dist: dict[str, Any]) -> None:
    out = json.loads(backoffice("bots", "--json", env=dist["env"]).stdout)
    entry = {b["name"]: b for b in out}[NAME]
    assert set(entry["inputs"]) == {"payouts", "master"}
    assert entry["record_class"] == "payroll"
    assert entry["title_field"] == "person"
    assert entry["data_classes"] == {
        "amount": "personal.pay",
        "fixed_pay": "personal.pay",
        "payout_account": "personal.bank_account",
    }
    assert set(entry["rules"]) == {"BONUS-CAP", "BONUS-ACCOUNT"}
    assert entry["rules"]["BONUS-ACCOUNT"]["approver_only"] is True


def test_run_help_shows_its_inputs(dist: dict[str, Any]) -> None:
    text = backoffice("run", NAME, "--help", env=dist["env"]).stdout
    assert "--payouts" in text and "--master" in text
    assert "CSV of the accounts on file" in text
    assert "Pay bonuses up to a cap" in text


def test_a_run_queues_its_rule_breakers(dist: dict[str, Any]) -> None:
    summary = dist["summary"]
    assert (summary["total"], summary["done"], summary["queued"]) == (3, 1, 2)
    assert summary["codes"] == {"BONUS-ACCOUNT": 1, "BONUS-CAP": 1}
    rows = queue_json(dist)
    assert sorted(tuple(r["codes"]) for r in rows) == [("BONUS-ACCOUNT",), ("BONUS-CAP",)]
    assert {r["bot"] for r in rows} == {NAME}
    assert {r["owner_role"] for r in rows} == {"associate", "team_lead"}


def test_pay_and_accounts_are_masked_in_queue_list(dist: dict[str, Any]) -> None:
    rows = queue_json(dist)
    assert len(rows) == 2
    text = json.dumps(rows)
    assert leaked(text) == []
    fields = {v["field"] for r in rows for v in r["violations"]}
    assert fields == {"amount", "payout_account"}  # the violations are there, their values masked


def test_pay_and_accounts_are_masked_in_the_inbox(dist: dict[str, Any], installed: Store) -> None:
    ids = [r["id"] for r in queue_json(dist)]
    associate = inbox_client(installed, "associate")
    page = associate.get("/queue", params={"bot": NAME})
    assert page.status_code == 200
    assert NAME in page.text and "BONUS-CAP" in page.text
    assert leaked(page.text) == []
    qa = inbox_client(installed, "qa")  # not working these items: sees them masked
    for item_id in ids:
        detail = qa.get(f"/items/{item_id}")
        assert detail.status_code == 200, detail.text
        assert "BONUS-" in detail.text
        assert leaked(detail.text) == []


def test_pay_and_accounts_are_masked_in_an_evidence_pack(dist: dict[str, Any], tmp_path: Path) -> None:
    texts = pack_texts(dist["env"], NAME, tmp_path / "pack.zip")
    entries = [json.loads(line) for line in texts["entries.jsonl"].splitlines() if line.strip()]
    assert {"run.started", "item.queued", "run.finished"} <= {e["action"] for e in entries}
    assert {n: leaked(t) for n, t in texts.items() if leaked(t)} == {}


def test_retention_applies_its_record_class(dist: dict[str, Any]) -> None:
    """Payroll keeps 7 years, financial 10 (the class of a bot that declares none of its own): 8 years
    on, the bot's finished item and its entries are due, as payroll."""
    as_of = (datetime.now(UTC) + timedelta(days=8 * 365)).date().isoformat()
    out = backoffice(
        "audit", "purge", "--dry-run", "--as-of", as_of, "--user", "compliance", "--json", env=dist["env"]
    )
    result = json.loads(out.stdout)
    assert result["items_purged"] == 1  # the one done payout; queued ones are not finished
    assert result["by_class"].get("payroll", 0) >= 3  # run.started, item.done, ...
    assert "financial" not in result["by_class"]
    assert result["stopped_at"] is None or result["stopped_at"]["class"] != "financial"


def test_a_prefect_deployment_can_be_built(installed: Store) -> None:
    from prefect.deployments.runner import EntrypointType
    from prefect.utilities.callables import parameter_schema
    from prefect.utilities.importtools import import_object

    from backoffice.orchestration.deploy import discover

    target = {t.name: t for t in discover()}[NAME]
    assert target.kind == "bot"
    deployment = target.flow.to_deployment(name="x", entrypoint_type=EntrypointType.MODULE_PATH)
    assert (deployment.name, deployment.flow_name) == ("x", NAME)
    schema = parameter_schema(target.flow)  # what the deployment's parameter form shows
    assert set(schema.properties) == {"payouts", "master", "batch_size", "engagement", "rule_params"}
    assert set(schema.required or []) == {"payouts", "master"}
    assert "accounts on file" in schema.properties["master"].get("description", "")
    loaded = import_object(target.entrypoint)  # what a worker does with the deployment's entrypoint
    assert loaded.name == NAME
    assert set(parameter_schema(loaded).properties) == set(schema.properties)
