"""``backoffice extract statement|payments``: one JSON object per file, errors and warnings, exit 1 on a
refused file; one ``extract`` group holds the invoice bot's and the bank-file readers' commands."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from backoffice.cli import main
from connectors.bankfiles import Payment
from connectors.bankfiles.cli import app
from fixtures.bankfiles_writers import write_camt053, write_nacha, write_pain001

IBAN = "DE89370400440532013000"
MT940 = (
    ":20:STMT1\n:25:NL91ABNA0417164300\n:28C:1/1\n:60F:C240102EUR100,00\n"
    ":61:2401020102D30,00NTRFNONREF//B1\n:86:/EREF/E2E-1/NAME/ACME BV/REMI/USTD//salary/\n"
    ":61:1602300301C5,50NTRFREF2\n:62F:C240102EUR75,50\n"
)


def lines(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines() if line.strip()]


def test_statement_json_mt940_camt_and_a_refused_file(tmp_path: Path) -> None:
    mt = tmp_path / "a.940"
    mt.write_text(MT940)
    camt = write_camt053(
        tmp_path / "b.xml",
        statement_id="ST-1",
        account=IBAN,
        currency="EUR",
        opening=Decimal("10.00"),
        booking_date=date(2024, 1, 31),
        entries=[(Decimal("-3.00"), "E2E-9", "BOB")],
        closing=Decimal("8.00"),
    )
    bad = tmp_path / "c.940"
    bad.write_text(MT940.split(":62F:")[0])
    result = CliRunner().invoke(app, ["statement", str(mt), str(camt), str(bad), "--json"])
    assert result.exit_code == 1, result.output
    a, b, c = lines(result.output)
    assert (a["file"], a["format"]) == (str(mt), "mt940")
    (st,) = a["statements"]
    assert (st["id"], st["account"], st["currency"], st["opening"], st["closing"]) == (
        "STMT1/1/1",
        "NL91ABNA0417164300",
        "EUR",
        "100.00",
        "75.50",
    )
    first, second = st["entries"]
    assert first == {
        "amount": "-30.00",
        "currency": "EUR",
        "booking_date": "2024-01-02",
        "value_date": "2024-01-02",
        "end_to_end_id": "E2E-1",
        "counterparty": "ACME BV",
        "counterparty_account": None,
        "reference": "E2E-1",
        "remittance": "salary",
        "reversal": False,
        "type": "NTRF",
        "status": "BOOK",
        "line": 5,
    }
    assert second["value_date"] == "2016-02-29" and second["amount"] == "5.50"
    assert [w["code"] for w in a["warnings"]] == ["MT940-DATE-ADJUSTED"]
    assert a["warnings"][0] == {
        "code": "MT940-DATE-ADJUSTED",
        "message": "impossible date '160230' read as 2016-02-29",
        "file": str(mt),
        "line": 7,
    }
    assert a["control"]["unbalanced"] == [] and a["errors"] == [] and st["balanced"] is True
    assert b["format"] == "camt.053" and b["statements"][0]["entries"][0]["counterparty"] == "BOB"
    assert b["statements"][0]["balanced"] is False and b["control"]["unbalanced"] == ["ST-1"]
    assert [w["code"] for w in b["warnings"]] == ["BALANCE-MISMATCH"] and b["errors"] == []
    assert c["format"] == "mt940" and c["statements"] == [] and c["control"] is None
    (err,) = c["errors"]
    assert err["code"] == "MT940-NO-CLOSING" and err["file"] == str(bad) and err["line"] == 1
    assert set(err) == {"code", "message", "file", "line"}


def test_payments_json_pain_nacha_and_a_statement(tmp_path: Path) -> None:
    pays = [Payment("E1", "ANNA", IBAN, Decimal("12.50"), routing="021000021", employee_id="7")]
    pain = write_pain001(
        tmp_path / "p.xml",
        pays,
        debtor_name="ACME",
        debtor_iban=IBAN,
        execution_date=date(2024, 1, 31),
        message_id="M",
    )
    ach = write_nacha(
        tmp_path / "p.ach",
        pays,
        origin_routing="011000015",
        origin_name="ACME",
        company_id="1",
        destination_routing="021000021",
        destination_name="BANK",
        effective_date=date(2024, 1, 31),
    )
    trimmed = tmp_path / "trimmed.ach"
    trimmed.write_text("\n".join(x.rstrip() for x in ach.read_text().splitlines()) + "\n")
    mt = tmp_path / "s.940"
    mt.write_text(MT940)
    result = CliRunner().invoke(app, ["payments", str(pain), str(trimmed), str(mt), "--json", "--mask"])
    assert result.exit_code == 1, result.output
    p, n, s = lines(result.output)
    assert p["format"] == "pain.001" and p["control"] == {
        "count": 1,
        "total": "12.50",
        "declared_count": 1,
        "declared_total": "12.50",
        "problems": [],
    }
    (pay,) = p["payments"]
    assert (pay["amount"], pay["currency"], pay["end_to_end_id"], pay["name"]) == (
        "12.50",
        "EUR",
        "E1",
        "ANNA",
    )
    assert pay["account"].endswith("3000") and IBAN not in pay["account"]  # --mask
    assert n["format"] == "nacha" and n["payments"][0]["amount"] == "12.50" and n["payments"][0]["line"] == 3
    assert [w["code"] for w in n["warnings"]] == ["NACHA-PADDED"]
    assert s["errors"][0]["code"] == "NOT-PAYMENT-FILE" and s["format"] == "mt940"
    assert "this is a bank statement (MT940), not a payment file" in s["errors"][0]["message"]


def test_table_at_80_columns(tmp_path: Path) -> None:
    mt = tmp_path / "a.940"
    mt.write_text(MT940.replace(":61:1602300301C5,50NTRFREF2\n", ":61:2401020102C5,50NTRFREF2\n"))
    result = CliRunner().invoke(app, ["statement", str(mt)], terminal_width=80)
    assert result.exit_code == 0, result.output
    assert "STMT1/1/1" in result.output and "75.50" in result.output
    assert max(len(line) for line in result.output.splitlines()) <= 80


def test_table_keeps_file_names_and_ids_whole_and_reads_no_markup_in_them(tmp_path: Path) -> None:
    """A long file name next to a long statement id at 80 columns: the name stays whole (it is
    what the user looks for), and brackets in names and messages are printed, not read as markup."""
    good = tmp_path / "statement_2024-01_[red]chk.940"
    good.write_text(MT940.replace(":61:1602300301C5,50NTRFREF2\n", ":61:2401020102C5,50NTRFREF2\n"))
    bad = tmp_path / "[bold]junk[-].sta"
    bad.write_text("[/] not a statement")
    result = CliRunner().invoke(app, ["statement", str(good), str(bad)], terminal_width=80)
    assert result.exit_code == 1, result.output
    rows = result.output.splitlines()
    assert max(len(line) for line in rows) <= 80
    assert any(line.startswith(good.name) for line in rows), result.output
    assert any(line.startswith(bad.name) and "refused" in line for line in rows), result.output
    assert f"refused {bad.name}:1 [NOT-STATEMENT]" in result.output


def test_extract_group_holds_invoice_statement_and_payments(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["extract", "--help"]) == 0
    out = capsys.readouterr().out
    assert "invoice" in out and "statement" in out and "payments" in out
    mt = tmp_path / "a.940"
    mt.write_text(MT940)
    assert main(["extract", "statement", str(mt), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["format"] == "mt940"
