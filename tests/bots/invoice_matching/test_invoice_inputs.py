"""Every file of the invoice directory is accounted for (issue 12): bare e-invoice XML is read,
any other file becomes an INPUT item naming it and why, and the summary counts the files seen,
read and refused; a split run counts the same. Real runs on real files in ``tmp_path``."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from backoffice.errors import InputError
from backoffice.runner import run_bot
from backoffice.schema import items
from backoffice.store import Store
from bots.invoice_matching.bot import bot
from bots.invoice_matching.invoices import invoice_files
from bots.invoice_matching.split import deal, split_summary
from connectors.purchasing import read_ledger

REPO = Path(__file__).resolve().parents[3]
FIXTURES = REPO / "fixtures" / "invoices"


def masters(tmp_path: Path, invoices: Path) -> dict[str, str]:
    return {
        "invoices": str(invoices),
        "pos": str(FIXTURES / "purchase_orders.xlsx"),
        "receipts": str(FIXTURES / "receipts.csv"),
        "vendors": str(FIXTURES / "vendors.xlsx"),
        "ledger": str(tmp_path / "out" / "ledger.xlsx"),
    }


def rows_by_file(store: Store) -> dict[str, Any]:
    with store.read() as conn:
        return {
            Path(r.source["file"]).name: r for r in conn.execute(select(items).where(items.c.bot == bot.name))
        }


def codes(row: Any) -> list[str]:
    return sorted({v["code"] for v in row.violations if v.get("severity") != "info"})


def test_a_directory_of_xrechnung_xml_is_read_and_every_other_file_refused_by_name(
    bo_store: Store, tmp_path: Path
) -> None:
    d = tmp_path / "inbox"
    d.mkdir()
    for name in ("kestrel-42-xrechnung-two-pos.xml", "kestrel-43-credit-note.xml"):
        shutil.copy(FIXTURES / "pdf" / name, d / name)
    (d / "notes.txt").write_text("call Kestrel about the switches")
    (d / "empty.xml").write_bytes(b"")
    (d / "order.xml").write_bytes(
        b"<?xml version='1.0'?><Order xmlns='urn:oasis:names:specification:ubl:schema:xsd:Order-2'/>"
    )
    shutil.copy(FIXTURES / "pdf" / "nordwind-01-clean.pdf", d / "scan0001")  # a PDF without extension
    (d / "sub").mkdir()  # a subdirectory is not an input file
    summary = run_bot(bot, masters(tmp_path, d), store=bo_store)
    assert (summary.total, summary.done, summary.queued) == (6, 2, 4)
    assert (summary.extra["files_seen"], summary.extra["files_read"], summary.extra["files_refused"]) == (
        6,
        2,
        4,
    )
    rows = rows_by_file(bo_store)
    assert {n: r.status for n, r in rows.items()} == {
        "kestrel-42-xrechnung-two-pos.xml": "done",
        "kestrel-43-credit-note.xml": "done",
        "notes.txt": "open",
        "empty.xml": "open",
        "order.xml": "open",
        "scan0001": "open",
    }
    why = {n: rows[n].violations[0]["message"] for n in ("notes.txt", "empty.xml", "order.xml", "scan0001")}
    assert all(codes(rows[n]) == ["INPUT"] and n in why[n] for n in why)  # each names its file
    assert "reads PDF (.pdf) and e-invoice XML (.xml) files, this one ends in '.txt'" in why["notes.txt"]
    assert "empty file" in why["empty.xml"]
    assert (
        "<Order> in namespace urn:oasis:names:specification:ubl:schema:xsd:Order-2 is not an invoice"
        in why["order.xml"]
    )
    assert "has no extension; it looks like PDF: rename it to .pdf" in why["scan0001"]
    # the two bare XML invoices: read as XML, posted; the UBL one billed two POs line by line
    two = rows["kestrel-42-xrechnung-two-pos.xml"]
    assert two.source["locator"] == "ubl XML" and two.payload["seller_trading_name"] == "Kestrel"
    assert two.payload["buyer_reference"] == "04011000-12345-03" and two.payload["po_number"] is None
    ledger = read_ledger(tmp_path / "out" / "ledger.xlsx")
    by_file = {e.file: e for e in ledger.entries.values()}
    assert [(ln.po_number, ln.po_line, ln.quantity) for ln in by_file[two.payload["file"]].lines] == [
        ("4500004009", 1, 20),
        ("4500004010", 1, 30),
    ]
    credit = by_file["kestrel-43-credit-note.xml"]
    assert str(credit.gross_total) == "-73.78" and credit.lines[0].po_number == "4500004009"
    assert credit.lines[0].quantity == -5


def test_split_parts_count_the_files_as_one_run_does(bo_store: Store, tmp_path: Path) -> None:
    d = tmp_path / "inbox"
    d.mkdir()
    for name in (
        "kestrel-42-xrechnung-two-pos.xml",
        "kestrel-43-credit-note.xml",
        "bad-05-remittance.txt",
        "bad-06-truncated.xml",
        "kestrel-31-clean.pdf",
    ):
        shutil.copy(FIXTURES / "pdf" / name, d / name)
    whole = run_bot(bot, masters(tmp_path, d), store=bo_store)
    names = [p.name for p in invoice_files(d)]
    assert names == sorted(p.name for p in d.iterdir())  # what the split flow deals: every file
    parts_store = Store.open(f"sqlite:///{tmp_path / 'parts.db'}")
    chunks = deal(names, 2)
    for k, chunk in enumerate(chunks, start=1):
        run_bot(
            bot,
            {
                **masters(tmp_path, d),
                "files": chunk,
                "split": f"t:{k}/2",
                "ledger": str(tmp_path / "parts.xlsx"),
            },
            store=parts_store,
        )
    added = split_summary("t:", parts_store)
    got = {k: added[k] for k in ("total", "done", "queued", "files_seen", "files_read", "files_refused")}
    assert got == {
        "total": whole.total,
        "done": whole.done,
        "queued": whole.queued,
        "files_seen": 5,
        "files_read": 3,
        "files_refused": 2,
    }
    assert (whole.extra["files_seen"], whole.extra["files_read"], whole.extra["files_refused"]) == (5, 3, 2)


def test_real_en16931_examples_through_a_real_bot_run(
    bo_store: Store, realdata: Path, tmp_path: Path
) -> None:
    """The CEF EN 16931 examples (bare UBL and CII XML, vendors not in our master) and the
    repository's licence file, in one directory: every XML is read, the licence is refused."""
    base = realdata / "en16931-cef"
    if not base.is_dir():
        pytest.skip(f"{base} not found (the CEF EN 16931 examples)")
    d = tmp_path / "cef"
    d.mkdir()
    xml = [p for p in sorted(base.rglob("*")) if p.is_file() and p.suffix.lower() == ".xml"]
    for p in xml:
        shutil.copy(p, d / p.name)
    shutil.copy(base / "LICENSE.txt", d / "LICENSE.txt")
    summary = run_bot(bot, masters(tmp_path, d), store=bo_store)
    assert summary.total == len(xml) + 1 and summary.system == 0
    assert (summary.extra["files_seen"], summary.extra["files_read"], summary.extra["files_refused"]) == (
        len(xml) + 1,
        len(xml),
        1,
    )
    rows = rows_by_file(bo_store)
    assert codes(rows["LICENSE.txt"]) == ["INPUT"]
    read = {n: r for n, r in rows.items() if n != "LICENSE.txt"}
    assert all(r.payload["source"] == "xml" for r in read.values())
    assert {r.payload["syntax"] for r in read.values()} == {"ubl", "cii"}
    # none of these sellers is in our vendor master: each is queued as such, never skipped
    assert all("INV-VENDOR-UNKNOWN" in codes(r) for r in read.values())
    credit = read["ubl-tc434-creditnote1.xml"].payload
    assert credit["document_type"] == "381" and credit["gross_total"].startswith("-")


