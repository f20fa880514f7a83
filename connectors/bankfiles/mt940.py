"""MT940 statements (SWIFT envelope optional; ING, Rabobank, SNS and similar layouts)."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from backoffice.errors import InputError
from connectors.bankfiles.accounts import compact_account, iban_length
from connectors.bankfiles.statements import CamtEntry, CamtTransaction, Statement

__all__ = ["read_mt940"]

_MT940_TAG = re.compile(r"^:(\d{2}[A-Z]?):(.*)$")
_MT940_BAL = re.compile(r"^([CD])(\d{6})([A-Z]{3})(\d+,\d*)$")
_MT940_61 = re.compile(
    r"^(?P<vdate>\d{6})(?P<edate>\d{4})?(?P<dc>R?[CD])(?P<fund>[A-Z])?(?P<amount>\d+,\d*)"
    r"(?P<type>[NFS][A-Z0-9]{3})(?P<cref>[^/]*?)?(?://(?P<bref>.*))?$"
)


def _mt_amount(text: str, label: str, row: int, tag: str) -> Decimal:
    try:
        return Decimal(text.replace(",", "."))
    except InvalidOperation:
        raise InputError(f"not an amount: {text!r}", file=label, row=row, field=tag) from None


def _mt_date(text: str, label: str, row: int, tag: str) -> date:
    try:
        return datetime.strptime(text, "%y%m%d").date()
    except ValueError:
        raise InputError(f"not a date (YYMMDD): {text!r}", file=label, row=row, field=tag) from None


def read_mt940(path: str | Path) -> list[Statement]:
    """Statements in an MT940 file (SWIFT envelope optional; ING, Rabobank, SNS and similar layouts)."""
    p = Path(path)
    label = str(p)
    if not p.is_file():
        raise InputError("file not found", file=label)
    raw = p.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    lines = text.splitlines()
    first = next((ln.strip() for ln in lines if ln.strip()), "")
    if not (first.startswith(("{1:", ":20:", "0000 ")) or first == ":940:"):
        raise InputError(f"not an MT940 file (starts with {first[:20]!r})", file=label, row=1)
    # collect (tag, value, line) with continuation lines joined by "\n"
    fields: list[list[Any]] = []
    for no, line in enumerate(lines, start=1):
        s = line.rstrip()
        if "{4:" in s:
            s = s.split("{4:", 1)[1]
            if not s:
                continue
        m = _MT940_TAG.match(s)
        if m and m.group(1) != "940":
            fields.append([m.group(1), m.group(2), no])
            continue
        if (
            not s
            or s.startswith(("{", "}", "-}"))
            or s in ("-XXX", ":940:")
            or re.match(r"^(0000 |940 00)", s)
        ):
            continue
        if fields:
            fields[-1][1] += "\n" + s
    statements: list[Statement] = []
    st: Statement | None = None
    last_entry: CamtEntry | None = None
    for tag, value, no in fields:
        value = re.sub(r"\n-$", "", value)
        if tag == "20":
            st = Statement(
                id=value.strip(),
                account="",
                currency="",
                opening=None,
                closing=None,
                file=label,
                kind="mt940",
            )
            statements.append(st)
            last_entry = None
            continue
        if st is None:
            raise InputError(f"tag :{tag}: before the first :20:", file=label, row=no)
        if tag == "25":
            acct = value.strip().split()[0] if value.strip() else ""
            expected = iban_length(acct[:2])
            if expected and len(acct) == expected + 3 and acct[-3:].isalpha():
                acct = acct[:-3]  # ING writes the currency after the IBAN
            st.account = compact_account(acct)
        elif tag == "28C":
            st.id = f"{st.id}/{value.replace(chr(10), '').strip()}"
        elif tag in ("60F", "60M", "62F", "62M"):
            m = _MT940_BAL.match(value.replace("\n", "").strip())
            if not m:
                raise InputError(f"malformed balance {value!r}", file=label, row=no, field=tag)
            amount = _mt_amount(m.group(4), label, no, tag)
            amount = -amount if m.group(1) == "D" else amount
            when = _mt_date(m.group(2), label, no, tag)
            st.currency = st.currency or m.group(3)
            if tag.startswith("60"):
                st.opening, st.opening_date = amount, when
            else:
                st.closing, st.closing_date = amount, when
        elif tag == "61":
            head, _, rest = value.partition("\n")
            m = _MT940_61.match(head.strip())
            if not m:
                raise InputError(f"malformed :61: statement line {head!r}", file=label, row=no, field="61")
            amount = _mt_amount(m.group("amount"), label, no, "61")
            dc = m.group("dc")
            signed = -amount if dc in ("D", "RC") else amount
            vdate = _mt_date(m.group("vdate"), label, no, "61")
            bdate = vdate
            if m.group("edate"):
                try:
                    bdate = date(vdate.year, int(m.group("edate")[:2]), int(m.group("edate")[2:]))
                except ValueError:
                    bdate = vdate
            cref = (m.group("cref") or "").strip() or None
            last_entry = CamtEntry(
                amount=signed,
                currency=st.currency,
                status="BOOK",
                booking_date=bdate,
                value_date=vdate,
                reversal=dc.startswith("R"),
                tx_type=m.group("type"),
                acct_svcr_ref=(m.group("bref") or "").strip() or None,
                info=rest.strip() or None,
                transactions=[
                    CamtTransaction(amount=signed, end_to_end_id=None if cref == "NONREF" else cref)
                ],
                locator=f"line {no}",
            )
            st.entries.append(last_entry)
        elif tag == "86" and last_entry is not None:
            info = value.strip()
            last_entry.info = (last_entry.info + "\n" + info) if last_entry.info else info
            tx = last_entry.transactions[0]
            flat = info.replace("\n", "")
            eref = re.search(r"/EREF/([^/]+)", flat)
            if eref:
                tx.end_to_end_id = eref.group(1).strip()
            cntp = re.search(r"/CNTP/([^/]*)/([^/]*)/([^/]*)/", flat)
            if cntp:
                tx.partner_account = cntp.group(1) or None
                tx.partner_name = cntp.group(3) or None
            name = re.search(r"/NAME/([^/]+)", flat)
            if name and not tx.partner_name:
                tx.partner_name = name.group(1).strip()
            remi = re.search(r"/REMI/(?:USTD//|STRD/[^/]*/)?([^/]*)", flat)
            if remi:
                tx.remittance = remi.group(1).strip() or None
            last_entry = None
        # :64:, :65: and statement-level :86: carry no entries
    if not statements:
        raise InputError("no statement (:20:) in the file", file=label)
    return statements
