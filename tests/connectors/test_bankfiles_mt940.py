"""MT940 as banks send it: headers, control bytes, :61: variants, lenient dates, refusals by name."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from backoffice.errors import InputError
from connectors.bankfiles import read_mt940, read_statement

BODY = (
    ":20:STMT1\n:25:NL91ABNA0417164300\n:28C:1/1\n:60F:C240102EUR100,00\n"
    ":61:2401020102D30,00NTRFNONREF//B1\n:86:/EREF/E2E-1/NAME/ACME BV/REMI/USTD//salary/\n"
    ":61:2401020102C5,50NTRFREF2\n:86:refund\n:62F:C240102EUR75,50\n"
)


def write(tmp_path: Path, text: str | bytes, name: str = "s.940") -> Path:
    f = tmp_path / name
    if isinstance(text, bytes):
        f.write_bytes(text)
    else:
        f.write_text(text, encoding="utf-8")
    return f


def amounts(path: Path) -> list[Decimal]:
    return [e.amount for st in read_mt940(path) for e in st.entries]


@pytest.mark.parametrize(
    "header",
    ["ABNANL2A\n940\nABNANL2A\n", "940 00\n", "0000 01INGBNL2AXXXX00001\n", ":940:\n", "BUNQNL2A\n"],
)
def test_bank_header_lines_before_20(tmp_path: Path, header: str) -> None:
    (st,) = read_mt940(write(tmp_path, header + BODY))
    assert st.balanced and [e.amount for e in st.entries] == [Decimal("-30.00"), Decimal("5.50")]
    assert st.entries[0].transactions[0].end_to_end_id == "E2E-1"


def test_control_bytes_and_ctrl_z(tmp_path: Path) -> None:
    f = write(tmp_path, b"\x01\r\n" + BODY.replace("\n", "\r\n").encode() + b"-\x03\r\n\x1a")
    (st,) = read_mt940(f)
    assert st.balanced and len(st.entries) == 2


def test_multi_message_with_glued_envelope_and_abn_headers(tmp_path: Path) -> None:
    second = (
        BODY.replace("STMT1", "STMT2")
        .replace("EUR100,00", "EUR75,50")
        .replace(":62F:C240102EUR75,50", ":62F:C240103EUR51,00")
    )
    glued = (
        "{1:F01ABNANL2AXXXX0000000000}{2:O940ABNANL2AXXXXN}{3:}{4:\n"
        + BODY.rstrip("\n")
        + "-}{5:}{1:F01ABNANL2AXXXX0000000000}{2:O940ABNANL2AXXXXN}{4:\n"
        + second
        + "-}"
    )
    sts = read_mt940(write(tmp_path, glued))
    assert [s.id for s in sts] == ["STMT1/1/1", "STMT2/1/1"] and all(s.balanced for s in sts)
    # a bank header on the line after :62F: (no '-') is the next message's header, not a continuation
    abn = BODY + "ABNANL2A\n940\n" + second
    assert [s.closing for s in read_mt940(write(tmp_path, abn))] == [Decimal("75.50"), Decimal("51.00")]


def test_61_variants_type_with_spaces_amount_without_comma_funds_code(tmp_path: Path) -> None:
    text = (
        ":20:X\n:25:123456789\n:60F:C140729EUR3058,98\n"
        ":61:1407290729D7260,NTRFNONREF//B4G29PGCVO7Q06US\n"
        ":61:1407290729C500NTRF29-07-2014 10:05//B4G29PGDCK1QFV3E\n"
        ":61:1710111011DF2402,00S   X\n"
        ":61:1610301031D0,42MCI0NONREF//05\n"
        ":61:140729    C1,00NTRFNONREF\n"
        ":62F:C140730EUR-6102,44\n"
    )
    with pytest.raises(InputError, match="malformed balance"):
        read_mt940(write(tmp_path, text))
    text = text.replace("C140730EUR-6102,44", "D140730EUR6102,44")
    (st,) = read_mt940(write(tmp_path, text))
    assert [e.amount for e in st.entries] == [
        Decimal("-7260"),
        Decimal("500"),
        Decimal("-2402.00"),
        Decimal("-0.42"),
        Decimal("1.00"),
    ]
    assert st.balanced
    assert [e.tx_type for e in st.entries] == ["NTRF", "NTRF", "S", "MCI0", "NTRF"]
    assert st.entries[1].transactions[0].end_to_end_id == "29-07-2014 10:05"
    assert st.entries[4].booking_date == st.entries[4].value_date == date(2014, 7, 29)
    assert {w.code for w in st.warnings} == {"MT940-AMOUNT-NO-COMMA"}
    assert {w.line for w in st.warnings} == {5}  # only the Knab 'C500' has no comma at all


def test_reversal_signs_kept(tmp_path: Path) -> None:
    text = (
        ":20:R\n:60F:C240101EUR100,00\n:61:2401010101RC10,00NTRFNONREF\n"
        ":61:2401010101RD4,00NTRFNONREF\n:62F:C240101EUR94,00\n"
    )
    (st,) = read_mt940(write(tmp_path, text))
    assert [e.amount for e in st.entries] == [Decimal("-10.00"), Decimal("4.00")]
    assert all(e.reversal for e in st.entries) and st.balanced


def test_february_30_read_with_a_warning(tmp_path: Path) -> None:
    text = ":20:F\n:60F:C160229EUR10,00\n:61:1602300301DR6,00N024NONREF\n:62F:C160301EUR4,00\n"
    (st,) = read_mt940(write(tmp_path, text))
    (e,) = st.entries
    assert (
        e.value_date == date(2016, 2, 29) and e.booking_date == date(2016, 3, 1) and e.amount == Decimal("-6")
    )
    (w,) = st.warnings
    assert w.code == "MT940-DATE-ADJUSTED" and w.line == 3 and "160230" in w.message
    with pytest.raises(InputError, match="not a date"):
        read_mt940(write(tmp_path, text.replace("160230", "161301")))


def test_entry_date_in_the_next_year(tmp_path: Path) -> None:
    text = ":20:Y\n:60F:C231231EUR0,00\n:61:2312310102C1,00NTRFNONREF\n:62F:C240102EUR1,00\n"
    (st,) = read_mt940(write(tmp_path, text))
    assert st.entries[0].booking_date == date(2024, 1, 2)


def test_balance_without_currency_uses_the_statements(tmp_path: Path) -> None:
    text = ":20:N\n:60F:C020315DEM0,00\n:61:020322CM20000,00S051\n:62M:C020315020000,00\n"
    (st,) = read_mt940(write(tmp_path, text))
    assert st.closing == Decimal("20000.00") and st.currency == "DEM" and st.balanced
    assert [w.code for w in st.warnings] == ["MT940-NO-CURRENCY"]


def test_statement_without_closing_balance_is_refused_by_name(tmp_path: Path) -> None:
    truncated = BODY.split(":62F:")[0]
    with pytest.raises(InputError, match=r"statement 'STMT1/1/1' \(line 1\) has no closing balance") as ei:
        read_mt940(write(tmp_path, truncated))
    assert ei.value.code == "MT940-NO-CLOSING"
    # the truncated one is the second of two: still refused, naming the second
    with pytest.raises(InputError, match="STMT2") as ei:
        read_mt940(write(tmp_path, BODY + "-\n" + truncated.replace("STMT1", "STMT2")))
    assert ei.value.row == 11
    with pytest.raises(InputError, match="no opening balance") as ei:
        read_mt940(write(tmp_path, BODY.replace(":60F:C240102EUR100,00\n", "")))
    assert ei.value.code == "MT940-NO-OPENING"


def test_fragment_and_non_mt940_refused_by_name(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="fragment") as ei:
        read_mt940(write(tmp_path, ":61:2401010101C1,00NTRFNONREF\n:86:x\n"))
    assert ei.value.code == "MT940-NO-STATEMENT"
    with pytest.raises(InputError, match="not an MT940 file"):
        read_mt940(write(tmp_path, "name,amount\nA,1\n"))


def test_mt942_interim_report_has_no_balances(tmp_path: Path) -> None:
    text = (
        "{1:F01BANKDEFFXXXX0000000000}{2:O942BANKDEFFXXXXN}{4:\n:20:I1\n:25:DE89370400440532013000\n"
        ":28C:1/1\n:34F:EURD0,\n:13D:1610311200+0100\n:61:1610301031D0,42NMSCNONREF\n:86:fee\n"
        ":90D:1EUR0,42\n:90C:0EUR0,\n-}"
    )
    (st,) = read_statement(write(tmp_path, text))
    assert st.kind == "mt942" and st.currency == "EUR" and st.balanced is None
    assert st.entries[0].amount == Decimal("-0.42")


def test_german_structured_86_counterparty_eref_and_purpose(tmp_path: Path) -> None:
    text = (
        ":20:STARTUMS\n:25:12345678/1020304050\n:28C:0\n:60F:C170914EUR100,00\n"
        ":61:1709140914D23,15NMSCNONREF\n"
        ":86:105?00SEPA-BASISLASTSCHRIFT?10931?20EREF+ 1234567890123 PAYPAL?21MREF+ 12AB?22SVWZ+ SPOTIFY, \n"
        "Ihr Einkauf?23bei SPOTIFY?30DEUTDEFF?31DE89370400440532013000?32PayPal (Europe) S.a.r.l. et?33Cie., S.C.A.\n"
        ":62F:C170914EUR76,85\n"
    )
    (st,) = read_mt940(write(tmp_path, text))
    tx = st.entries[0].transactions[0]
    assert tx.partner_name == "PayPal (Europe) S.a.r.l. etCie., S.C.A."
    assert tx.partner_account == "DE89370400440532013000"
    assert tx.end_to_end_id == "1234567890123 PAYPAL"
    assert tx.remittance == "SPOTIFY,Ihr Einkaufbei SPOTIFY"  # wrapped lines join as sent (65 columns)
