from __future__ import annotations

import json

from backoffice import audit
from backoffice.cli import main


def test_users_bootstrap_then_admin_required(bo_store, capsys, monkeypatch):
    assert main(["users", "add", "root", "--role", "admin"]) == 0
    assert main(["users", "add", "alice", "--role", "associate"]) == 3  # an admin exists now: --by needed
    assert main(["users", "add", "alice", "--role", "associate", "--by", "root"]) == 0
    assert main(["users", "add", "bob", "--role", "associate", "--by", "alice"]) == 3  # not an admin
    assert main(["users", "add", "carl", "--role", "wizard", "--by", "root"]) == 1
    assert "unknown role" in capsys.readouterr().err
    capsys.readouterr()
    assert main(["users", "list", "--json"]) == 3  # an admin exists: who reads?
    assert main(["users", "list", "--json", "-u", "root"]) == 0
    names = {u["name"]: u["role"] for u in json.loads(capsys.readouterr().out)}
    assert names == {"root": "admin", "alice": "associate"}
    denied = audit.entries(bo_store, action="permission.denied")
    assert [d["actor"] for d in denied] == ["?", "alice", "?"]  # the last: `users list` naming no one


def test_password_from_stdin_and_hashed(bo_store, monkeypatch):
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO("correct horse battery\n"))
    assert main(["users", "add", "dana", "--role", "associate", "--password"]) == 0
    from backoffice.users import authenticate

    assert authenticate(bo_store, "dana", "correct horse battery").name == "dana"
    raw = bo_store.url.split("///", 1)[1]
    with open(raw, "rb") as fh:
        assert b"correct horse battery" not in fh.read()


def test_usage_errors_exit_2_and_config_hides_secrets(bo_store, bo_users, capsys, monkeypatch):
    assert main(["queue", "claim"]) == 2
    assert main(["queue", "list"]) == 2  # every read names a user
    assert "--user" in capsys.readouterr().err
    assert main(["queue", "list", "--user", "associate", "--status", "bogus"]) == 1
    assert "unknown status" in capsys.readouterr().err
    monkeypatch.setenv("BACKOFFICE_AUDIT_KEY", "s3cr3t-value")
    from backoffice.settings import reset_settings

    reset_settings()
    assert main(["config", "--json"]) == 0
    out = capsys.readouterr().out
    assert "s3cr3t-value" not in out and "BACKOFFICE_AUDIT_KEY" in out


def test_unexpected_errors_are_one_line_and_logged(bo_store, bo_users, capsys, monkeypatch):
    from backoffice.queue import Queue

    def boom(self, **kw):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(Queue, "stats", boom)
    assert main(["queue", "stats", "--user", "associate"]) == 1
    err = capsys.readouterr().err
    assert "unexpected error: RuntimeError: disk on fire" in err and "Traceback" not in err
    log = (bo_store.home / "logs" / "cli-errors.log").read_text()
    assert "Traceback" in log and "disk on fire" in log


