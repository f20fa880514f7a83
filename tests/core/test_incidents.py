"""Incidents (issue 14.5): a run stopped by a target that is down, a rule storm or a bot defect
opens an incident, escalated to the team lead tier (named from the ownership register when one is
in force); the client approver decides notification; the provider acknowledges and resolves;
every step is one audit entry under ``incident:<id>``; CLI and permissions."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import pytest
from pydantic import BaseModel

from backoffice import audit
from backoffice import incidents as inc
from backoffice.cli import main
from backoffice.contract import Bot, Inputs, Outcome, State
from backoffice.errors import ConflictError, PermissionDenied, TargetDown, UsageError
from backoffice.items import Item, SourceRef, make_key
from backoffice.ownership import approve, parse_register, propose
from backoffice.rules import RuleSet
from backoffice.runner import Run, run_bot
from backoffice.store import Store
from backoffice.users import list_users


class Row(BaseModel):
    n: int


class FailInputs(Inputs):
    mode: str = "defect"


class FailBot(Bot[FailInputs, State[FailInputs]]):
    """Reads two items; ``defect``: read raises a KeyError (a bug); ``down``: open raises TargetDown."""

    name = "failing"
    Inputs = FailInputs
    model = Row
    ruleset = RuleSet("failing", [])

    def open(self, inputs: FailInputs, run: Run) -> State[FailInputs]:
        if inputs.mode == "down":
            raise TargetDown("login at http://target refused: HTTP 500", target="http://target")
        return State(inputs, run)

    def read(self, state: State[FailInputs]) -> Iterable[Item]:
        yield Item(bot=self.name, key=make_key("r", "1"), payload={"n": 1}, source=SourceRef(file="r"))
        if state.inputs.mode == "defect":
            raise KeyError("vendor_iban DE89370400440532013000")

    def act(self, items: list[Item], state: State[FailInputs]) -> Iterable[Outcome]:
        return [Outcome(key=it.key, ok=True) for it in items]


REGISTER = """\
engagement = "default"
client_approver = "approver"

