"""NACHA as operators send it: trimmed and one-line files, returns/NOC, ADV's own layout, IAT refused."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from backoffice.errors import InputError
from connectors.bankfiles import Payment, nacha_entry_hash, read_nacha, read_payment_file
from fixtures.bankfiles_writers import write_nacha

R1, R2 = "021000021", "011000015"


def sample(path: Path) -> Path:
    pays = [
        Payment(f"T{i}", f"EMPLOYEE {i}", f"12345{i}", Decimal(f"{i}00.25"), "USD", routing=R1)
        for i in (1, 2, 3)
    ]
    return write_nacha(
        path,
        pays,
        origin_routing=R2,
        origin_name="ACME",
        company_id="1234567890",
        destination_routing=R1,
        destination_name="BANK",
        effective_date=date(2024, 1, 31),
    )


def rec(*parts: str) -> str:
    s = "".join(parts)
    assert len(s) <= 94, (len(s), s)
    return s.ljust(94)


def file_of(records: list[str]) -> str:
    while len(records) % 10:
        records.append("9" * 94)
    return "\n".join(records) + "\n"


HEADER = rec("101", " 021000021", " 011000015", "2401311200", "A094101", "BANK".ljust(23), "ACME".ljust(23))


def test_trimmed_lines_are_padded_and_detected_as_nacha(tmp_path: Path) -> None:
    f = sample(tmp_path / "ach.txt")
    trimmed = tmp_path / "trimmed.txt"
    trimmed.write_text("\n".join(line.rstrip() for line in f.read_text().splitlines()) + "\n")
    assert len(trimmed.read_text().splitlines()[0]) < 94
    pf = read_payment_file(trimmed)  # a trimmed header is still NACHA, never the CSV reader
    assert pf.format == "nacha" and pf.total == Decimal("600.75") and pf.control_problems() == []
    assert [w.code for w in pf.warnings] == ["NACHA-PADDED"]


def test_one_line_fixed_width_file_is_split(tmp_path: Path) -> None:
    f = sample(tmp_path / "ach.txt")
    one = tmp_path / "one.txt"
    one.write_text(f.read_text().replace("\n", ""))
    pf = read_payment_file(one)
    assert pf.format == "nacha" and pf.count == 3 and pf.control_problems() == []
    assert pf.payments[2].locator == "line 5"  # record 5 of the one line
    assert [w.code for w in pf.warnings] == ["NACHA-ONE-LINE"]


def test_cut_off_entry_is_refused_not_padded(tmp_path: Path) -> None:
    f = sample(tmp_path / "ach.txt")
    lines = f.read_text().splitlines()
    lines[2] = lines[2][:60]
    f.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError, match="cut short") as ei:
        read_nacha(f)
    assert ei.value.row == 3


def test_return_and_noc_entries_with_000000_effective_date(tmp_path: Path) -> None:
    """A return file: code 21 (returned credit) and 26 (returned debit), addenda 99; NOC: 98."""
    records = [
        HEADER,
        rec(
            "5200",
            "ACME".ljust(16),
            " " * 20,
            "1234567890",
            "PPD",
            "RETURNS   ",
            "      ",
            "000000",
            "   1",
            "01100001",
            "0000001",
        ),
        rec(
            "621",
            R1,
            "111111111".ljust(17),
            "0000012345",
            "EMP1".ljust(15),
            "ANNA".ljust(22),
            "  ",
            "1",
            "011000010000001",
        ),
        rec("799", "R01", "021000020000001", "      ", "02100002", "".ljust(44), "011000010000001"),
        rec(
            "626",
            R1,
            "222222222".ljust(17),
            "0000000500",
            "EMP2".ljust(15),
            "BOB".ljust(22),
            "  ",
            "1",
            "011000010000002",
        ),
        rec(
            "798",
            "C01",
            "021000020000002",
            "      ",
            "02100002",
            "333333333".ljust(29),
            "".ljust(15),
            "011000010000002",
        ),
    ]
    h = nacha_entry_hash([R1, R1])
    records.append(
        rec(
            "8200",
            "000004",
            f"{h:010d}",
            f"{500:012d}",
            f"{12345:012d}",
            "1234567890",
            " " * 25,
            "01100001",
            "0000001",
        )
    )
    records.append(rec("9", "000001", "000001", "00000004", f"{h:010d}", f"{500:012d}", f"{12345:012d}"))
    f = tmp_path / "returns.ach"
    f.write_text(file_of(records))
    pf = read_nacha(f)
    assert [p.amount for p in pf.payments] == [Decimal("123.45"), Decimal("-5.00")]
    assert [p.remittance for p in pf.payments] == ["return R01", "NOC C01: 333333333"]
    assert pf.execution_date is None and [w.code for w in pf.warnings] == ["NACHA-NO-EFFECTIVE-DATE"]
    assert pf.control_problems() == []


def test_every_transaction_code_is_known(tmp_path: Path) -> None:
    from connectors.bankfiles.nacha import NACHA_CREDIT_CODES, NACHA_DEBIT_CODES

    assert {
        "21",
        "22",
        "23",
        "24",
        "31",
        "32",
        "33",
        "34",
        "41",
        "42",
        "43",
        "44",
        "51",
        "52",
        "53",
        "54",
    } <= NACHA_CREDIT_CODES
    assert {
        "26",
        "27",
        "28",
        "29",
        "36",
        "37",
        "38",
        "39",
        "46",
        "47",
        "48",
        "49",
        "55",
        "56",
    } <= NACHA_DEBIT_CODES
    f = sample(tmp_path / "ach.txt")
    lines = f.read_text().splitlines()
    lines[2] = "6" + "99" + lines[2][3:]
    f.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError, match="unknown transaction code '99'") as ei:
        read_nacha(f)
    assert ei.value.code == "NACHA-CODE"


def adv_file(tmp_path: Path) -> Path:
    """An ADV batch: entries with a 12-digit amount at 28-39, controls with 20-digit totals."""
    records = [
        HEADER,
        rec(
            "5280",
            "ACME".ljust(16),
            " " * 20,
            "1234567890",
            "ADV",
            "ACCOUNTING",
            "      ",
            "240131",
            "   0",
            "01100001",
            "0000001",
        ),
        rec(
            "681",
            R1,
            "744-5678-99".ljust(15),
            "000000050000",
            R2,
            "11131",
            " ",
            "NAME".ljust(22),
            "  ",
            "0",
            "011000010500001",
        ),
        rec(
            "682",
            R1,
            "744-5678-99".ljust(15),
            "000000250000",
            R2,
            "11139",
            " ",
            "NAME".ljust(22),
            "  ",
            "0",
            "011000010500002",
        ),
    ]
    h = nacha_entry_hash([R1, R1])
    records.append(
        rec(
            "8280",
            "000002",
            f"{h:010d}",
            f"{250000:020d}",
            f"{50000:020d}",
            "ACME".ljust(19),
            "01100001",
            "0000001",
        )
    )
    records.append(rec("9", "000001", "000001", "00000002", f"{h:010d}", f"{250000:020d}", f"{50000:020d}"))
    f = tmp_path / "adv.ach"
    f.write_text(file_of(records))
    return f


def test_adv_is_read_with_its_own_layout(tmp_path: Path) -> None:
    pf = read_nacha(adv_file(tmp_path))
    assert [p.amount for p in pf.payments] == [Decimal("500.00"), Decimal("-2500.00")]
    assert pf.payments[0].account == "744-5678-99" and pf.payments[0].name == "NAME"
    (batch,) = pf.batches
    assert batch["sec"] == "ADV" and batch["declared_credit"] == Decimal("500.00")  # not 25,000,000.00
    assert batch["declared_debit"] == Decimal("2500.00") and pf.control_problems() == []


def test_adv_codes_outside_adv_and_ppd_codes_inside_are_refused(tmp_path: Path) -> None:
    f = adv_file(tmp_path)
    f.write_text(f.read_text().replace("681" + R1, "622" + R1))
    with pytest.raises(InputError, match="in a ADV batch"):
        read_nacha(f)


def test_iat_is_refused_by_name(tmp_path: Path) -> None:
    records = [
        HEADER,
        rec(
            "5220",
            " " * 16,
            "FF3",
            " " * 15,
            "US",
            "1234567890",
            "IAT",
            "TRADEPAYMT",
            "CADUSD",
            "240131",
            "   1",
            "01100001",
            "0000001",
        ),
        rec(
            "622",
            R1,
            "0007".ljust(13),
            "    ",
            "0000100000",
            "123456789".ljust(35),
            "  ",
            "1",
            "011000010000001",
        ),
        rec("710", "ANN", "000000000000100000", "928383-23938".ljust(22), "BEK ENTERPRISES".ljust(35)),
    ]
    f = tmp_path / "iat.ach"
    f.write_text(file_of([*records, rec("8220"), rec("9")]))
    with pytest.raises(InputError, match="IAT") as ei:
        read_payment_file(f)
    assert ei.value.code == "NACHA-IAT" and ei.value.row == 2


def test_nacha_without_its_file_header_is_still_nacha(tmp_path: Path) -> None:
    f = sample(tmp_path / "ach.txt")
    f.write_text("\n".join(f.read_text().splitlines()[1:]) + "\n")
    with pytest.raises(InputError, match="not a NACHA file"):
        read_payment_file(f)  # NACHA's own message, never the CSV reader's "missing required column"
