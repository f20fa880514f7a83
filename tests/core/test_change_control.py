"""Change control for rule sets (issue 14.3): a tolerance change of the toy bot is proposed,
previewed (the preview names the items whose outcome changes), refused in production until
approved, approved by someone other than its maker, then used; the evidence pack shows the approval."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from backoffice import audit
from backoffice import change_control as cc
from backoffice.audit.pack import export_pack, verify_pack
from backoffice.change_control.preview import preview
from backoffice.cli import main
from backoffice.errors import ConflictError, PermissionDenied, UsageError
from backoffice.plugins import use_bots
from backoffice.rules import RuleSet, Violation, rule
from backoffice.runner import run_bot
from backoffice.settings import reset_settings
from backoffice.store import Store
from backoffice.users import add_user, confirm_role, set_role
from tests.core.toybot import PARAMS, RULES, ToyBot, ToyParams, bot, write_orders

# write_orders: order i has amount 10 + i % 90 + 0.25 (11.25 .. 22.25 for 12 orders), the "big" ones
# 5000.00; with limit 15 orders 5 and up (15.25 and more) are above it.
ABOVE_15 = [f"O{i:05d}" for i in range(5, 13)]


def _inputs(tmp_path: Path, name: str = "a", n: int = 12) -> dict[str, str]:
    folder = tmp_path / name
    folder.mkdir(exist_ok=True)
    orders = write_orders(folder / "orders.csv", n, big=[3])
    return {"orders": str(orders), "ledger": str(folder / "ledger.jsonl")}


def _production(store: Store) -> Store:
    store.settings = store.settings.model_copy(update={"mode": "production"})
    return store


@pytest.fixture
def decided(bo_store, bo_users, tmp_path):
    """Twelve toy orders decided in development mode: order 3 queued (TOY-LIMIT), the rest done."""
    with use_bots([bot]):
        summary = run_bot(bot, _inputs(tmp_path), store=bo_store)
        assert summary.done == 11 and summary.queued == 1
        assert summary.extra["mode"] == "development" and summary.extra["approval"] is None
        yield bo_store


def test_propose_types_params_and_names_the_bad_ones(decided, capsys):
    with use_bots([bot]):
        assert main(["rules", "propose", "toy", "--set", "limit=abc", "--user", "expert"]) == 2
        err = capsys.readouterr().err
        assert "--set limit=abc" in err and "decimal" in err and "param limit" in err
        assert main(["rules", "propose", "toy", "--set", "limt=1", "--user", "expert"]) == 2
        assert "no param 'limt'; its params: limit" in capsys.readouterr().err
        assert main(["rules", "propose", "toy", "--set", "limit", "--user", "expert"]) == 2
        assert main(["rules", "propose", "toy", "--set", "limit=15", "--user", "approver"]) == 3
        assert "may not propose rules" in capsys.readouterr().err
        assert main(["rules", "propose", "toy", "--set", "limit=15"]) == 2  # names no user
        assert main(["rules", "propose", "toy", "--set", "limit=15.00", "--user", "expert", "--json"]) == 0
    rec = json.loads(capsys.readouterr().out)
    assert rec["status"] == "proposed" and rec["proposer"] == "expert" and rec["engagement"] == "default"
    assert rec["params"] == {"limit": "15.00"} and rec["changes"] == {
        "limit": {"from": "1000", "to": "15.00"}
    }
    assert rec["version"] != bot.ruleset.version and rec["code_version"] == bot.ruleset.code_version
    denied = audit.entries(decided, action="permission.denied")
    assert denied[-1]["actor"] == "approver" and denied[-1]["data"]["attempted"] == "propose_rules"
    proposed = audit.entries(decided, action="rules.proposed")
    assert (
        proposed[-1]["subject"] == f"rule_version:{rec['id']}"
        and proposed[-1]["ruleset_version"] == rec["version"]
    )
    with pytest.raises(ConflictError, match="already proposed"):
        cc.propose(decided, bot, "expert", {"limit": "15.00"})  # the same version twice


def test_preview_names_the_items_whose_outcome_changes(decided, capsys, monkeypatch):
    rec = cc.propose(decided, bot, "expert", {"limit": "15"}, reason="tighter look at mid-size orders")
    with use_bots([bot]):
        result = preview(decided, bot, rec.id, "approver", last=50)
        assert result.baseline == "re-checked" and result.baseline_version == bot.ruleset.version
        changed = {r.title: (r.before, r.after) for r in result.changed}
        assert sorted(changed) == ABOVE_15
        before, after = changed["O00005"]
        assert before is not None and before.outcome == "straight-through" and before.codes == ()
        assert after is not None and after.outcome == "queued" and after.codes == ("TOY-LIMIT",)
        big = next(r for r in result.rows if r.title == "O00003")
        assert not big.changed and big.status == "open" and big.after is not None
        assert big.after.codes == ("TOY-LIMIT",)
        # --last N: the newest N decided items only
        assert len(preview(decided, bot, rec.id, "expert", last=3).rows) == 3

        assert main(["rules", "preview", str(rec.id), "--user", "compliance", "--json"]) == 0
        data = json.loads(capsys.readouterr().out)
        assert data["checked"] == 12 and data["changed"] == 8 and data["errors"] == 0
        assert sorted(i["title"] for i in data["items"] if i["changed"]) == ABOVE_15
        monkeypatch.setenv("COLUMNS", "80")
        assert main(["rules", "preview", str(rec.id), "--user", "expert"]) == 0
        out = capsys.readouterr().out
        assert "8 of 12 decided items change outcome" in out
        assert all(t in out for t in ABOVE_15) and "queued: TOY-LIMIT" in out
        assert max(len(line) for line in out.splitlines()) <= 80
        assert main(["rules", "preview", str(rec.id), "--user", "associate"]) == 3  # not a reader of rules
        assert main(["rules", "preview", "999", "--user", "expert"]) == 1


def test_production_refuses_until_approved_then_runs_the_approved_params(decided, tmp_path):
    store = _production(decided)
    with use_bots([bot]):
        with pytest.raises(cc.UnapprovedRuleSet) as refused:
            run_bot(bot, _inputs(tmp_path, "b", n=13), store=store)
        message = str(refused.value)
        assert "bot toy" in message and bot.ruleset.version in message
        assert "backoffice rules propose toy" in message
        assert audit.entries(store, action="run.refused")[-1]["ruleset_version"] == bot.ruleset.version

        rec = cc.propose(store, bot, "expert", {"limit": "15"})
        with pytest.raises(cc.UnapprovedRuleSet, match=f"proposal #{rec.id} awaits approval"):
            cc.check_start(store, cc.configured(bot, rec.params), audit=False)  # names the proposal
        with pytest.raises(cc.UnapprovedRuleSet):
            run_bot(bot, _inputs(tmp_path, "b", n=13), store=store)  # proposed is not approved
        with pytest.raises(PermissionDenied, match="may not approve rules"):
            cc.approve(store, rec.id, "expert")
        approved = cc.approve(store, rec.id, "approver", reason="agreed in the change board")
        assert approved.status == "approved" and approved.decided_by == "approver"

        summary = run_bot(bot, _inputs(tmp_path, "b", n=13), store=store)
    assert summary.ruleset_version == rec.version and summary.extra["approval"] == rec.id
    assert summary.extra["mode"] == "production"
    assert summary.codes["TOY-LIMIT"] == 10 and summary.done == 3  # 9 above 15 now, and the big one
    run_id = summary.run_id
    started = audit.entries(store, subject=f"run:{run_id}", action="run.started")[0]
    assert started["data"]["approval"] == rec.id and started["data"]["rule_version"] == rec.version
    decisions = [
        e for e in audit.entries(store, bot="toy") if e["actor"] == f"bot:toy/{run_id}" and e["subject"]
    ]
    assert decisions and {e["action"] for e in decisions} >= {"item.queued", "order.posted"}
    assert all(
        e["ruleset_version"] == rec.version and e["data"]["approval"] == rec.id
        for e in decisions
        if e["subject"].startswith("item:")
    )
    assert audit.verify(store).ok


def test_the_proposer_can_never_approve_even_as_an_approver(decided, capsys):
    rec = cc.propose(decided, bot, "expert", {"limit": "15"})
    add_user(decided, "admin2", "admin", by="admin")
    set_role(decided, "expert", "approver", by="admin")
    confirm_role(decided, "expert", "approver", by="admin2")  # the expert is an approver now
    with pytest.raises(PermissionDenied, match="maker != checker"):
        cc.approve(decided, rec.id, "expert")
    with use_bots([bot]):
        assert main(["rules", "approve", str(rec.id), "--user", "expert"]) == 3
        assert "maker != checker" in capsys.readouterr().err
        assert main(["rules", "reject", str(rec.id), "--user", "expert", "--reason", "mine"]) == 3
    denied = audit.entries(decided, action="permission.denied")
    assert [e["data"]["attempted"] for e in denied[-3:]] == ["rules.approve", "rules.approve", "rules.reject"]
    assert cc.get_version(decided, "approver", rec.id).status == "proposed"


def test_reject_needs_a_reason_and_an_approval_supersedes_the_last(decided, capsys):
    first = cc.propose(decided, bot, "expert", {"limit": "15"})
    second = cc.propose(decided, bot, "expert", {"limit": "20"})
    with pytest.raises(UsageError, match="--reason"):
        cc.reject(decided, second.id, "approver", reason=" ")
    rejected = cc.reject(decided, second.id, "approver", reason="too loose")
    assert rejected.status == "rejected" and rejected.decision_reason == "too loose"
    with pytest.raises(ConflictError, match="rejected, not proposed"):
        cc.approve(decided, second.id, "approver")
    cc.approve(decided, first.id, "approver")
    running, in_force = cc.in_force(decided, bot)
    assert in_force is not None and in_force.id == first.id and running.ruleset.params.limit == 15
    # the next proposal starts from the approved params
    third = cc.propose(decided, bot, "expert", {"limit": "30"})
    assert third.changes == {"limit": {"from": "15", "to": "30"}}
    with pytest.raises(ConflictError, match="already approved"):
        cc.propose(decided, bot, "expert", {"limit": "15"})
    cc.approve(decided, third.id, "approver")
    with use_bots([bot]):
        assert main(["rules", "list", "--bot", "toy", "--user", "compliance", "--json"]) == 0
        listed = json.loads(capsys.readouterr().out)
        assert [(r["id"], r["status"]) for r in listed] == [
            (third.id, "approved"),
            (second.id, "rejected"),
            (first.id, "superseded"),
        ]
        assert main(["rules", "show", str(third.id), "--user", "approver"]) == 0
        out = capsys.readouterr().out
        assert "limit: 15 -> 30" in out and "approved" in out
        assert main(["rules", "list", "--user", "associate"]) == 3
    approved = audit.entries(decided, action="rules.approved")
    assert approved[-1]["data"]["superseded"] == [first.id] and approved[-1]["actor"] == "approver"
    assert cc.in_force(decided, bot)[0].ruleset.params.limit == 30
    assert PARAMS.limit == 1000  # the bot's own params object is untouched


def test_the_evidence_pack_shows_the_approval(decided, tmp_path):
    rec = cc.propose(decided, bot, "expert", {"limit": "15"}, reason="tighter")
    cc.approve(decided, rec.id, "approver")
    with use_bots([bot]):
        run_bot(bot, _inputs(tmp_path, "b", n=13), store=_production(decided))
    pack = tmp_path / "pack.zip"
    export_pack(decided, pack, user="compliance")
    assert verify_pack(pack).ok
    with zipfile.ZipFile(pack) as zf:
        manifest = json.loads(zf.read("manifest.json"))
        approvals = [json.loads(line) for line in zf.read("approvals.jsonl").splitlines()]
    assert manifest["rule_versions"][rec.version] == rec.id
    assert manifest["rule_versions"][bot.ruleset.version] is None  # the first run, in development
    assert approvals == [
        {
            "approval": rec.id,
            "engagement": "default",
            "bot": "toy",
            "version": rec.version,
            "code_version": rec.code_version,
            "params": {"limit": "15"},
            "changes": {"limit": {"from": "1000", "to": "15"}},
            "status": "approved",
            "proposer": "expert",
            "proposed_at": rec.proposed_at.isoformat(),
            "reason": "tighter",
            "approver": "approver",
            "approved_at": approvals[0]["approved_at"],
            "approval_reason": None,
        }
    ]
    assert "approvals.jsonl" in manifest["files"]


def test_backoffice_run_says_development_mode_and_production_refuses(
    decided, tmp_path, capsys, monkeypatch, prefect_harness
):
    inputs = _inputs(tmp_path, "c", n=4)
    argv = ["run", "toy", "--orders", inputs["orders"], "--ledger", inputs["ledger"], "--json"]
    with use_bots([bot]):
        assert main(argv) == 0
        captured = capsys.readouterr()
        assert "DEVELOPMENT MODE" in captured.err and bot.ruleset.version in captured.err
        assert json.loads(captured.out)["mode"] == "development"

        monkeypatch.setenv("BACKOFFICE_MODE", "production")
        reset_settings()
        Store.close_all()
        assert main(argv) == 1
        err = capsys.readouterr().err
        assert "bot toy" in err and bot.ruleset.version in err and "backoffice rules propose toy" in err

        # approved: the flow run (Prefect) uses the approved params, and says nothing about development
        store = Store.open()
        rec = cc.propose(store, bot, "expert", {"limit": "12"})
        cc.approve(store, rec.id, "approver")
        more = _inputs(tmp_path, "d", n=5)
        assert main(["run", "toy", "--orders", more["orders"], "--ledger", more["ledger"], "--json"]) == 0
        captured = capsys.readouterr()
        summary = json.loads(captured.out)
        assert "DEVELOPMENT MODE" not in captured.err
        assert summary["mode"] == "production" and summary["approval"] == rec.id
        assert summary["ruleset_version"] == rec.version
        assert summary["codes"] == {"TOY-LIMIT": 4}  # 12.25, 14.25, 15.25 and the big one above 12


def test_backoffice_run_set_changes_a_param_for_one_run_under_change_control(
    decided, tmp_path, capsys, monkeypatch, prefect_harness
):
    """``run --set PARAM=VALUE``: typed like ``rules propose`` (a bad one is exit 2 before Prefect
    starts), runs in development with its own rule-set version and says so, is recorded in the
    run's start entry, and in production runs only when that version is approved."""

    def run(name: str, *sets: str) -> int:
        inputs = _inputs(tmp_path, name, n=11)  # 11.25 .. 21.25 and the big one (order 3)
        argv = ["run", "toy", "--orders", inputs["orders"], "--ledger", inputs["ledger"], "--json"]
        return main([*argv, *(x for s in sets for x in ("--set", s))])

    with use_bots([bot]):
        assert run("bad", "limt=1") == 2
        assert "no param 'limt'; its params: limit" in capsys.readouterr().err
        assert run("bad2", "limit") == 2
        assert "--set takes PARAM=VALUE, got 'limit'" in capsys.readouterr().err

        wider = cc.configured(bot, cc.typed_params(bot, cc.params_of(bot), {"limit": "20"}))
        assert run("dev", "limit=20") == 0
        captured = capsys.readouterr()
        summary = json.loads(captured.out)
        assert "DEVELOPMENT MODE" in captured.err and wider.ruleset.version in captured.err
        assert summary["ruleset_version"] == wider.ruleset.version != bot.ruleset.version
        assert summary["codes"] == {"TOY-LIMIT": 3}  # 20.25, 21.25 and the big one are above 20
        started = audit.entries(Store.open(), action="run.started", descending=True, limit=1)[0]
        assert started["data"]["params"] == {"limit": "20"}
        assert started["ruleset_version"] == wider.ruleset.version

        monkeypatch.setenv("BACKOFFICE_MODE", "production")
        reset_settings()
        Store.close_all()
        store = Store.open()
        rec = cc.propose(store, bot, "expert", {"limit": "12"})
        cc.approve(store, rec.id, "approver")
        assert run("prod-unapproved", "limit=20") == 1  # not approved: refused, audited
        assert wider.ruleset.version in capsys.readouterr().err
        refused = audit.entries(store, action="run.refused", descending=True, limit=1)[0]
        assert refused["ruleset_version"] == wider.ruleset.version
        assert run("prod-approved", "limit=12") == 0  # the approved version itself
        summary = json.loads(capsys.readouterr().out)
        assert summary["approval"] == rec.id and summary["ruleset_version"] == rec.version


