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
