"""Tests of the scaffold-name bot.

``bo_store`` comes from the backoffice pytest plugin (installed with backoffice): a fresh store in
``tmp_path`` with ``BACKOFFICE_HOME`` pointing there, so runs never touch a real one.
"""

from __future__ import annotations

import json
from decimal import Decimal
from importlib.metadata import entry_points
from pathlib import Path

import pytest
from backoffice import InputError, Store, run_bot
from backoffice import change_control as cc
from backoffice.testing import done, queued

from scaffold_pkg.bot import ScaffoldNameBot, bot
from scaffold_pkg.models import ScaffoldNamePayment
from scaffold_pkg.rules import PARAMS, ScaffoldNameParams, missing_account, over_limit

SAMPLE = """ref,payee,amount,payee_account
P-1,ACME Supplies,120.00,DE89370400440532013000
P-2,Globex,4500.00,GB29NWBK60161331926819
P-3,Initech,80.00,
P-4,Umbrella,12x,FR1420041010050500013M02606
"""


def write_sample(path: Path) -> Path:
    path.write_text(SAMPLE)
    return path


def inputs(tmp_path: Path) -> dict[str, Path]:
    return {"payments": write_sample(tmp_path / "payments.csv"), "ledger": tmp_path / "ledger.jsonl"}


def test_the_rules_on_one_payment() -> None:
    fine = ScaffoldNamePayment(ref="P-1", payee="ACME", amount=Decimal("10.00"), payee_account="12345678")
    assert list(over_limit(fine, PARAMS)) == []
    assert list(missing_account(fine, PARAMS)) == []
    big = fine.model_copy(update={"amount": PARAMS.limit + Decimal("0.01"), "payee_account": None})
    assert [v.field for v in over_limit(big, PARAMS)] == ["amount"]
    assert [v.field for v in missing_account(big, PARAMS)] == ["payee_account"]


def test_a_run_queues_the_rule_breakers_and_writes_the_rest(bo_store: Store, tmp_path: Path) -> None:
    given = inputs(tmp_path)
    summary = run_bot(bot, given, store=bo_store)

    assert (summary.total, summary.done, summary.queued) == (4, 1, 3)
    assert dict(summary.codes) == {"INPUT": 1, "SCAFFOLD-CODE-ACCOUNT": 1, "SCAFFOLD-CODE-LIMIT": 1}
    assert summary.extra["ledger"] == str(given["ledger"].resolve())
    waiting = sorted(v.code for it in queued(bo_store, bot.name) for v in it.violations)
    assert waiting == sorted(["INPUT", "SCAFFOLD-CODE-ACCOUNT", "SCAFFOLD-CODE-LIMIT"])
    assert len(done(bo_store, bot.name)) == 1
    ledger = [json.loads(line) for line in given["ledger"].read_text().splitlines()]
    assert [(row["ref"], row["amount"]) for row in ledger] == [("P-1", "120.00")]


def test_a_rerun_processes_nothing_twice(bo_store: Store, tmp_path: Path) -> None:
    given = inputs(tmp_path)
    run_bot(bot, given, store=bo_store)
    again = run_bot(bot, given, store=bo_store)
    assert (again.total, again.done, again.queued, again.skipped) == (4, 0, 0, 4)
    assert len(given["ledger"].read_text().splitlines()) == 1


def test_an_approved_tolerance_change_is_what_the_next_run_uses(
    bo_store: Store, bo_users: dict[str, str], tmp_path: Path
) -> None:
    """Change control: an RPA expert proposes ``limit=100``, the client approver (never the
    proposer) approves it, and the runs then build the bot with it (its params come in its
    constructor), so the 120.00 payment now waits for a look too."""
    assert ScaffoldNameBot(ScaffoldNameParams(limit=Decimal("100"))).ruleset.version != bot.ruleset.version
    proposal = cc.propose(bo_store, bot, "expert", {"limit": "100.00"}, reason="a tighter look")
    assert proposal.changes == {"limit": {"from": "1000.00", "to": "100.00"}}
    cc.approve(bo_store, proposal.id, "approver")
    summary = run_bot(bot, inputs(tmp_path), store=bo_store)
    assert summary.ruleset_version == proposal.version and summary.extra["approval"] == proposal.id
    assert dict(summary.codes) == {"INPUT": 1, "SCAFFOLD-CODE-ACCOUNT": 1, "SCAFFOLD-CODE-LIMIT": 2}
    assert summary.done == 0 and PARAMS.limit == Decimal("1000.00")  # the default is untouched


def test_bad_inputs_name_the_option(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="--payments"):
        bot.parse_inputs({"payments": tmp_path / "missing.csv", "ledger": tmp_path / "ledger.jsonl"})
    (tmp_path / "payments.txt").write_text(SAMPLE)
    with pytest.raises(InputError, match=r"\.csv"):
        bot.parse_inputs({"payments": tmp_path / "payments.txt", "ledger": tmp_path / "ledger.jsonl"})


def test_installed_as_a_backoffice_bot() -> None:
    """The entry point in pyproject.toml names this bot (``pip install -e .`` registers it)."""
    found = [ep for ep in entry_points(group="backoffice.bots") if ep.name == bot.name]
    assert [ep.load() for ep in found] == [bot]
