"""Change control of the data-entry bot (issue 14.3): its params come in its constructor, as the
contract says, so `backoffice rules propose data-entry --set max_future_days=N` is typed, previewed
against the decided rows (the target logged into again for its look-ups), refused in production
until approved, and once approved used by the next run (real Chromium, the fixture ERP)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from backoffice import audit
from backoffice import change_control as cc
from backoffice.browser import launch_options
from backoffice.cli import main
from backoffice.errors import ConfigError
from backoffice.runner import run_bot
from backoffice.settings import reset_settings
from backoffice.store import Store
from backoffice.testing import TEST_USERS, open_store
from backoffice.users import add_user
from bots.data_entry.bot import DataEntryBot, bot
from bots.data_entry.rules import PARAMS, RULES, DataEntryParams
from fixtures.data_entry.generate import HEADERS, make_rows, write_workbook
from fixtures.erp_app import DEFAULT_PASSWORD, DEFAULT_USER, start_in_thread


def test_the_bot_takes_its_params_in_its_constructor() -> None:
    assert bot.params is PARAMS and bot.ruleset is RULES
    other = DataEntryBot(DataEntryParams(max_future_days=5))
    assert other.ruleset.params_dict() == {"max_future_days": 5}
    assert other.ruleset.code_version == bot.ruleset.code_version
    assert other.ruleset.version != bot.ruleset.version
    assert [r.code for r in other.ruleset.rules] == [r.code for r in bot.ruleset.rules]
    # what change control does with approved params
    assert cc.configured(bot, {"max_future_days": 5}).ruleset.version == other.ruleset.version
    assert cc.configured(bot, {"max_future_days": 0}) is bot
    assert PARAMS.max_future_days == 0  # the default params object is untouched


@pytest.fixture
def store(tmp_path, monkeypatch):
    try:
        launch_options()
    except ConfigError as exc:
        pytest.skip(f"no Chromium: {exc}")
    monkeypatch.setenv("BACKOFFICE_ERP_USER", DEFAULT_USER)
    monkeypatch.setenv("BACKOFFICE_ERP_PASSWORD", DEFAULT_PASSWORD)
    s = open_store(tmp_path / "home", monkeypatch, retries="1", retry_backoff_seconds="0.02")
    for name, role in TEST_USERS.items():
        add_user(s, name, role)
    yield s
    Store.close_all()
    reset_settings()


@pytest.fixture
def erp(tmp_path):
    server = start_in_thread(tmp_path / "erp.db", seed=20)
    yield server
    server.stop()


def _workbook(path: Path, n: int, future: tuple[int, ...], *, offset: int = 0) -> Path:
    """``n`` valid rows; the rows numbered in ``future`` dated 3 days after today (DE-DATE with the
    default ``max_future_days`` = 0)."""
    rows = make_rows(n + offset)[offset:]
    ahead = datetime.now(UTC).date() + timedelta(days=3)
    for i in future:
        rows[i - 1][HEADERS.index("Invoice Date")] = ahead
        rows[i - 1][HEADERS.index("Due Date")] = ahead + timedelta(days=30)
    return write_workbook(path, rows)


def _inputs(path: Path, erp) -> dict:
    return {"input": str(path), "target": erp.url, "timeout_ms": 5000}


@pytest.mark.browser
def test_a_tolerance_change_is_proposed_previewed_approved_and_used(store, erp, tmp_path, capsys) -> None:
    first = _workbook(tmp_path / "first.xlsx", 5, future=(2, 4))
    s = run_bot(bot, _inputs(first, erp), store=store)  # development mode: runs unapproved
    assert (s.done, s.queued, dict(s.codes)) == (3, 2, {"DE-DATE": 2})

    assert main(["rules", "propose", "data-entry", "--set", "max_future_days=x", "--user", "expert"]) == 2
    assert "param max_future_days" in capsys.readouterr().err
    argv = ["rules", "propose", "data-entry", "--set", "max_future_days=7", "--user", "expert", "--json"]
    assert main(argv) == 0
    rec = json.loads(capsys.readouterr().out)
    assert rec["status"] == "proposed" and rec["params"] == {"max_future_days": 7}
    assert rec["changes"] == {"max_future_days": {"from": 0, "to": 7}}

    assert main(["rules", "preview", str(rec["id"]), "--user", "approver", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert (shown["checked"], shown["errors"], shown["changed"]) == (5, 0, 2)
    changed = {i["title"]: (i["before"], i["after"]) for i in shown["items"] if i["changed"]}
    future_titles = {r[HEADERS.index("Invoice No")] for r in make_rows(5)[1:4:2]}
    assert set(changed) == future_titles
    for before, after in changed.values():
        assert before == {"outcome": "queued", "codes": ["DE-DATE"]}
        assert after == {"outcome": "straight-through", "codes": []}

    prod = store
    prod.settings = store.settings.model_copy(update={"mode": "production"})
    second = _workbook(tmp_path / "second.xlsx", 3, future=(1,), offset=10)
    with pytest.raises(cc.UnapprovedRuleSet, match="bot data-entry"):
        run_bot(bot, _inputs(second, erp), store=prod)
    assert main(["rules", "approve", str(rec["id"]), "--user", "expert"]) == 3  # maker != checker
    capsys.readouterr()
    assert main(["rules", "approve", str(rec["id"]), "--user", "approver"]) == 0

    running, approved = cc.in_force(prod, bot)
    assert isinstance(running, DataEntryBot) and running.params.max_future_days == 7
    assert approved is not None and approved.id == rec["id"]
    s2 = run_bot(bot, _inputs(second, erp), store=prod)  # the bot object is built with the approved params
    assert (s2.done, s2.queued) == (3, 0)
    assert s2.ruleset_version == rec["version"] and s2.extra["approval"] == rec["id"]
    entered = [
        e for e in audit.entries(prod, action="invoice.entered") if e["ruleset_version"] == rec["version"]
    ]
    assert len(entered) == 3 and all(e["data"]["approval"] == rec["id"] for e in entered)
    assert audit.verify(prod).ok
