"""Governance reports (issue 14.4): the exception register (one row per exception per item round,
owner and commitment from the ownership register or the rules' SLAs, masked, formula-safe,
audited with the file's sha256) and the governance report (sheets, rows and charts)."""

from __future__ import annotations

import csv
import hashlib
import io
from datetime import timedelta
from pathlib import Path

import pytest
from openpyxl import load_workbook

from backoffice import audit
from backoffice.cli import main
from backoffice.errors import PermissionDenied
from backoffice.ownership import approve, parse_register, propose
from backoffice.queue import Queue
from backoffice.queue.trends import Period
from backoffice.reports import exception_register
from backoffice.store import Store, utcnow
from backoffice.testing import queue_items
from backoffice.users import add_user, list_users

REGISTER = """\
engagement = "default"
client_approver = "approver"

[[rules]]
bot = "test"
code = "*"
delivery_owner = "associate"
decision_owner = "team_lead"
backup = "lead2"
response_hours = 24
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


def _today() -> str:
    return utcnow().date().isoformat()


def _in_force(store: Store) -> None:
    add_user(store, "lead2", "team_lead")
    add_user(store, "approver2", "approver")
    reg = parse_register(REGISTER, users={u.name: u.role for u in list_users(store)})
    approve(store, propose(store, reg, "expert").id, "approver")


def _csv(path: Path) -> tuple[list[list[str]], list[dict[str, str]]]:
    lines = list(csv.reader(io.StringIO(path.read_bytes().decode("utf-8-sig"))))
    head, table = lines[:3], lines[4:]
    return head, [dict(zip(table[0], r, strict=True)) for r in table[1:]]


def test_the_register_without_a_register_in_force(bo_store, bo_users, tmp_path, capsys):
    first, second = queue_items(bo_store, 2, codes=("TEST-EXCEPTION", "OTHER"))
    q = Queue(bo_store)
    q.claim(first, "associate")
    q.resolve(first, "associate", "reject", "=HYPERLINK(1) pay DE89370400440532013000")
    out = tmp_path / "register.csv"
    t = _today()
    assert main(["report", "register", "--from", t, "--to", t, "--out", str(out), "--user", "team_lead"]) == 0
    assert "2 rows; no register in force" in capsys.readouterr().out
    head, rows = _csv(out)
    assert head[0] == ["Exception register of engagement default"] and "no register in force" in head[2][0]
    by_item = {int(r["item"]): r for r in rows}
    done, waiting = by_item[first], by_item[second]
    assert done["codes"] == "TEST-EXCEPTION OTHER" and done["decision"] == "reject"
    assert done["decided_by"] == "associate" and done["decision_owner"] == ""
    assert (
        done["response"] == "met" and done["commitment_from"] == "rule SLA" and done["outcome"] == "resolved"
    )
    assert done["reason"].startswith("'=HYPERLINK") and "DE89370400440532013000" not in done["reason"]
    assert waiting["response"] == "open" and waiting["decision"] == "" and waiting["outcome"] == "open"
    entry = audit.entries(bo_store, action="report.export")[-1]
    assert entry["data"]["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    assert entry["data"]["rows"] == 2 and entry["data"]["register"] is None and entry["actor"] == "team_lead"


def test_the_register_names_owners_and_commitments_per_round(bo_store, bo_users, tmp_path):
    _in_force(bo_store)
    fast = queue_items(bo_store, 1, codes=("FAST",))[0]
    slow = queue_items(bo_store, 1, codes=("SLOW",), start=10)[0]
    q = Queue(bo_store)
    q.claim(fast, "associate")
    q.resolve(fast, "associate", "reject", "not ours")
    q.reopen(fast, "qa", "sample failed")
    out = tmp_path / "register.xlsx"
    t = _today()
    assert main(["report", "register", "--from", t, "--to", t, "--out", str(out), "--user", "approver"]) == 0
    ws = load_workbook(out)["register"]
    values = [list(r) for r in ws.iter_rows(values_only=True)]
    assert "in force" in values[2][0] and "no register" not in values[2][0]
    cols = values[4]
    rows = [dict(zip(cols, r, strict=True)) for r in values[5:]]
    assert [(r["item"], r["round"]) for r in rows if r["item"] == fast] == [(fast, 1), (fast, 2)]
    one, two = (r for r in rows if r["item"] == fast)
    assert one["outcome"] == "reopened" and one["decision"] == "reject" and one["response"] == "met"
    assert one["decision_owner"] == "approver" and one["commitment_hours"] == 4
    assert (
        two["decision_owner"] == "approver" and two["commitment_from"] == "item" and two["response"] == "open"
    )
    (other,) = (r for r in rows if r["item"] == slow)
    assert other["decision_owner"] == "team_lead" and other["commitment_hours"] == 24


def test_a_round_decided_after_its_commitment_is_missed(bo_store, bo_users):
    from sqlalchemy import update

    from backoffice.schema import item_rounds, items

    _in_force(bo_store)
    item = queue_items(bo_store, 1, codes=("FAST",))[0]
    with bo_store.write() as conn:
        conn.execute(
            update(item_rounds)
            .where(item_rounds.c.item_id == item)
            .values(queued_at=utcnow() - timedelta(hours=5))
        )
        conn.execute(
            update(items).where(items.c.id == item).values(response_due=utcnow() - timedelta(hours=1))
        )
    (row,) = exception_register(bo_store, "compliance", Period.last_days(2)).rows
    assert row["response"] == "missed" and row["response_hours"] >= 5


def test_register_permissions_engagement_and_format(bo_store, bo_users, tmp_path, capsys):
    t = _today()
    args = ["report", "register", "--from", t, "--to", t, "--out"]
    assert main([*args, str(tmp_path / "r.xlsx"), "--user", "associate"]) == 3
    assert audit.entries(bo_store, action="permission.denied")[-1]["data"]["attempted"] == "read_reports"
    assert main([*args, str(tmp_path / "r.xlsx"), "--user", "team_lead", "--engagement", "acme"]) == 1
    assert "no engagement 'acme'" in capsys.readouterr().err
    assert main([*args, str(tmp_path / "r.pdf"), "--user", "team_lead"]) == 2
    assert (
        main(
            ["report", "register", "--from", "2026-13-01", "--to", t, "--out", "x.csv", "--user", "team_lead"]
        )
        != 0
    )
    with pytest.raises(PermissionDenied):
        exception_register(bo_store, "expert", Period.last_days(1))
    assert not (tmp_path / "r.xlsx").exists()


def test_the_governance_workbook_has_its_sheets_rows_and_charts(bo_store, bo_users, tmp_path, capsys):
    from backoffice.runner import run_bot
    from tests.core.test_incidents import FailBot

    _in_force(bo_store)
    fast = queue_items(bo_store, 2, codes=("FAST",))
    queue_items(bo_store, 1, codes=("SLOW",), start=10)
    q = Queue(bo_store)
    q.claim(fast[0], "associate")
    q.resolve(fast[0], "associate", "reject", "not ours")
    with pytest.raises(KeyError):
        run_bot(FailBot(), {"mode": "defect"}, store=bo_store)
    changed = parse_register(REGISTER.replace("response_hours = 4", "response_hours = 2"), users=None)
    propose(bo_store, changed, "expert", reason="faster answers")
    out = tmp_path / "governance.xlsx"
    t = _today()
    args = ["report", "governance", "--from", t, "--to", t, "--out", str(out)]
    assert main([*args, "--user", "associate"]) == 3
    assert main([*args, "--user", "compliance"]) == 0
    printed = capsys.readouterr().out
    assert "incidents opened: 1" in printed and "open changes: 1" in printed
    wb = load_workbook(out)
    assert wb.sheetnames == [
        "summary",
        "sla_by_owner",
        "daily",
        "backlog",
        "qa_accuracy",
        "incidents",
        "open_changes",
        "register",
    ]
    summary = {r[0]: r[1] for r in wb["summary"].iter_rows(min_row=2, values_only=True)}
    assert summary["exception rounds"] == 3 and summary["decided rounds"] == 1
    assert summary["within commitment %"] == 100 and summary["incidents opened"] == 1
    owners = [r for r in wb["sla_by_owner"].iter_rows(min_row=2, values_only=True)]
    assert owners == [("approver", 2, 1, 1, 0, 0, 100), ("team_lead", 1, 0, 0, 0, 0, None)]
    assert len(wb["sla_by_owner"]._charts) == 1
    daily_charts = wb["daily"]._charts
    assert len(daily_charts) == 2 and {type(c).__name__ for c in daily_charts} == {"LineChart", "BarChart"}
    assert wb["daily"].max_row == 2 and wb["daily"]["A2"].value == t
    (inc_row,) = list(wb["incidents"].iter_rows(min_row=2, values_only=True))
    assert inc_row[1] == "bot-defect" and inc_row[5] == "open"
    (change,) = list(wb["open_changes"].iter_rows(min_row=2, values_only=True))
    assert change[0] == "ownership register" and change[4] == "faster answers"
    assert wb["register"].max_row == 5 + 3
    entry = audit.entries(bo_store, action="report.export")[-1]
    assert entry["data"]["report"] == "governance"
    assert entry["data"]["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    assert main([*args[:-1], str(tmp_path / "g.csv"), "--user", "compliance"]) == 2


def test_the_register_and_the_governance_report_on_postgresql(pg_url, tmp_path):
    from backoffice.reports.governance import export_governance
    from backoffice.testing import TEST_USERS

    store = Store.open()
    for name, role in TEST_USERS.items():
        add_user(store, name, role)
    _in_force(store)
    item = queue_items(store, 1, codes=("FAST",))[0]
    q = Queue(store)
    q.claim(item, "associate")
    q.resolve(item, "associate", "reject", "not ours")
    (row,) = exception_register(store, "compliance", Period.last_days(1)).rows
    assert row["decision_owner"] == "approver" and row["response"] == "met" and row["commitment_hours"] == 4
    g, data, digest = export_governance(store, "compliance", Period.last_days(1), tmp_path / "g.xlsx")
    assert g.sla_by_owner[0]["attainment"] == 100 and hashlib.sha256(data).hexdigest() == digest
