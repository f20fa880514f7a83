"""The ownership register (issue 14.2): the file and its errors, versions proposed, diffed and
approved (maker != checker), the register in force, routing and response times from it, absences."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from backoffice.errors import ConflictError, InputError, NotFound, PermissionDenied
from backoffice.ownership import (
    RegisterError,
    approve,
    current_register,
    is_away,
    load_register,
    mark_away,
    mark_back,
    parse_register,
    propose,
    reject,
)
from backoffice.queue import Queue
from backoffice.queue.approvals import awaiting
from backoffice.store import Store, utcnow
from backoffice.testing import bo_store, bo_users, queue_items  # noqa: F401
from backoffice.users import add_user

REGISTER = """\
# the ownership register of the test engagement
engagement = "default"
client_approver = "approver"

[[rules]]
bot = "test"
code = "*"
delivery_owner = "associate"
decision_owner = "team_lead"
backup = "lead2"
response_hours = 24
escalate_amount = "10000"
escalate_age_hours = 48
path = ["associate", "team_lead", "approver"]

[[rules]]
bot = "test"
code = "FAST"
delivery_owner = "associate"
decision_owner = "approver"
backup = "approver2"
response_hours = 4
path = ["associate", "team_lead", "approver"]
"""


@pytest.fixture
def owners(bo_store: Store, bo_users: dict[str, str]) -> Store:  # noqa: F811
    add_user(bo_store, "lead2", "team_lead")
    add_user(bo_store, "approver2", "approver")
    return bo_store


def _file(tmp_path: Path, text: str = REGISTER) -> Path:
    path = tmp_path / "owners.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _in_force(store: Store, text: str = REGISTER, tmp_path: Path | None = None) -> int:
    reg = parse_register(text, users={u.name: u.role for u in _users(store)})
    rec = propose(store, reg, "expert")
    return approve(store, rec.id, "approver").id


def _users(store: Store) -> list:  # type: ignore[type-arg]
    from backoffice.users import list_users

    return list_users(store)


# -- the file -------------------------------------------------------------------------------------------
def test_a_valid_register_loads_with_its_rows(owners: Store, tmp_path: Path) -> None:
    reg = load_register(_file(tmp_path), store=owners)
    assert reg.engagement == "default" and reg.client_approver == "approver"
    row = reg.row_for("test", "FAST")
    assert row is not None and row.decision_owner == "approver" and row.response_hours == 4
    default = reg.row_for("test", "OTHER")
    assert default is not None and default.code == "*" and default.escalate_amount == Decimal("10000")
    assert reg.row_for("test", None) == default
    assert reg.row_for("other-bot", "FAST") is None
    # of an item's codes, the row with the shortest response time owns it
    picked = reg.row_for_codes("test", ["SLOW", "FAST"])
    assert picked is not None and picked.code == "FAST"
    assert len(reg.version) == 16 and reg.version == load_register(_file(tmp_path)).version


def test_errors_name_the_file_line_and_key(owners: Store, tmp_path: Path) -> None:
    bad = REGISTER.replace('decision_owner = "approver"', 'decision_owner = "carl"')
    with pytest.raises(RegisterError) as err:
        load_register(_file(tmp_path, bad), store=owners)
    assert str(err.value) == "owners.toml line 20, rules[1].decision_owner: no user 'carl'"
    assert isinstance(err.value, InputError)


def test_every_problem_is_reported_with_its_line(owners: Store, tmp_path: Path) -> None:
    bad = (
        REGISTER.replace(
            'delivery_owner = "associate"\ndecision_owner = "team_lead"',
            'delivery_owner = "approver"\ndecision_owner = ["team_lead", "lead2"]',
        )
        .replace('escalate_amount = "10000"', "escalate_amount = 10000.5\ncolour = 'red'")
        .replace('backup = "approver2"', 'backup = "approver"')
    )
    with pytest.raises(RegisterError) as err:
        load_register(_file(tmp_path, bad), store=owners)
    text = str(err.value)
    assert "owners.toml line 8, rules[0].delivery_owner: approver is approver; the delivery owner" in text
    assert (
        "line 9, rules[0].decision_owner: one decision owner per row; shared ownership is not allowed" in text
    )
    assert "line 12, rules[0].escalate_amount: write an amount as an integer or a string" in text
    assert "line 13, rules[0].colour: unknown key" in text
    assert "rules[1]: the backup must be another user than the decision owner (approver)" in text


def test_roles_must_fit_the_path_and_rows_are_unique(owners: Store, tmp_path: Path) -> None:
    bad = REGISTER.replace(
        'path = ["associate", "team_lead", "approver"]\n\n[[rules]]',
        'path = ["associate", "associate2", "approver"]\n\n[[rules]]',
    )
    bad = bad.replace('code = "FAST"', 'code = "*"')
    with pytest.raises(RegisterError) as err:
        load_register(_file(tmp_path, bad), store=owners)
    text = str(err.value)
    assert "line 14, rules[0].path[1]: associate2 is associate; this step is a team_lead" in text
    assert "line 16, rules[1]: test / * is already owned by rules[0]" in text


def test_a_toml_syntax_error_names_its_line(tmp_path: Path) -> None:
    with pytest.raises(RegisterError) as err:
        load_register(_file(tmp_path, REGISTER.replace('bot = "test"', "bot = test", 1)))
    assert str(err.value).startswith("owners.toml line 6, toml: ")


def test_a_missing_file_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        load_register(tmp_path / "nope.toml")


# -- versions: propose, diff, approve -------------------------------------------------------------------
def test_the_first_register_needs_approval_by_the_client_approver_not_the_proposer(owners: Store) -> None:
    reg = parse_register(REGISTER)
    rec = propose(owners, reg, "expert", reason="first register")
    assert rec.status == "proposed" and current_register(owners) is None
    assert [r["code"] for r in rec.diff["added"]] == ["*", "FAST"] and rec.diff["base"] is None
    with pytest.raises(PermissionDenied, match="may not approve owners"):
        approve(owners, rec.id, "team_lead")  # not an approver
    with pytest.raises(PermissionDenied, match="the client approver of default is approver"):
        approve(owners, rec.id, "approver2")  # an approver, but not the named client approver
    with pytest.raises(PermissionDenied, match="may not propose owners"):
        propose(owners, reg, "approver")
    done = approve(owners, rec.id, "approver", reason="ok")
    assert done.status == "approved" and done.decided_by == "approver"
    now = current_register(owners)
    assert now is not None and now.id == rec.id and now.version == reg.version
    assert current_register(owners, "default") == now and current_register(owners, "other-client") is None
    with pytest.raises(ConflictError, match="already says this"):
        propose(owners, reg, "expert")


def test_maker_is_never_checker(owners: Store) -> None:
    add_user(owners, "maker_approver", "approver")
    text = REGISTER.replace('client_approver = "approver"', 'client_approver = "maker_approver"')
    from backoffice.users import _MATRIX, Action  # the one approver that also proposes, in this test

    rec = propose(owners, parse_register(text), "team_lead")
    assert rec.proposer == "team_lead"
    with pytest.raises(PermissionDenied, match="maker != checker"):
        _MATRIX[Action.PROPOSE_OWNERS] = frozenset({*_MATRIX[Action.PROPOSE_OWNERS], "approver"})
        try:
            second = propose(owners, parse_register(text.replace("= 24", "= 12")), "maker_approver")
            approve(owners, second.id, "maker_approver")
        finally:
            _MATRIX[Action.PROPOSE_OWNERS] = frozenset({"rpa_expert", "team_lead"})


def test_the_old_register_stays_in_force_until_the_change_is_approved(owners: Store) -> None:
    first = _in_force(owners)
    changed = REGISTER.replace("response_hours = 24", "response_hours = 8").replace(
        '[[rules]]\nbot = "test"\ncode = "FAST"', '[[rules]]\nbot = "test"\ncode = "SLOW"'
    )
    rec = propose(owners, parse_register(changed), "team_lead")
    assert rec.diff["base"] == first
    assert [r["code"] for r in rec.diff["added"]] == ["SLOW"]
    assert [r["code"] for r in rec.diff["removed"]] == ["FAST"]
    assert rec.diff["changed"] == [
        {"bot": "test", "code": "*", "changes": {"response_hours": {"from": "24", "to": "8"}}}
    ]
    now = current_register(owners)
    assert now is not None and now.id == first  # still the old one
    assert reject(owners, rec.id, "approver", reason="no").status == "rejected"
    assert current_register(owners).id == first  # type: ignore[union-attr]
    again = propose(owners, parse_register(changed), "team_lead")
    approve(owners, again.id, "approver")
    now = current_register(owners)
    assert now is not None and now.id == again.id and now.row_for("test", None).response_hours == 8  # type: ignore[union-attr]
    from backoffice.ownership import list_versions

    assert [(v.id, v.status) for v in list_versions(owners, "approver")] == [
        (again.id, "approved"),
        (rec.id, "rejected"),
        (first, "superseded"),
    ]
    with pytest.raises(ConflictError, match="is rejected, not proposed"):
        approve(owners, rec.id, "approver")


def test_every_step_is_audited(owners: Store) -> None:
    from sqlalchemy import select

    from backoffice.schema import audit

    _in_force(owners)
    with owners.read() as conn:
        acts = [
            (r.actor, r.action)
            for r in conn.execute(
                select(audit.c.actor, audit.c.action).where(audit.c.action.like("owners.%"))
            )
        ]
    assert acts == [("expert", "owners.proposed"), ("approver", "owners.approved")]


# -- routing, response time, escalation, absences ----------------------------------------------------------
def test_queued_items_get_their_decision_owner_and_response_time_from_the_register(owners: Store) -> None:
    before = queue_items(owners, 1, codes=("FAST",), start=0)
    assert Queue(owners).get(before[0]).row["decision_owner"] is None  # no register in force yet
    _in_force(owners)
    t0 = utcnow()
    fast, other = queue_items(owners, 1, codes=("FAST",), start=1) + queue_items(
        owners, 1, codes=("X",), start=2
    )
    f, o = Queue(owners).get(fast).row, Queue(owners).get(other).row
    assert f["decision_owner"] == "approver" and o["decision_owner"] == "team_lead"
    assert timedelta(hours=4) <= f["response_due"] - t0 < timedelta(hours=4, minutes=1)
    assert timedelta(hours=24) <= o["response_due"] - t0 < timedelta(hours=24, minutes=1)
    # several codes: the row with the shortest response time owns it
    both = queue_items(owners, 1, codes=("X", "FAST"), start=3)[0]
    assert Queue(owners).get(both).row["decision_owner"] == "approver"
    # another bot has no row: no owner
    none = queue_items(owners, 1, codes=("FAST",), bot="other", start=4)[0]
    assert Queue(owners).get(none).row["decision_owner"] is None


def test_an_absent_owner_routes_items_and_approvals_to_the_backup(owners: Store) -> None:
    from backoffice.ownership.routing import item_owner

    _in_force(owners)
    item_id = queue_items(owners, 1, codes=("X",), amount="50.00")[0]  # owner team_lead, backup lead2
    q = Queue(owners)
    with pytest.raises(PermissionDenied, match="may not manage users"):
        mark_away(owners, "team_lead", utcnow() + timedelta(days=2), by="team_lead")
    with pytest.raises(InputError, match="is not after"):
        mark_away(owners, "team_lead", utcnow() - timedelta(days=1), by="admin")
    mark_away(owners, "team_lead", utcnow() + timedelta(days=2), by="admin")
    assert is_away(owners, "team_lead", utcnow()) and not is_away(
        owners, "team_lead", utcnow() + timedelta(days=3)
    )
    with owners.read() as conn:
        who = item_owner(conn, q.get(item_id).row, utcnow())
    assert who is not None and who.holder == "lead2" and who.away and who.decision_owner == "team_lead"
    reg = current_register(owners)
    assert reg is not None
    assert reg.decision_owner_for("test", "X", store=owners, at=utcnow()) == "lead2"
    assert reg.decision_owner_for("test", "X", store=owners, at=utcnow() + timedelta(days=3)) == "team_lead"
    with pytest.raises(NotFound):
        reg.decision_owner_for("other", None, store=owners, at=utcnow())
    # the approval: the associate makes it, the backup (not the away owner) checks it
    q.claim(item_id, "associate")
    q.resolve(item_id, "associate", "approve", "fine")
    assert [it.id for it in awaiting(owners, "team_lead")] == []
    assert [it.id for it in awaiting(owners, "lead2")] == [item_id]
    with pytest.raises(PermissionDenied, match=r"approvals of item \d+ go to lead2"):
        q.resolve(item_id, "team_lead", "approve", "ok")
    mark_back(owners, "team_lead", by="admin")
    assert not is_away(owners, "team_lead", utcnow())
    with pytest.raises(ConflictError, match="not marked away"):
        mark_back(owners, "team_lead", by="admin")
    assert [it.id for it in awaiting(owners, "team_lead")] == [item_id]
    assert q.resolve(item_id, "team_lead", "approve", "ok").row["checker"] == "team_lead"


def test_escalation_by_the_registers_amount_and_age(owners: Store) -> None:
    from sqlalchemy import update

    from backoffice.schema import items

    _in_force(owners)
    big = queue_items(owners, 1, codes=("X",), amount="25000.00", start=0)[0]  # above 10000
    small = queue_items(owners, 1, codes=("X",), amount="50.00", start=1)[0]
    old = queue_items(owners, 1, codes=("X",), amount="50.00", start=2)[0]
    with owners.write() as conn:  # waiting 50 hours: over the 48-hour threshold once
        conn.execute(update(items).where(items.c.id == old).values(queued_at=utcnow() - timedelta(hours=50)))
    q = Queue(owners)
    done = q.escalate_overdue()
    assert sorted(done) == sorted([big, old])
    assert q.get(big).row["tier"] == "approver" and q.get(old).row["tier"] == "team_lead"
    assert q.get(small).row["tier"] == "associate"
    assert q.escalate_overdue() == []  # thresholds are floors: nothing twice


# -- the CLI --------------------------------------------------------------------------------------------
def test_owners_check_apply_approve_show_at_the_cli(owners: Store, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    import json

    from backoffice.cli import main

    path = _file(tmp_path)
    assert main(["owners", "check", str(path)]) == 0
    assert "owners.toml: ok, 2 rows" in capsys.readouterr().out
    (tmp_path / "bad").mkdir()
    bad = _file(tmp_path / "bad", REGISTER.replace('"lead2"', '"carl"'))
    assert main(["owners", "check", str(bad)]) == 1
    assert "owners.toml line 10, rules[0].backup: no user 'carl'" in capsys.readouterr().err.replace(
        "\n", " "
    )
    assert main(["owners", "check", str(path), "--engagement", "acme"]) == 1
    assert "no engagement 'acme'" in capsys.readouterr().err
    assert main(["owners", "apply", str(path), "--user", "expert"]) == 0
    out = capsys.readouterr().out
    assert "proposed #1: 2 added, 0 removed, 0 changed" in out and "owners approve 1 --user approver" in out
    assert main(["owners", "show", "--json", "--user", "associate"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["in_force"] is None and [p["id"] for p in shown["proposed"]] == [1]
    assert main(["owners", "approve", "1", "--user", "expert"]) == 3  # not an approver
    capsys.readouterr()
    assert main(["owners", "approve", "1", "--user", "approver"]) == 0
    capsys.readouterr()
    assert main(["owners", "show", "--json", "--user", "associate"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["in_force"]["id"] == 1 and shown["in_force"]["rules"][1]["decision_owner"] == "approver"
    assert main(["owners", "show", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["version"] == shown["in_force"]["version"]
    assert main(["owners", "list", "--user", "approver"]) == 0
    assert "approved" in capsys.readouterr().out


def test_users_away_and_back_at_the_cli(owners: Store, capsys) -> None:  # type: ignore[no-untyped-def]
    from backoffice.cli import main

    day = (utcnow() + timedelta(days=3)).date().isoformat()
    assert main(["users", "away", "team_lead", "--until", day]) == 1  # --by is required
    capsys.readouterr()
    assert main(["users", "away", "team_lead", "--until", day, "--by", "admin"]) == 0
    assert (
        f"team_lead away until {(utcnow() + timedelta(days=4)).date().isoformat()} 00:00 UTC"
        in capsys.readouterr().out
    )
    assert is_away(owners, "team_lead", (utcnow() + timedelta(days=3)).replace(hour=23, minute=30))
    assert main(["users", "away", "team_lead", "--until", "soon", "--by", "admin"]) == 1
    assert main(["users", "back", "team_lead", "--by", "admin"]) == 0
    assert not is_away(owners, "team_lead", utcnow())


def test_escalation_notices_name_the_decision_owner_and_response_deadline(owners: Store) -> None:
    from backoffice.notify import item_notice

    _in_force(owners)
    item_id = queue_items(owners, 1, codes=("FAST",))[0]
    notice = item_notice("escalation", Queue(owners).get(item_id).row)
    assert notice.facts["decision_owner"] == "approver"
    assert notice.facts["response_due"] == Queue(owners).get(item_id).row["response_due"].isoformat()


def test_the_demo_register_validates_against_the_demo_users(bo_store: Store) -> None:  # noqa: F811
    from flows.demo import DEMO_USERS, fixtures_dir

    for name, role in DEMO_USERS.items():
        add_user(bo_store, name, role)
    reg = load_register(fixtures_dir() / "owners.toml", store=bo_store)
    assert reg.client_approver == "carol"
    for bot in ("invoice-matching", "payroll-reconciliation", "data-entry"):
        row = reg.row_for(bot, None)
        assert row is not None and row.code == "*" and row.response_hours


def test_a_reopened_item_gets_a_fresh_response_deadline_from_the_register(owners: Store) -> None:
    from sqlalchemy import update

    from backoffice.schema import items

    _in_force(owners)
    item_id = queue_items(owners, 1, codes=("FAST",), amount="50.00")[0]
    q = Queue(owners)
    q.claim(item_id, "associate")
    q.resolve(item_id, "associate", "reject", "not ours")
    with owners.write() as conn:  # decided long ago
        conn.execute(
            update(items).where(items.c.id == item_id).values(response_due=utcnow() - timedelta(days=9))
        )
    t0 = utcnow()
    row = q.reopen(item_id, "qa", "sample failed").row
    assert row["decision_owner"] == "approver"
    assert timedelta(hours=4) <= row["response_due"] - t0 < timedelta(hours=4, minutes=1)


@pytest.mark.slow
def test_the_register_routes_and_escalates_on_postgresql(pg_url: str) -> None:
    from backoffice.testing import TEST_USERS

    store = Store.open()
    for name, role in {**TEST_USERS, "lead2": "team_lead", "approver2": "approver"}.items():
        add_user(store, name, role)
    first = _in_force(store)
    assert current_register(store).id == first  # type: ignore[union-attr]
    second = propose(store, parse_register(REGISTER.replace("= 24", "= 12")), "team_lead")
    assert second.diff["changed"][0]["changes"]["response_hours"] == {"from": "24", "to": "12"}
    assert current_register(store).id == first  # type: ignore[union-attr]
    big = queue_items(store, 1, codes=("X",), amount="25000.00")[0]
    row = Queue(store).get(big).row
    assert row["decision_owner"] == "team_lead" and row["response_due"] is not None
    mark_away(store, "team_lead", utcnow() + timedelta(hours=5), by="admin")
    reg = current_register(store)
    assert reg is not None and reg.decision_owner_for("test", "X", store=store, at=utcnow()) == "lead2"
    assert Queue(store).escalate_overdue() == [big] and Queue(store).get(big).row["tier"] == "approver"