def test_run_options_are_generated_from_the_bots_inputs(bo_store, tmp_path, capsys, prefect_harness):
    from backoffice.plugins import use_bots
    from tests.core.toybot import bot, write_orders

    with use_bots([bot]):
        assert main(["run", "toy", "--help"]) == 0
        out = capsys.readouterr().out
        for option in ("--orders", "--ledger", "--blocked", "--fail-times", "--batch-size", "--json"):
            assert option in out
        assert "CSV of orders" in out  # the field's description is the help
        assert main(["run", "toy", "--ledger", str(tmp_path / "ledger.jsonl")]) == 2
        assert "--orders" in capsys.readouterr().err
        missing = ["run", "toy", "--orders", str(tmp_path / "no.csv"), "--ledger", str(tmp_path / "l.jsonl")]
        assert main(missing) == 1
        assert "--orders: file not found" in capsys.readouterr().err
        orders = write_orders(tmp_path / "orders.csv", 14)
        argv = ["run", "toy", "--orders", str(orders), "--ledger", str(tmp_path / "ledger.jsonl")]
        assert main([*argv, "--blocked", "C2", "--blocked", "C3", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["bot"] == "toy" and summary["total"] == 14
    assert summary["codes"] == {"TOY-BLOCKED": 4} and summary["done"] == 10  # C2, C3: orders 2, 3, 9, 10


# -- what a user sees at 80 columns -------------------------------------------------------------


def _at_80(monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    from backoffice.cli import _common

    monkeypatch.setattr(_common.console, "_width", 80)


def test_queue_list_at_80_columns_keeps_every_rule_code_whole(bo_store, bo_users, capsys, monkeypatch):
    from backoffice.queue import Queue
    from backoffice.testing import queue_items

    _at_80(monkeypatch)
    long_codes = ("PAY-RAISE-UNAPPROVED", "PAY-BANK-DUPLICATE")
    queue_items(bo_store, 2, codes=long_codes, bot="payroll-reconciliation")  # pay: masked
    queue_items(
        bo_store, 1, codes=("INV-VENDOR-UNKNOWN",), bot="invoice-matching", start=5, amount="123456.78"
    )
    Queue(bo_store).claim(1, "associate")
    assert main(["queue", "list", "--user", "associate"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert max(len(x) for x in lines) <= 80, out
    header = lines[0].split()
    assert header == ["id", "bot", "status", "codes", "amount", "due", "sla", "assignee"], out
    for code in (*long_codes, "INV-VENDOR-UNKNOWN"):  # one code a line, never folded inside
        assert any(code in line.split() for line in lines), (code, out.splitlines())
    assert "123456.78 EUR" in out and "associa…" in out  # a long assignee gives way after the bot
    assert "payroll-…" in out  # the bot name is what gives way first, with an ellipsis


def test_owners_show_at_80_columns_headers_on_one_line(bo_store, bo_users, tmp_path, capsys, monkeypatch):
    _at_80(monkeypatch)
    rows = "".join(
        f"""
[[rules]]
bot = "payroll-reconciliation"
code = "{code}"
delivery_owner = "associate"
decision_owner = "team_lead"
backup = "approver"
response_hours = 24
escalate_amount = "10000"
escalate_age_hours = 48
path = ["associate", "team_lead", "approver"]
"""
        for code in ("*", "PAY-BANK-ACCOUNT")
    )
    register = tmp_path / "owners.toml"
    register.write_text(f'engagement = "default"\nclient_approver = "approver"\n{rows}')
    assert main(["owners", "show", str(register), "--user", "team_lead"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert max(len(x) for x in lines) <= 80, out
    assert lines[1].split() == [
        "bot",
        "code",
        "delivery",
        "decision",
        "backup",
        "respond",
        "escalate",
        "path",
    ]
    words = out.split()
    for word in ("associate", "team_lead", "approver", "10000,", "48"):  # wrapped between words only
        assert word in words, (word, out)


def test_escalate_table_title_is_not_folded():
    from rich.console import Console

    from backoffice.cli.tables import escalate_table

    console = Console(width=80, record=True)
    console.print(escalate_table({"items": [11, 24], "escalated": 2}))
    text = console.export_text()
    assert text.splitlines()[0].strip() == "escalated"
    assert "2 overdue item(s) escalated to the next tier" in text


def test_help_shows_metavars_not_python_types(bo_store, capsys, monkeypatch):
    _at_80(monkeypatch)
    for argv in (
        ["--help"],
        ["deploy", "--help"],
        ["queue", "resolve", "--help"],
        ["queue", "list", "--help"],
    ):
        assert main(argv) == 0
        out = capsys.readouterr().out
        for python_type in ("<bool>", "<str>", "<int>", "<list[str]>"):
            assert python_type not in out, (argv, out)
    assert main(["queue", "resolve", "--help"]) == 0
    out = capsys.readouterr().out
    assert "{ITEM_ID}" in out and "ITEM_ID      INTEGER" in out

    def after(option: str) -> str:
        parts = next(x for x in out.splitlines() if option in x.split()).split()
        return parts[parts.index(option) + 1]

    assert after("--reason") == "TEXT" and after("--json") == "Print"  # a flag shows no metavar


def test_bots_lists_rules_as_a_table_that_fits_80_columns(capsys, monkeypatch):
    _at_80(monkeypatch)
    assert main(["bots"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert max(len(x) for x in lines) <= 80
    rows = [x.split() for x in lines if x[:1].isupper() and "-" in x.split()[0]]
    codes = {r[0] for r in rows}
    assert {"PAY-RAISE-UNAPPROVED", "INV-VENDOR-UNKNOWN", "DE-TOTAL"} <= codes
    assert next(r[:4] for r in rows if r[0] == "PAY-GHOST") == ["PAY-GHOST", "approver", "4", "h"]
    wrapped = [x for x in lines if x.startswith("    ") and x.strip()]
    assert wrapped and all(len(x) - len(x.lstrip()) > 30 for x in wrapped)  # under the description