[[rules]]
bot = "failing"
code = "*"
delivery_owner = "associate"
decision_owner = "approver"
backup = "approver2"
response_hours = 8
path = ["associate", "lead2", "approver"]
"""


def _defect(store: Store) -> inc.Incident:
    with pytest.raises(KeyError):
        run_bot(FailBot(), {"mode": "defect"}, store=store)
    (incident,) = inc.list_incidents(store, "team_lead")
    return incident


def test_a_bot_defect_opens_an_incident_escalated_to_the_team_lead_tier(bo_store, bo_users):
    incident = _defect(bo_store)
    assert incident.kind == "bot-defect" and incident.bot == "failing" and incident.status == "open"
    assert incident.escalated_to == "team_lead" and incident.owner is None  # no register in force
    assert "DE89370400440532013000" not in incident.summary and "KeyError" in incident.summary
    run_entry = audit.entries(bo_store, action="run.incident")[-1]
    assert run_entry["subject"] == f"run:{incident.run_id}" and run_entry["data"]["incident"] == incident.id
    steps = inc.timeline(bo_store, "approver", incident.id)
    assert [e["action"] for e in steps] == ["incident.opened", "incident.escalated"]
    assert all(e["subject"] == f"incident:{incident.id}" for e in steps)
    assert steps[1]["data"]["to"] == "team_lead" and steps[1]["data"]["named_by_register"] is False


def test_target_down_opens_one_incident_named_by_the_register(bo_store, bo_users):
    from backoffice.users import add_user

    add_user(bo_store, "lead2", "team_lead")
    add_user(bo_store, "approver2", "approver")
    reg = parse_register(REGISTER, users={u.name: u.role for u in list_users(bo_store)})
    approve(bo_store, propose(bo_store, reg, "expert").id, "approver")
    with pytest.raises(TargetDown):
        run_bot(FailBot(), {"mode": "down"}, store=bo_store)
    (incident,) = inc.list_incidents(bo_store, "compliance")
    assert incident.kind == "target-down" and incident.data["target"] == "http://target"
    assert incident.escalated_to == "lead2" and incident.owner == "approver"
    step = inc.timeline(bo_store, "compliance", incident.id)[1]
    assert step["data"]["named_by_register"] is True and step["data"]["register"] == reg.version


def test_decide_ack_resolve_each_one_audit_step(bo_store, bo_users):
    i = _defect(bo_store).id
    with pytest.raises(PermissionDenied):
        inc.decide(bo_store, i, "team_lead", notify=True, reason="x")  # the provider does not decide
    with pytest.raises(UsageError, match="reason"):
        inc.decide(bo_store, i, "approver", notify=True, reason=" ")
    decided = inc.decide(bo_store, i, "approver", notify=False, reason="no customer data touched")
    assert decided.notify == "no" and decided.decided_by == "approver" and decided.status == "open"
    with pytest.raises(ConflictError, match="already decided"):
        inc.decide(bo_store, i, "approver", notify=True, reason="changed my mind")
    with pytest.raises(PermissionDenied):
        inc.acknowledge(bo_store, i, "approver")
    assert inc.acknowledge(bo_store, i, "team_lead", note="looking").status == "acknowledged"
    with pytest.raises(ConflictError, match="is acknowledged"):
        inc.acknowledge(bo_store, i, "expert")
    assert inc.resolve(bo_store, i, "expert", note="fixed in 1.2").resolved_by == "expert"
    with pytest.raises(ConflictError):
        inc.resolve(bo_store, i, "expert")
    steps = inc.timeline(bo_store, "compliance", i)
    assert [e["action"] for e in steps] == [
        "incident.opened",
        "incident.escalated",
        "incident.decided",
        "incident.acknowledged",
        "incident.resolved",
    ]
    assert steps[2]["data"] == {
        "before": "open",
        "after": "open",
        "notify": "no",
        "reason": "no customer data touched",
    }
    assert steps[4]["data"]["after"] == "resolved" and steps[4]["actor"] == "expert"
    assert inc.list_incidents(bo_store, "approver", status="unresolved") == []
    denied = audit.entries(bo_store, action="permission.denied")
    assert {d["data"]["attempted"] for d in denied} == {"decide_incidents", "handle_incidents"}
    with pytest.raises(PermissionDenied):
        inc.list_incidents(bo_store, "associate")


def test_cli_list_show_decide_ack_resolve(bo_store, bo_users, capsys):
    i = _defect(bo_store).id
    capsys.readouterr()
    assert main(["incidents", "list", "--json", "--user", "team_lead"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["id"] == i and row["kind"] == "bot-defect" and row["status"] == "open"
    assert (
        main(["incidents", "decide", str(i), "--notify", "maybe", "--reason", "r", "--user", "approver"]) == 2
    )
    assert (
        main(["incidents", "decide", str(i), "--notify", "yes", "--reason", "r", "--user", "team_lead"]) == 3
    )
    assert (
        main(
            ["incidents", "decide", str(i), "--notify", "yes", "--reason", "regulator", "--user", "approver"]
        )
        == 0
    )
    assert main(["incidents", "ack", str(i), "--user", "team_lead", "--note", "on it"]) == 0
    assert main(["incidents", "resolve", str(i), "--user", "team_lead"]) == 0
    assert main(["incidents", "resolve", str(i), "--user", "team_lead"]) == 1  # already resolved
    capsys.readouterr()
    assert main(["incidents", "show", str(i), "--json", "--user", "compliance"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["status"] == "resolved" and shown["notify"] == "yes"
    assert len(shown["timeline"]) == 5
    assert main(["incidents", "show", str(i), "--user", "compliance"]) == 0
    out = capsys.readouterr().out
    assert "incident.decided" in out and "notify=yes" in out
    assert main(["incidents", "list", "--status", "resolved", "--user", "team_lead"]) == 0
    listed = capsys.readouterr().out
    assert "1 incidents (resolved)" in listed and f"#{i}  " in listed and "notify: yes" in listed
    assert main(["incidents", "list", "--engagement", "acme", "--user", "team_lead"]) == 1
    assert "no engagement 'acme'" in capsys.readouterr().err
    assert main(["incidents", "show", "999", "--user", "compliance"]) == 1


def test_a_rule_storm_opens_a_rule_storm_incident(bo_store, bo_users, tmp_path: Path, monkeypatch):
    from backoffice.runner.storm import RuleStorm, guard

    run = Run(run_id="r1", bot="failing", inputs=FailInputs(), store=bo_store)
    with pytest.raises(RuleStorm):
        guard(run, 10, bo_store.settings.storm_max_exceptions + 1)
    (incident,) = inc.list_incidents(bo_store, "team_lead", status="open")
    assert incident.kind == "rule-storm" and incident.run_id == "r1" and "rule storm" in incident.summary


def test_a_new_incident_is_notified_once_without_its_error_text(bo_store, bo_users):
    from backoffice.notify import notify

    class Box:
        name = "box"

        def __init__(self) -> None:
            self.sent: list[object] = []

        def send(self, notice: object) -> None:
            self.sent.append(notice)

    incident = _defect(bo_store)
    notice = inc.incident_notice(incident)
    assert notice.event == "incident" and notice.subject == f"incident:{incident.id}"
    assert notice.facts["kind"] == "bot-defect" and notice.facts["escalated_to"] == "team_lead"
    assert "DE89" not in notice.body().decode() and "vendor_iban" not in notice.body().decode()
    box = Box()
    notify(bo_store, [notice, notice], channels=[box])
    assert len(box.sent) == 1  # once per incident


def test_incidents_and_their_steps_on_postgresql(pg_url, tmp_path):
    from backoffice.testing import TEST_USERS
    from backoffice.users import add_user

    store = Store.open()
    for name, role in TEST_USERS.items():
        add_user(store, name, role)
    i = _defect(store).id
    inc.decide(store, i, "approver", notify=True, reason="customer-facing")
    inc.acknowledge(store, i, "team_lead")
    done = inc.resolve(store, i, "team_lead", note="fixed")
    assert done.status == "resolved" and done.notify == "yes" and done.resolved_at is not None
    assert len(inc.timeline(store, "compliance", i)) == 5
    assert inc.list_incidents(store, "compliance", status="unresolved") == []