@pytest.mark.slow
def test_change_control_on_postgresql(pg_url, tmp_path):
    from backoffice.testing import TEST_USERS

    store = Store.open()
    for name, role in TEST_USERS.items():
        add_user(store, name, role)
    with use_bots([bot]):
        run_bot(bot, _inputs(tmp_path), store=store)
        rec = cc.propose(store, bot, "expert", {"limit": "15"})
        assert sorted(r.title for r in preview(store, bot, rec.id, "approver").changed) == ABOVE_15
        prod = _production(store)
        with pytest.raises(cc.UnapprovedRuleSet):
            run_bot(bot, _inputs(tmp_path, "b", n=13), store=prod)
        with pytest.raises(PermissionDenied):
            cc.approve(store, rec.id, "expert")
        cc.approve(store, rec.id, "approver")
        summary = run_bot(bot, _inputs(tmp_path, "b", n=13), store=prod)
    assert summary.extra["approval"] == rec.id and summary.codes["TOY-LIMIT"] == 10
    assert audit.verify(store).ok


@rule(code="TOY-C1", description="Orders of customer C1 get a look")
def customer_c1(order, ctx):
    if order.customer == "C1":
        yield Violation(code="", message="customer C1", field="customer", actual=order.customer)


class NewToy(ToyBot):
    """The toy bot after a code change: one more rule."""

    def __init__(self, params: ToyParams | None = None) -> None:
        super().__init__(params)
        self.ruleset = RuleSet("toy", [*RULES.rules, customer_c1], params=self.params)


