"""The split flow in embedded mode (no server): parts give exactly the decisions of one run.

Also: ``backoffice deploy`` finds every flow and its module-path entrypoint loads.
"""

from __future__ import annotations

import pytest

from backoffice.errors import InputError
from backoffice.orchestration.deploy import discover
from backoffice.runner import run_bot
from backoffice.testing import open_store
from bots.invoice_matching.bot import bot, invoice_files
from bots.invoice_matching.split import deal, invoice_matching_part, split_summary
from tests.scale.helpers import FIXTURES, check_exactly_once, fixture_inputs, outcomes


def test_deal_is_balanced_disjoint_and_complete():
    names = [f"f{i:02d}.pdf" for i in range(11)]
    chunks = deal(list(reversed(names)), 4)
    assert [len(c) for c in chunks] == [3, 3, 3, 2]
    assert sorted(n for c in chunks for n in c) == names
    assert deal(names[:2], 4) == [["f00.pdf"], ["f01.pdf"]]  # no empty parts
    with pytest.raises(InputError):
        deal(names, 0)


def test_split_parts_decide_exactly_like_one_run(tmp_path, monkeypatch, prefect_harness):
    # reference: one plain run over the whole directory
    ref_store = open_store(tmp_path / "ref", monkeypatch)
    run_bot(bot, fixture_inputs(tmp_path / "ref-ledger.xlsx"), store=ref_store)
    reference = outcomes(ref_store)

    store = open_store(tmp_path / "split", monkeypatch)
    ledger = tmp_path / "ledger.xlsx"
    inputs = fixture_inputs(ledger)
    names = [p.name for p in invoice_files(FIXTURES / "pdf")]
    chunks = deal(names, 3)
    for k, chunk in enumerate(reversed(chunks), start=1):  # parts finish in any order
        s = invoice_matching_part(**inputs, files=chunk, split=f"t:{k}/3", batch_size=7)
        assert s["total"] == len(chunk)
    assert outcomes(store) == reference
    totals = check_exactly_once(store, len(names), [ledger])
    summary = split_summary("t:", store)
    assert [p["split"] for p in summary["parts"]] == ["t:1/3", "t:2/3", "t:3/3"]
    assert summary["total"] == len(names) and summary["done"] == totals["done"]
    # the items point at the real files, not at the part's temporary links
    assert all(it.row["source"]["file"].startswith(str(FIXTURES)) for it in _all(store))

    # a part run again posts nothing twice and skips everything
    again = invoice_matching_part(**inputs, files=chunks[0], split="t:again")
    assert again["skipped"] == len(chunks[0]) and again["done"] == 0
    check_exactly_once(store, len(names), [ledger])


def _all(store):
    from backoffice.queue import Queue

    return Queue(store).list(status="queued", limit=None) + Queue(store).list(status="done", limit=None)


def test_a_part_with_a_file_not_in_the_directory_is_refused(tmp_path, monkeypatch, prefect_harness):
    open_store(tmp_path / "home", monkeypatch)
    with pytest.raises(InputError, match="not in the directory"):
        invoice_matching_part(**fixture_inputs(tmp_path / "l.xlsx"), files=["no-such.pdf"])


def test_deploy_discovers_bot_maintenance_and_split_flows():
    from prefect.flows import load_flow_from_entrypoint

    targets = {t.name: t for t in discover()}
    assert {"invoice-matching", "reprocess-resolved", "escalate-overdue", "invoice-matching-part"} <= set(
        targets
    )
    assert targets["invoice-matching"].kind == "bot"
    assert targets["escalate-overdue"].kind == "maintenance" and targets["escalate-overdue"].interval
    for t in targets.values():
        assert load_flow_from_entrypoint(t.entrypoint).name == t.name  # what a worker will import


def test_deploy_without_a_server_is_a_clear_error(monkeypatch, capsys):
    from backoffice.cli import main

    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: None}):
        rc = main(["deploy", "--no-schedules"])
    assert rc != 0
    assert "PREFECT_API_URL" in capsys.readouterr().err
