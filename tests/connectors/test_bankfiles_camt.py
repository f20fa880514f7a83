"""camt without a booked closing balance is reported, counterparties are never our own side, and a
statement where a payment file is expected (or the other way round) is refused as what it is."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from backoffice.errors import InputError
from connectors.bankfiles import Payment, read_camt053, read_pain001, read_payment_file, read_statement
from fixtures.bankfiles_writers import write_camt053, write_nacha, write_pain001

IBAN = "DE89370400440532013000"


def statement(tmp_path: Path) -> Path:
    return write_camt053(
        tmp_path / "st.xml",
        statement_id="ST-1",
        account=IBAN,
        currency="EUR",
        opening=Decimal("100.00"),
        booking_date=date(2024, 1, 31),
        entries=[(Decimal("-30.00"), "E2E-1", "ANNA"), (Decimal("5.00"), "E2E-2", None)],
    )


def test_camt053_without_clbd_is_reported_not_replaced_by_clav(tmp_path: Path) -> None:
    f = statement(tmp_path)
    f.write_text(f.read_text().replace("<Cd>CLBD</Cd>", "<Cd>CLAV</Cd>"))
    (st,) = read_camt053(f)
    assert st.closing is None and st.available == Decimal("75.00") and st.balanced is None
    (w,) = st.warnings
    assert w.code == "CAMT-NO-CLBD" and "'ST-1'" in w.message and "CLAV" in w.message


def test_missing_counterparty_is_none_not_our_own_side(tmp_path: Path) -> None:
    f = statement(tmp_path)
    # the credit names only the creditor: that is us, not the counterparty
    text = f.read_text().replace(
        '<AmtDtls><TxAmt><Amt Ccy="EUR">5.00</Amt></TxAmt></AmtDtls>',
        '<AmtDtls><TxAmt><Amt Ccy="EUR">5.00</Amt></TxAmt></AmtDtls><RltdPties><Cdtr><Nm>OUR COMPANY</Nm></Cdtr>'
        f"<CdtrAcct><Id><IBAN>{IBAN}</IBAN></Id></CdtrAcct></RltdPties>",
    )
    f.write_text(text)
    (st,) = read_camt053(f)
    debit, credit = (e.transactions[0] for e in st.entries)
    assert debit.partner_name == "ANNA"
    assert credit.partner_name is None and credit.partner_account is None


def test_statement_given_as_payment_file_is_named(tmp_path: Path) -> None:
    f = statement(tmp_path)
    with pytest.raises(InputError, match=r"this is a bank statement \(camt\.053\), not a payment file") as ei:
        read_payment_file(f)
    assert ei.value.code == "NOT-PAYMENT-FILE"
    with pytest.raises(InputError, match=r"bank statement \(camt\.053\)"):
        read_pain001(f)
    mt = tmp_path / "st.940"
    mt.write_text(":20:X\n:60F:C240101EUR1,00\n:62F:C240101EUR1,00\n")
    with pytest.raises(InputError, match=r"this is a bank statement \(MT940\), not a payment file"):
        read_payment_file(mt)


def test_payment_file_given_as_statement_is_named(tmp_path: Path) -> None:
    pay = [Payment("E1", "ANNA", IBAN, Decimal("1.00"), routing="021000021")]
    pain = write_pain001(
        tmp_path / "pay.xml",
        pay,
        debtor_name="ACME",
        debtor_iban=IBAN,
        execution_date=date(2024, 1, 31),
        message_id="M1",
    )
    with pytest.raises(InputError, match=r"this is a payment file \(pain\.001\), not a bank statement") as ei:
        read_statement(pain)
    assert ei.value.code == "NOT-STATEMENT"
    with pytest.raises(InputError, match=r"payment file \(pain\.001\)"):
        read_camt053(pain)
    ach = write_nacha(
        tmp_path / "pay.ach",
        pay,
        origin_routing="011000015",
        origin_name="ACME",
        company_id="1",
        destination_routing="021000021",
        destination_name="BANK",
        effective_date=date(2024, 1, 31),
    )
    with pytest.raises(InputError, match=r"this is a payment file \(NACHA\), not a bank statement"):
        read_statement(ach)