def test_a_code_change_is_previewed_against_the_recorded_outcomes(decided):
    old = cc.propose(decided, bot, "expert", reason="the rules as they run today")
    assert old.changes == {} and old.version == bot.ruleset.version
    cc.approve(decided, old.id, "approver")
    new = NewToy()
    assert new.ruleset.code_version != bot.ruleset.code_version
    rec = cc.propose(decided, new, "expert", reason="look at C1")
    assert rec.code_version == new.ruleset.code_version and rec.changes == {}
    with use_bots([new]):
        with pytest.raises(ConflictError, match="preview it where that code is installed"):
            preview(decided, bot, rec.id, "approver")  # the old code is installed there
        result = preview(decided, new, rec.id, "approver")
        assert result.baseline == "recorded"
        changed = {r.title: r for r in result.changed}
        assert sorted(changed) == ["O00001", "O00008"]  # customer C1 (order i has customer C{i % 7})
        assert changed["O00001"].after is not None and changed["O00001"].after.codes == ("TOY-C1",)
        with pytest.raises(cc.UnapprovedRuleSet):
            cc.check_start(_production(decided), cc.in_force(decided, new)[0], audit=False)
        cc.approve(decided, rec.id, "approver")
        assert cc.check_start(decided, cc.in_force(decided, new)[0]).approval == rec.id
