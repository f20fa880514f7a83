"""``extract invoice`` on a document that is no invoice: "not an invoice" in ``errors``, exit 1."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from bots.invoice_matching.cli import NOT_INVOICE, app
from tests.hostile.pdfs import plain_invoice

PDFS = Path(__file__).resolve().parents[2] / "fixtures" / "invoices" / "pdf"
LETTER = """Dear Ms Smith,
thank you for your visit last week.
We look forward to seeing you again in spring.
Kind regards"""


def test_a_letter_is_not_an_invoice(tmp_path: Path) -> None:
    letter = plain_invoice(tmp_path / "letter.pdf", LETTER)
    result = CliRunner().invoke(app, ["invoice", str(letter), "--json"])
    assert result.exit_code == 1, result.output
    [record] = [json.loads(line) for line in result.stdout.splitlines()]
    assert record["invoice_number"] is None and record["gross_total"] is None
    [error] = record["errors"]
    assert error["code"] == NOT_INVOICE and "not an invoice" in error["message"]


def test_a_real_invoice_next_to_it_still_exits_1_only_for_the_letter(tmp_path: Path) -> None:
    letter = plain_invoice(tmp_path / "letter.pdf", LETTER)
    runner = CliRunner()
    both = runner.invoke(app, ["invoice", str(PDFS / "lumen-23-clean.pdf"), str(letter), "--json"])
    good, bad = [json.loads(line) for line in both.stdout.splitlines()]
    assert both.exit_code == 1
    assert good["errors"] == [] and good["invoice_number"] is not None
    assert [e["code"] for e in bad["errors"]] == [NOT_INVOICE]
    alone = runner.invoke(app, ["invoice", str(PDFS / "lumen-23-clean.pdf"), "--json"])
    assert alone.exit_code == 0
