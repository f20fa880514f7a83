"""The invoice-matching Prefect flow and `backoffice run invoice-matching` on the fixtures."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from backoffice import audit
from backoffice.cli import main
from backoffice.testing import done, queued
from connectors.purchasing import read_ledger

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "fixtures" / "invoices"
_ANSWER = json.loads((FIXTURES / "answer_key.json").read_text())
KEY = {**_ANSWER["invoices"], **_ANSWER["other_inputs"]}  # every file of the invoice directory
CLEAN = sum(1 for k in KEY.values() if not k["expect"])


def _args(tmp_path: Path) -> list[str]:
    return [
        "--invoices",
        str(FIXTURES / "pdf"),
        "--pos",
        str(FIXTURES / "purchase_orders.xlsx"),
        "--receipts",
        str(FIXTURES / "receipts.csv"),
        "--vendors",
        str(FIXTURES / "vendors.xlsx"),
        "--ledger",
        str(tmp_path / "ledger.xlsx"),
    ]


def test_flow_runs_batches_and_posts(bo_store, tmp_path, prefect_harness) -> None:
    from flows.invoice_matching import invoice_matching

    summary = invoice_matching(
        invoices=str(FIXTURES / "pdf"),
        pos=str(FIXTURES / "purchase_orders.xlsx"),
        receipts=str(FIXTURES / "receipts.csv"),
        vendors=str(FIXTURES / "vendors.xlsx"),
        ledger=str(tmp_path / "ledger.xlsx"),
        batch_size=10,
    )
    assert summary["total"] == len(KEY) and summary["done"] == CLEAN
    assert summary["queued"] == len(KEY) - CLEAN and summary["system_exceptions"] == 0
    assert (
        len(done(bo_store, "invoice-matching")) == CLEAN == len(read_ledger(tmp_path / "ledger.xlsx").entries)
    )
    assert len(queued(bo_store, "invoice-matching")) == len(KEY) - CLEAN
    assert audit.verify(bo_store).ok


def test_cli_json_summary_and_idempotent_rerun(bo_store, tmp_path, prefect_harness, capsys) -> None:
    rc = main(["run", "invoice-matching", *_args(tmp_path), "--json"])
    out = capsys.readouterr().out
    assert rc == 0, out
    summary = json.loads(out)
    assert summary["bot"] == "invoice-matching" and summary["done"] == CLEAN
    assert summary["codes"]["INV-PRICE"] == sum(1 for k in KEY.values() if "INV-PRICE" in k["expect"])
    rc = main(["run", "invoice-matching", *_args(tmp_path), "--json"])
    assert rc == 0 and json.loads(capsys.readouterr().out)["skipped"] == len(KEY)
    assert len(read_ledger(tmp_path / "ledger.xlsx").entries) == CLEAN


def test_cli_bad_arguments_are_one_clear_line(bo_store, tmp_path, capsys) -> None:
    args = _args(tmp_path)
    missing = [*args[:5], str(tmp_path / "missing.csv"), *args[6:]]
    assert main(["run", "invoice-matching", *missing]) == 1
    err = capsys.readouterr().err
    assert "file not found" in err and "Traceback" not in err
    assert main(["run", "invoice-matching", *args[:-1], str(tmp_path / "ledger.csv")]) == 2
    assert main(["run", "invoice-matching", *args, "--fx", "dollars"]) == 2
    broken = tmp_path / "pos.xlsx"
    broken.write_bytes(b"PK\x03\x04 not really a workbook")
    assert main(["run", "invoice-matching", *args[:2], "--pos", str(broken), *args[4:]]) == 1
    assert "Traceback" not in capsys.readouterr().err


def test_extract_cli_is_mounted(capsys, tmp_path) -> None:
    pdf = tmp_path / "one.pdf"
    shutil.copy(FIXTURES / "pdf" / "nordwind-01-clean.pdf", pdf)
    assert main(["extract", "invoice", str(pdf), "--json"]) == 0
    record = json.loads(capsys.readouterr().out)
    assert record["invoice_number"] == "NW-24-1001" and record["source"] == "text"


def test_extract_table_at_80_columns_keeps_numbers_whole_and_lists_errors_below(
    capsys, tmp_path, monkeypatch
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    for name in ("nordwind-01-clean.pdf", "bad-01-corrupt.pdf"):
        shutil.copy(FIXTURES / "pdf" / name, tmp_path / name)
    assert main(["extract", "invoice", str(tmp_path)]) == 1  # the corrupt one is refused
    out = capsys.readouterr().out
    table, notes = out.split("\nerror ", 1)
    assert max(len(line) for line in table.splitlines()) <= 80
    assert "NW-24-1001" in table and "EUR" in table
    # under the table, one line each, the terminal wraps it: a path is never broken
    assert f"{tmp_path / 'bad-01-corrupt.pdf'}: corrupt PDF" in notes


def test_a_run_for_an_engagement_lands_in_its_store_only(bo_store, tmp_path, prefect_harness, capsys) -> None:
    """`backoffice run ... --engagement acme`: one real flow run; its items, ledger postings and
    audit entries are acme's, the default store has none of them."""
    from backoffice.engagements import add_engagement
    from backoffice.store import Store
    from backoffice.users import add_user

    add_user(bo_store, "root", "admin")
    add_engagement(bo_store, "acme", by="root")
    rc = main(["run", "invoice-matching", *_args(tmp_path), "--json", "--engagement", "acme"])
    out = capsys.readouterr().out
    assert rc == 0, out
    summary = json.loads(out)
    assert summary["engagement"] == "acme" and summary["done"] == CLEAN
    acme = Store.open(engagement="acme")
    assert (
        len(done(acme, "invoice-matching")) == CLEAN
        and len(queued(acme, "invoice-matching")) == len(KEY) - CLEAN
    )
    assert not done(bo_store, "invoice-matching") and not queued(bo_store, "invoice-matching")
    assert audit.entries(acme, action="run.started") and not audit.entries(bo_store, action="run.started")
    assert audit.verify(acme).ok and audit.verify(bo_store).ok
