"""What a new user copies from the CLI's own hints works as printed (README walkthrough)."""

from __future__ import annotations

from pathlib import Path

import pytest

from backoffice import Store
from backoffice.cli.runs import print_run_summary
from backoffice.scaffold import create_bot

_SUMMARY = {
    "run_id": "abc123",
    "bot": "orders",
    "total": 3,
    "done": 1,
    "queued": 2,
    "system_exceptions": 0,
    "skipped": 0,
    "closed": 0,
    "codes": {"ORD-LIMIT": 2},
    "ruleset_version": "orders@0123456789ab",
}


def test_run_summary_hint_names_the_reader(capsys: pytest.CaptureFixture[str]) -> None:
    # every CLI read names a user: a hint without --user exits 2 when copied as printed
    print_run_summary(dict(_SUMMARY), bot="orders")
    out = " ".join(capsys.readouterr().out.split())
    assert "`backoffice queue list --bot orders --user NAME` shows the queue" in out


def test_scaffolded_readme_reads_name_a_user(tmp_path: Path) -> None:
    target, _files = create_bot("demo-orders", tmp_path)
    readme = (target / "README.md").read_text()
    assert "backoffice queue list --bot demo-orders --user NAME" in readme
    assert "backoffice rules preview ID --user EXPERT" in readme


def test_queue_show_prints_the_source_as_text_not_a_dict() -> None:
    from backoffice.cli.queue import source_line

    src = {"file": "/in/bad-01.pdf", "locator": None, "sha256": "33b7d0107223c633e01e"}
    assert source_line(src) == "/in/bad-01.pdf, sha256 33b7d0107223…"
    assert source_line({"file": "orders.csv", "locator": "row 2", "sha256": ""}) == "orders.csv, row 2"
    assert source_line(None) == "-"


def test_qa_sample_hint_names_the_reviewer(
    bo_store: Store, bo_users: object, capsys: pytest.CaptureFixture[str]
) -> None:
    from backoffice.cli import main
    from tests.core.test_queue_work import _finished

    _finished(bo_store, 4)
    assert main(["queue", "sample", "--bot", "test", "--size", "2", "--seed", "1", "--user", "qa"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "`backoffice queue review ITEM --verdict pass|fail --user qa`" in out


def test_owners_apply_hint_names_the_engagement(
    bo_store: Store,
    bo_users: object,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # README "Engagements": a client's register, proposed there, is approved there by its client
    # approver; the printed hint without --engagement would look in the default store (exit 1)
    from backoffice.cli import main

    assert main(["engagements", "add", "acme", "--by", "admin"]) == 0
    for name, role in (("associate", "associate"), ("team_lead", "team_lead"), ("expert", "rpa_expert")):
        assert main(["users", "assign", name, "--engagement", "acme", "--role", role, "--by", "admin"]) == 0
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO("anna's password 1\n"))  # the client approver: acme's own
    assert main(["users", "add", "anna", "--role", "approver", "--engagement", "acme", "--by", "admin"]) == 0
    register = tmp_path / "acme-owners.toml"
    register.write_text(
        'engagement = "acme"\nclient_approver = "anna"\n\n[[rules]]\nbot = "invoice-matching"\n'
        'code = "*"\ndelivery_owner = "associate"\ndecision_owner = "anna"\nbackup = "team_lead"\n'
        'response_hours = 24\npath = ["associate", "team_lead", "anna"]\n'
    )
    capsys.readouterr()
    assert main(["owners", "apply", str(register), "--engagement", "acme", "--user", "expert"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    hint = "backoffice owners approve 1 --engagement acme --user anna"
    assert f"`{hint}`" in out, out
    assert main(hint.split()[1:]) == 0  # works copied as printed
    assert "in force from now on" in capsys.readouterr().out


def test_the_deploy_steps_first_store_open_needs_no_user(
    bo_store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    # README "Running on many machines", step 4: the command that opens (migrates) the new
    # database runs before any user exists; a queue read there exits 2 (every read names a user)
    from backoffice.cli import main

    assert main(["queue", "stats", "--json"]) == 2
    assert main(["audit", "verify", "--quick"]) == 0
    assert "audit chain intact: 0 entries" in " ".join(capsys.readouterr().out.split())


def test_awaiting_hint_is_the_checkers_next_step(
    bo_store: Store, bo_users: object, capsys: pytest.CaptureFixture[str]
) -> None:
    # a team lead's inbox step at the CLI: "awaiting my approval", then the check, copied as printed
    from backoffice.cli import main
    from backoffice.testing import queue_items

    (item,) = queue_items(bo_store, 1, amount="50.00")
    assert main(["queue", "claim", str(item), "--user", "associate"]) == 0
    assert (
        main(
            ["queue", "resolve", str(item), "--decision", "approve", "--reason", "ok", "--user", "associate"]
        )
        == 0
    )
    capsys.readouterr()
    assert main(["queue", "awaiting", "--user", "team_lead"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    hint = "backoffice queue resolve ID --decision approve --reason TEXT --user team_lead"
    assert f"`{hint}`" in out, out
    argv = hint.replace("ID", str(item)).replace("TEXT", "checked").split()[1:]
    assert main(argv) == 0
    assert f"item {item} resolved: approve" in capsys.readouterr().out
