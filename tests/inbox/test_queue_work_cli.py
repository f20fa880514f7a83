"""The queue work commands at the CLI (at 80 columns) and through the JSON API / --server:
assign, postpone, export, sample, review, awaiting, reprocess/escalate tables (issue 13)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from openpyxl import load_workbook

from backoffice import audit
from backoffice.cli import main
from backoffice.queue import Queue
from backoffice.settings import reset_settings
from backoffice.store import utcnow
from backoffice.testing import queue_items
from backoffice.users import create_token
from tests.inbox.conftest import make_client
from tests.inbox.test_api import server  # noqa: F401 (fixture)


@pytest.fixture(autouse=True)
def _eighty_columns(monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")


def _bearer(store, user):
    return {"Authorization": f"Bearer {create_token(store, user, 't', days=1, auth='password')[1]}"}


def test_queue_list_fits_80_columns_and_wide_shows_every_column(bo_store, bo_users, capsys):
    queue_items(bo_store, 3, codes=("INV-PRICE", "INV-QTY"), bot="invoice-matching")
    queue_items(bo_store, 2, codes=("PAY-HOURS",), bot="payroll-reconciliation", start=5)
    Queue(bo_store).claim(1, "associate")
    assert main(["queue", "list", "--user", "associate"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert max(len(x) for x in lines) <= 80, out
    assert "INV-PRICE" in out and "PAY-HOURS" in out and "associate" in out and "id" in lines[0]
    assert main(["queue", "list", "--wide", "--user", "associate"]) == 0
    wide = capsys.readouterr().out
    assert all(col in wide.splitlines()[0] for col in ("owner", "tier", "assigned", "postponed", "prio"))
    assert "payroll-reconciliation" in wide  # not cut


def test_assign_postpone_export_at_the_cli(bo_store, bo_users, capsys, tmp_path):
    ids = queue_items(bo_store, 4)
    assert main(["queue", "assign", str(ids[0]), "--to", "associate2", "--user", "team_lead"]) == 0
    assert "assigned to associate2" in capsys.readouterr().out
    assert main(["queue", "assign", str(ids[1]), "--to", "associate2", "--user", "associate"]) == 3
    assert main(["queue", "assign", str(ids[1]), "--user", "team_lead"]) == 2  # neither --to nor --clear
    assert main(["queue", "assign", "--auto", "--user", "team_lead", "--json"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert {a["id"] for a in got["assigned"]} == set(ids[1:])
    until = (utcnow() + timedelta(days=2)).date().isoformat()
    assert (
        main(
            ["queue", "postpone", str(ids[2]), "--until", until, "--reason", "vendor", "--user", "associate"]
        )
        == 0
    )
    assert "postponed until" in capsys.readouterr().out
    assert (
        main(["queue", "postpone", str(ids[2]), "--until", "soon", "--reason", "x", "--user", "associate"])
        == 1
    )
    assert main(["queue", "list", "--json", "--user", "associate"]) == 0
    assert ids[2] not in [r["id"] for r in json.loads(capsys.readouterr().out)]
    out = tmp_path / "view.xlsx"
    assert main(["queue", "export", "--format", "xlsx", "--out", str(out), "--user", "associate"]) == 0
    rows = list(load_workbook(out, read_only=True).active.iter_rows(values_only=True))
    assert sorted(r[0] for r in rows[1:]) == sorted(set(ids) - {ids[2]})
    assert (
        main(
            [
                "queue",
                "export",
                "--format",
                "csv",
                "--out",
                str(tmp_path / "p.csv"),
                "--postponed",
                "--user",
                "associate",
            ]
        )
        == 0
    )
    assert (tmp_path / "p.csv").read_text(encoding="utf-8-sig").count("\n") == 2
    assert (
        main(["queue", "export", "--format", "pdf", "--out", str(tmp_path / "x"), "--user", "associate"]) == 1
    )
    assert main(["queue", "resume", str(ids[2]), "--reason", "back early", "--user", "associate"]) == 0


def test_sample_review_and_accuracy_at_the_cli(bo_store, bo_users, capsys):
    ids = queue_items(bo_store, 6)
    q = Queue(bo_store)
    for i in ids:
        q.claim(i, "associate")
        q.resolve(i, "associate", "reject", "dup", root_cause="vendor_error")
    assert (
        main(["queue", "sample", "--bot", "test", "--size", "3", "--seed", "5", "--user", "qa", "--json"])
        == 0
    )
    first = json.loads(capsys.readouterr().out)
    assert (
        main(["queue", "sample", "--bot", "test", "--size", "3", "--seed", "5", "--user", "qa", "--json"])
        == 0
    )
    again = json.loads(capsys.readouterr().out)
    assert [r["item_id"] for r in first["items"]] == [r["item_id"] for r in again["items"]]
    assert (
        main(["queue", "sample", "--bot", "test", "--size", "3", "--seed", "5", "--user", "associate"]) == 3
    )
    item = again["items"][0]["item_id"]
    assert main(["queue", "review", str(item), "--verdict", "fail", "--user", "qa"]) == 1  # needs reason
    assert (
        main(
            [
                "queue",
                "review",
                str(item),
                "--verdict",
                "fail",
                "--reason",
                "wrong",
                "--root-cause",
                "bot_defect",
                "--user",
                "qa",
            ]
        )
        == 0
    )
    assert "reopened" in capsys.readouterr().out
    assert Queue(bo_store).get(item).status == "open"
    assert main(["queue", "accuracy", "--json", "--user", "qa"]) == 0
    acc = json.loads(capsys.readouterr().out)
    assert acc["by_bot"] == [{"name": "test", "reviewed": 1, "passed": 0, "failed": 1, "accuracy": 0.0}]
    seeds = [e["data"]["seed"] for e in audit.entries(bo_store) if e["action"] == "qa.sampled"]
    assert seeds == [5, 5]


def test_awaiting_and_the_maintenance_tables(bo_store, bo_users, capsys):
    (i,) = queue_items(bo_store, 1)
    q = Queue(bo_store)
    q.claim(i, "associate")
    q.resolve(i, "associate", "approve", "fine")
    assert main(["queue", "awaiting", "--user", "team_lead"]) == 0
    assert "1 item(s) awaiting your approval" in capsys.readouterr().out
    assert main(["queue", "awaiting", "--user", "associate"]) == 3
    assert main(["escalate"]) == 0
    assert "no overdue item to escalate" in capsys.readouterr().out
    assert main(["escalate", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"escalated": 0, "items": []}


def test_tables_of_reprocess_and_escalate():
    from rich.console import Console

    from backoffice.cli.tables import escalate_table, reprocess_table

    con = Console(width=80, record=True)
    con.print(reprocess_table({"toy": {"total": 3, "done": 2, "queued": 1, "codes": {"TOY-LIMIT": 1}}}))
    con.print(escalate_table({"escalated": 2, "items": [4, 9]}))
    text = con.export_text()
    assert "toy" in text and "TOY-LIMIT×1" in text and "3 resolved item(s)" in text
    assert "2 overdue item(s) escalated" in text and max(len(x) for x in text.splitlines()) <= 80


def test_api_assign_postpone_bulk(bo_store, bo_users):
    ids = queue_items(bo_store, 3)
    c = make_client(bo_store)
    lead, assoc = _bearer(bo_store, "team_lead"), _bearer(bo_store, "associate")
    r = c.post(f"/api/v1/items/{ids[0]}/assign", json={"to": "associate"}, headers=lead)
    assert r.status_code == 200 and r.json()["assigned_to"] == "associate"
    assert (
        c.post(f"/api/v1/items/{ids[0]}/assign", json={"to": "associate2"}, headers=assoc).status_code == 403
    )
    until = (utcnow() + timedelta(days=1)).isoformat()
    r = c.post(f"/api/v1/items/{ids[1]}/postpone", json={"until": until, "reason": "wait"}, headers=assoc)
    assert r.status_code == 200 and r.json()["postponed_until"]
    r = c.post("/api/v1/bulk", json={"action": "claim", "ids": ids}, headers=assoc)
    got = {x["id"]: x["ok"] for x in r.json()["results"]}
    assert got == {ids[0]: True, ids[1]: True, ids[2]: True} and r.json()["done"] == 3
    r = c.post("/api/v1/bulk", json={"action": "reassign", "ids": ids, "to": "associate2"}, headers=assoc)
    assert r.status_code == 200 and not any(x["ok"] for x in r.json()["results"])
    assert c.post("/api/v1/bulk", json={"action": "nope", "ids": ids}, headers=assoc).status_code == 400


def test_cli_through_the_server(bo_store, bo_users, server, monkeypatch, capsys):  # noqa: F811
    ids = queue_items(bo_store, 2)
    monkeypatch.setenv(
        "BACKOFFICE_TOKEN", create_token(bo_store, "team_lead", "t", days=1, auth="password")[1]
    )
    reset_settings()
    assert main(["queue", "--server", server, "assign", str(ids[0]), "--to", "associate"]) == 0
    assert "assigned to associate" in capsys.readouterr().out
    assert main(["queue", "--server", server, "assign", "--auto", "--json"]) == 0
    assert [a["id"] for a in json.loads(capsys.readouterr().out)["assigned"]] == [ids[1]]
    monkeypatch.setenv(
        "BACKOFFICE_TOKEN", create_token(bo_store, "associate", "t", days=1, auth="password")[1]
    )
    reset_settings()
    assert (
        main(["queue", "--server", server, "postpone", str(ids[0]), "--until", "2d", "--reason", "wait"]) == 0
    )
    assert main(["queue", "--server", server, "assign", str(ids[1]), "--to", "associate"]) == 3
    tokened = [e for e in audit.entries(bo_store) if e["action"] in ("item.assigned", "item.postponed")]
    assert [e["actor"] for e in tokened] == ["team_lead", "team_lead", "associate"]
