"""The invoice-matching bot end to end on the committed fixtures (real PDFs, real SQLite store,
real xlsx ledger): every planted case gets exactly its codes, clean invoices are posted once,
evidence and audit entries exist, and human decisions go back through all rules."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from backoffice.audit import evidence_path, verify
from backoffice.errors import InputError, PermissionDenied
from backoffice.queue import Queue
from backoffice.runner import reprocess, run_bot
from backoffice.schema import audit, items
from backoffice.store import Store
from bots.invoice_matching.bot import bot
from connectors.purchasing import read_ledger

REPO = Path(__file__).resolve().parents[3]
FIXTURES = REPO / "fixtures" / "invoices"
ANSWER: dict[str, Any] = json.loads((FIXTURES / "answer_key.json").read_text())
# every file of the invoice directory: the PDFs and the other inputs (bare XML, files to refuse)
KEY: dict[str, Any] = {**ANSWER["invoices"], **ANSWER["other_inputs"]}


@pytest.fixture
def inputs(tmp_path: Path) -> dict[str, str]:
    work = tmp_path / "in"
    shutil.copytree(FIXTURES / "pdf", work / "pdf")
    for name in ("purchase_orders.xlsx", "receipts.csv", "vendors.xlsx"):
        shutil.copy(FIXTURES / name, work / name)
    return {
        "invoices": str(work / "pdf"),
        "pos": str(work / "purchase_orders.xlsx"),
        "receipts": str(work / "receipts.csv"),
        "vendors": str(work / "vendors.xlsx"),
        "ledger": str(tmp_path / "out" / "ledger.xlsx"),
    }


def by_file(store: Store) -> dict[str, Any]:
    with store.read() as conn:
        return {
            Path(r.source["file"]).name: r for r in conn.execute(select(items).where(items.c.bot == bot.name))
        }


def blocking_codes(row: Any) -> list[str]:
    return sorted({v["code"] for v in row.violations if v.get("severity") != "info"})


def test_every_planted_case_gets_exactly_its_codes(bo_store: Store, inputs: dict[str, str]) -> None:
    summary = run_bot(bot, inputs, store=bo_store)
    rows = by_file(bo_store)
    assert set(rows) == set(KEY)
    wrong = {
        name: (blocking_codes(rows[name]), want["expect"])
        for name, want in KEY.items()
        if blocking_codes(rows[name]) != want["expect"]
    }
    assert wrong == {}
    for name, want in KEY.items():
        assert rows[name].status == ("open" if want["expect"] else "done"), name
    assert summary.total == len(KEY)
    assert summary.done == sum(1 for k in KEY.values() if not k["expect"])
    assert summary.queued == sum(1 for k in KEY.values() if k["expect"])
    refused = sum(1 for k in KEY.values() if k["expect"] == ["INPUT"])
    assert summary.extra["files_seen"] == len(KEY) and summary.extra["files_refused"] == refused
    assert summary.extra["files_read"] == len(KEY) - refused
    # the small header difference is recorded on the posted item, not queued
    assert [v["code"] for v in rows["nordwind-09-small-diff.pdf"].violations] == ["INV-SMALL-DIFF"]


def test_posting_ledger_evidence_and_audit(bo_store: Store, inputs: dict[str, str]) -> None:
    run_bot(bot, inputs, store=bo_store)
    ledger = read_ledger(inputs["ledger"])
    clean = {name for name, k in KEY.items() if not k["expect"]}
    assert {e.file for e in ledger.entries.values()} == clean
    entry = next(e for e in ledger.entries.values() if e.file == "nordwind-03-partial-2.pdf")
    assert entry.vendor_id == "V100" and str(entry.gross_total) == "99.96"
    assert [(ln.po_number, ln.po_line, str(ln.quantity)) for ln in entry.lines] == [("4500001002", 1, "20")]
    rows = by_file(bo_store)
    queued = rows["lumen-26-price-and-qty.pdf"]
    names = {e["name"]: e for e in queued.evidence}
    assert names["lumen-26-price-and-qty.pdf"]["media_type"] == "application/pdf"
    page = names["lumen-26-price-and-qty-page-1.png"]  # the page itself, next to the PDF
    assert page["media_type"] == "image/png"
    png = evidence_path(bo_store, page["sha256"]).read_bytes()
    assert png.startswith(b"\x89PNG") and hashlib.sha256(png).hexdigest() == page["sha256"]
    posted = rows["nordwind-03-partial-2.pdf"]  # straight through: the PDF, no rendered pages
    assert "image/png" not in {e["media_type"] for e in posted.evidence}
    assert "application/pdf" in {e["media_type"] for e in posted.evidence}
    assert [e["media_type"] for e in rows["bad-02-encrypted.pdf"].evidence] == ["application/pdf"]
    assert [e["media_type"] for e in rows["bad-06-truncated.xml"].evidence] == ["application/xml"]
    match = json.loads(evidence_path(bo_store, names["po-match-4500003004.json"]["sha256"]).read_bytes())
    assert match["po_lines"][0]["unit_price"] == "112" and match["receipts"][0]["quantity"] == "4"
    assert "INPUT" in blocking_codes(rows["bad-02-encrypted.pdf"])
    result = verify(bo_store)
    assert result.ok
    with bo_store.read() as conn:
        actions = [r.action for r in conn.execute(select(audit.c.action))]
    assert actions.count("invoice.posted") == len(clean)
    assert actions.count("item.queued") == len(KEY) - len(clean)


def test_rerun_and_new_run_do_not_post_twice(bo_store: Store, inputs: dict[str, str]) -> None:
    run_bot(bot, inputs, store=bo_store)
    before = Path(inputs["ledger"]).read_bytes()
    again = run_bot(bot, inputs, store=bo_store)
    assert again.skipped == len(KEY) and again.done == 0 and again.queued == 0
    assert Path(inputs["ledger"]).read_bytes() == before
    # a second store (another machine) sharing the ledger: the ledger itself refuses the repeats
    other = Store.open(f"sqlite:///{Path(inputs['ledger']).parent / 'other.db'}")
    run_bot(bot, inputs, store=other)
    ledger = read_ledger(inputs["ledger"])
    assert len(ledger.entries) == sum(1 for k in KEY.values() if not k["expect"])


def test_posted_invoices_count_for_the_next_run(
    bo_store: Store, inputs: dict[str, str], tmp_path: Path
) -> None:
    run_bot(bot, inputs, store=bo_store)
    # next month the same vendor sends a copy of an already posted invoice under a new name
    later = tmp_path / "later"
    later.mkdir()
    shutil.copy(Path(inputs["invoices"]) / "bluefield-22-clean.pdf", later / "resent.pdf")
    run_bot(bot, {**inputs, "invoices": str(later)}, store=bo_store)
    row = by_file(bo_store)["resent.pdf"]
    assert blocking_codes(row) == ["INV-DUP-EXACT", "INV-QTY"]


def test_correction_is_rechecked_by_all_rules(
    bo_store: Store, bo_users: dict[str, str], inputs: dict[str, str]
) -> None:
    run_bot(bot, inputs, store=bo_store)
    q = Queue(bo_store)
    rows = by_file(bo_store)
    # currency typed wrong by the vendor: correct it, the invoice then passes and is posted
    usd = rows["kestrel-37-currency.pdf"].id
    q.claim(usd, "associate")
    q.resolve(
        usd,
        "associate",
        "correct",
        "vendor confirmed EUR",
        root_cause="vendor_error",
        changes={"currency": "EUR"},
        model=bot.model,
    )
    # the run had no USD rate, so the delegated limit cannot be checked: an approver confirms it
    q.resolve(usd, "approver", "approve", "EUR confirmed with the vendor")
    # price corrected on the line only: totals and tax no longer fit the line, so it comes back
    # with the rules that now fail (and without INV-PRICE, which the correction fixed)
    price = rows["nordwind-04-price-over.pdf"].id
    q.claim(price, "associate")
    q.resolve(
        price,
        "associate",
        "correct",
        "credit note agreed",
        changes={"lines.0.line_amount": "560.00"},
        model=bot.model,
    )
    summary = reprocess(bot, store=bo_store)
    assert summary.done == 1 and summary.queued == 1
    after = by_file(bo_store)
    assert after["kestrel-37-currency.pdf"].status == "done"
    assert blocking_codes(after["nordwind-04-price-over.pdf"]) == ["INV-TAX-OVER", "INV-TOTAL"]
    assert any(e.file == "kestrel-37-currency.pdf" for e in read_ledger(inputs["ledger"]).entries.values())


def test_bank_change_needs_an_approver(
    bo_store: Store, bo_users: dict[str, str], inputs: dict[str, str]
) -> None:
    run_bot(bot, inputs, store=bo_store)
    q = Queue(bo_store)
    item = by_file(bo_store)["bluefield-17-bank-change.pdf"].id
    q.claim(item, "associate")
    q.resolve(item, "associate", "approve", "vendor letter on file, called back on known number")
    with pytest.raises(PermissionDenied):
        q.resolve(item, "team_lead", "approve", "looks fine")
    q.resolve(item, "approver", "approve", "verified by phone with the vendor's known contact")
    summary = reprocess(bot, store=bo_store)
    assert summary.done == 1
    assert by_file(bo_store)["bluefield-17-bank-change.pdf"].status == "done"


def test_bad_purchasing_file_stops_the_run_with_a_clear_error(
    bo_store: Store, inputs: dict[str, str]
) -> None:
    bad = Path(inputs["receipts"])
    bad.write_text("receipt_id,po_number,po_line,quantity\nGR-1,4500001001,1,twelve\n")
    with pytest.raises(InputError) as err:
        run_bot(bot, inputs, store=bo_store)
    assert err.value.row == 2 and err.value.column == "quantity"
    with pytest.raises(InputError, match="directory not found"):
        run_bot(
            bot, {**inputs, "receipts": str(FIXTURES / "receipts.csv"), "invoices": "/nope"}, store=bo_store
        )
