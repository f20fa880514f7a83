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