def test_a_file_that_cannot_be_opened_is_refused_not_a_crash(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from bots.invoice_matching import invoices as invoices_module

    locked = tmp_path / "locked.xml"
    locked.write_bytes(b"<x/>")

    def denied(path: Path) -> str:
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(invoices_module, "file_sha256", denied)
    loaded = invoices_module.load_invoice(locked)
    assert loaded.refused and loaded.sha256 == ""
    assert isinstance(loaded.result, Exception) and "cannot open the file: Permission denied" in str(
        loaded.result
    )
    assert invoices_module.file_counts([loaded]) == {"files_seen": 1, "files_read": 0, "files_refused": 1}


def test_the_batch_reads_each_file_as_one_by_one_does(tmp_path: Path) -> None:
    """``load_invoices`` (the PDFs in one batch to the bounded worker) gives, file by file, what
    ``load_invoice`` gives: the same extraction, and each unreadable file its own INPUT error
    naming it, wherever it sits among the others."""
    from bots.invoice_matching.invoices import load_invoice, load_invoices
    from connectors.pdf_sandbox import session

    d = tmp_path / "inbox"
    d.mkdir()
    for name in (
        "nordwind-01-clean.pdf",
        "bad-01-corrupt.pdf",
        "kestrel-31-clean.pdf",
        "bad-04-scanned.pdf",
        "kestrel-42-xrechnung-two-pos.xml",
        "lumen-23-clean.pdf",
    ):
        shutil.copy(FIXTURES / "pdf" / name, d / name)
    (d / "notes.txt").write_text("not an invoice")
    (d / "truncated.pdf").write_bytes((FIXTURES / "pdf" / "nordwind-01-clean.pdf").read_bytes()[:900])
    paths = invoice_files(d)
    with session():
        batch = load_invoices(paths)
        single = [load_invoice(p) for p in paths]
    assert [ld.path for ld in batch] == paths
    for one, many in zip(single, batch, strict=True):
        assert (many.key, many.sha256, many.kind, many.refused) == (
            one.key,
            one.sha256,
            one.kind,
            one.refused,
        )
        if one.refused:
            assert isinstance(many.result, InputError) and isinstance(one.result, InputError)
            assert many.result.file == str(one.path) and str(many.result) == str(one.result)
        else:
            assert repr(many.result) == repr(one.result)
    refused = {ld.path.name for ld in batch if ld.refused}
    assert {"bad-01-corrupt.pdf", "notes.txt", "truncated.pdf"} <= refused
    assert "nordwind-01-clean.pdf" not in refused and "kestrel-31-clean.pdf" not in refused
    assert load_invoices([]) == []
