"""``backoffice extract invoice PATH... [--json]``: read invoice PDFs (or e-invoice XML files).

The invoice-matching bot's own command group (``InvoiceMatchingBot.commands()``), mounted by
the ``backoffice`` CLI when the command line names ``extract``.

With ``--json`` it prints one JSON object per file, one per line, with exactly the keys
``file, invoice_number, issue_date, due_date, seller_name, seller_trading_name, seller_vat_id,
buyer_name, buyer_reference, po_number, currency, net_total, tax_total, gross_total, amount_due,
iban, lines, source, errors, confidence`` (``seller_name`` is the legal name, BT-27;
``seller_trading_name`` BT-28; ``buyer_reference`` BT-10; each line has an ``order_reference``;
``confidence`` maps each header field found to 0..1, 1.0 for every field of an e-invoice XML);
amounts are decimal strings (a credit note's negative), dates ``YYYY-MM-DD``, ``null`` where absent. A file that cannot be
read still gets its object (fields null, ``source`` null, the InputError in ``errors``) and
the exit code is 1. A readable file on which no invoice field was found (every header field null,
no lines) is "not an invoice": an ``errors`` record with code ``NOT-INVOICE``, and the exit code is
1 as well. Directories are expanded to the ``*.pdf`` / ``*.xml`` files they hold.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape

from backoffice.cli.tables import Col, table
from backoffice.errors import InputError
from connectors.einvoice import HEADER_FIELDS, parse_xml
from connectors.invoice_templates import TEMPLATE_DIR, load_templates
from connectors.pdf import extract_invoice

__all__ = ["app", "extract_one"]

app = typer.Typer(help="Extract structured data from documents.", no_args_is_help=True)


@app.callback()
def _group() -> None:
    """Extract structured data from documents (``backoffice extract invoice ...``)."""


# Exactly the keys `extract invoice --json` promises, in this order.
_KEYS = ("file", *HEADER_FIELDS, "lines", "source", "errors", "confidence")
NOT_INVOICE = "NOT-INVOICE"


def _not_an_invoice(record: dict[str, Any]) -> bool:
    return (
        record["source"] is not None and not record["lines"] and all(record[k] is None for k in HEADER_FIELDS)
    )


def _expand(paths: list[Path]) -> list[Path]:
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            out.extend(sorted(q for q in p.iterdir() if q.suffix.lower() in (".pdf", ".xml") and q.is_file()))
        else:
            out.append(p)
    return out


def extract_one(path: Path, template_dir: Path | None = None) -> dict[str, Any]:
    """The JSON record for one file; an unreadable file gives a record with the error."""
    try:
        if path.suffix.lower() == ".xml":
            if not path.is_file():
                raise InputError("file not found", file=str(path))
            inv = parse_xml(path.read_bytes(), file=str(path))
        else:
            dirs = [TEMPLATE_DIR] + ([template_dir] if template_dir else [])
            inv = extract_invoice(path, templates=load_templates(dirs))
        record = inv.to_json()
        record["file"] = str(path)
        if _not_an_invoice(record):
            record["errors"] = [
                *record["errors"],
                {
                    "code": NOT_INVOICE,
                    "message": "not an invoice: no invoice field (number, date, seller, totals, lines) found",
                    "field": None,
                    "expected": None,
                    "actual": None,
                    "severity": "error",
                },
            ]
    except InputError as exc:
        record = {k: None for k in _KEYS}
        record.update(file=str(path), lines=[], errors=[exc.to_dict()])
    return {k: record[k] for k in _KEYS}


@app.command("invoice")
def invoice(
    paths: list[Path] = typer.Argument(..., help="Invoice PDFs, e-invoice XML files or directories of them."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per file and line (JSON Lines)."),
    templates: Path | None = typer.Option(
        None,
        "--templates",
        help="Extra directory of vendor templates (*.toml) tried before the built-in ones.",
    ),
) -> None:
    """Read invoice header fields and line items; XML inside Factur-X/ZUGFeRD PDFs wins."""
    failed = 0
    records = []
    for path in _expand(paths):
        rec = extract_one(path, templates)
        if rec["source"] is None or any(e.get("code") == NOT_INVOICE for e in rec["errors"]):
            failed += 1
        records.append(rec)
        if as_json:
            sys.stdout.write(json.dumps(rec, ensure_ascii=False) + "\n")
    if not as_json:
        console = Console()
        out = table(
            "file",
            "number",
            "date",
            Col("seller", text=True),
            Col("gross", justify="right"),
            Col("lines", justify="right"),
            "source",
            Col("errors", justify="right", optional=True),  # the messages follow the table anyway
            shrink=[("file", 12), ("number", 12)],
        )
        notes = []
        for rec in records:  # every cell is the document's text: escaped, never read as markup
            name = Path(rec["file"]).name
            out.add_row(
                escape(name),
                escape(rec["invoice_number"] or ""),
                rec["issue_date"] or "",
                escape(rec["seller_name"] or ""),
                escape(" ".join(v for v in (rec["gross_total"], rec["currency"]) if v)),
                str(len(rec["lines"])),
                rec["source"] or "-",
                str(len(rec["errors"])) if rec["errors"] else "",
            )
            for e in rec["errors"]:
                msg = str(e.get("message", e))
                notes.append(msg if name in msg else f"{name}: {msg}")
        console.print(out)
        for note in notes:  # the messages under the table, whole (they name the file, page or field)
            console.print(f"[red]error[/] {escape(note)}", soft_wrap=True)  # a path is never broken
    if failed:
        raise typer.Exit(1)
