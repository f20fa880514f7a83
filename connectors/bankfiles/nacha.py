"""NACHA (ACH) files: entries, batch and file control totals, entry hashes."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from backoffice.errors import InputError
from connectors.bankfiles.accounts import routing_number_valid
from connectors.bankfiles.payments import Payment, PaymentFile

__all__ = ["nacha_entry_hash", "read_nacha"]

_NACHA_CREDIT_CODES = {"22", "23", "24", "32", "33", "34", "42", "43", "44", "52", "53", "54"}
_NACHA_DEBIT_CODES = {"27", "28", "29", "37", "38", "39", "47", "48", "49", "55"}


def nacha_entry_hash(routings: Iterable[str]) -> int:
    """Sum of the 8-digit RDFI identifications, rightmost 10 digits kept."""
    return sum(int(r[:8]) for r in routings) % 10**10


def _nacha_amount(text: str, label: str, line: int, column: str) -> Decimal:
    if not text.strip().isdigit():
        raise InputError(f"amount is not digits: {text!r}", file=label, row=line, column=column)
    return Decimal(int(text)) / 100


def _nacha_int(text: str, label: str, line: int, column: str) -> int:
    if not text.strip().isdigit():
        raise InputError(f"not a number: {text!r}", file=label, row=line, column=column)
    return int(text)


def read_nacha(path: str | Path) -> PaymentFile:
    """Read a NACHA (ACH) file: entries, batch control totals, file control totals and entry hashes.

    Disagreements between control records and entries go to ``control_problems()``; a record of the
    wrong length or an unknown record type is an InputError naming the line.
    """
    p = Path(path)
    label = str(p)
    if not p.is_file():
        raise InputError("file not found", file=label)
    pf = PaymentFile("nacha", label)
    try:
        text = p.read_text("ascii")
    except UnicodeDecodeError as exc:
        raise InputError("not a NACHA file (non-ASCII bytes)", file=label) from exc
    lines = text.splitlines()
    if not lines or not lines[0].startswith("1"):
        raise InputError("not a NACHA file (first record is not a file header '1')", file=label, row=1)
    batch: dict[str, Any] | None = None
    file_entries = 0
    file_debit = Decimal("0")
    file_credit = Decimal("0")
    file_routings: list[str] = []
    batch_count = 0
    file_control_seen = False
    records = 0
    for no, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        if len(line) != 94:
            raise InputError(f"NACHA records are 94 characters, this one has {len(line)}", file=label, row=no)
        records += 1
        kind = line[0]
        if file_control_seen:
            if line != "9" * 94:
                raise InputError("record after the file control record", file=label, row=no)
            continue
        if kind == "1":
            if no != 1:
                raise InputError("second file header", file=label, row=no)
            continue
        if kind == "5":
            if batch is not None:
                raise InputError(
                    "batch header inside an open batch (missing batch control '8')", file=label, row=no
                )
            effective = line[69:75]
            if pf.execution_date is None and effective.isdigit():
                try:
                    pf.execution_date = datetime.strptime(effective, "%y%m%d").date()
                except ValueError:
                    raise InputError(f"bad effective entry date {effective!r}", file=label, row=no) from None
            batch = {
                "id": line[87:94].strip(),
                "company": line[4:20].strip(),
                "entries": 0,
                "addenda": 0,
                "debit": Decimal("0"),
                "credit": Decimal("0"),
                "routings": [],
            }
            batch_count += 1
        elif kind == "6":
            if batch is None:
                raise InputError("entry detail outside a batch", file=label, row=no)
            code = line[1:3]
            routing = line[3:12]
            amount = _nacha_amount(line[29:39], label, no, "amount")
            batch["entries"] += 1
            batch["routings"].append(routing)
            if code in _NACHA_CREDIT_CODES:
                batch["credit"] += amount
                signed = amount
            elif code in _NACHA_DEBIT_CODES:
                batch["debit"] += amount
                signed = -amount
            else:
                raise InputError(
                    f"unknown transaction code {code!r}", file=label, row=no, column="transaction code"
                )
            if not routing_number_valid(routing):
                pf.problems.append(f"line {no}: routing number {routing} fails its check digit")
            pf.payments.append(
                Payment(
                    end_to_end_id=line[79:94].strip(),
                    name=line[54:76].strip(),
                    account=line[12:29].strip(),
                    amount=signed,
                    currency="USD",
                    employee_id=line[39:54].strip() or None,
                    routing=routing,
                    locator=f"line {no}",
                )
            )
        elif kind == "7":
            if batch is None:
                raise InputError("addenda outside a batch", file=label, row=no)
            batch["addenda"] += 1
        elif kind == "8":
            if batch is None:
                raise InputError("batch control without a batch header", file=label, row=no)
            bid = batch["id"] or str(batch_count)
            declared_n = _nacha_int(line[4:10], label, no, "entry/addenda count")
            declared_hash = _nacha_int(line[10:20], label, no, "entry hash")
            declared_debit = _nacha_amount(line[20:32], label, no, "total debit")
            declared_credit = _nacha_amount(line[32:44], label, no, "total credit")
            n = batch["entries"] + batch["addenda"]
            h = nacha_entry_hash(batch["routings"])
            if declared_n != n:
                pf.problems.append(f"batch {bid}: control count {declared_n} but {n} entries/addenda")
            if declared_hash != h:
                pf.problems.append(f"batch {bid}: entry hash {declared_hash} but entries hash to {h}")
            if declared_debit != batch["debit"]:
                pf.problems.append(
                    f"batch {bid}: total debit {declared_debit} but entries add up to {batch['debit']}"
                )
            if declared_credit != batch["credit"]:
                pf.problems.append(
                    f"batch {bid}: total credit {declared_credit} but entries add up to {batch['credit']}"
                )
            pf.batches.append(
                {
                    "id": bid,
                    "declared_count": declared_n,
                    "count": n,
                    "declared_hash": declared_hash,
                    "hash": h,
                    "declared_credit": declared_credit,
                    "credit": batch["credit"],
                    "declared_debit": declared_debit,
                    "debit": batch["debit"],
                }
            )
            file_entries += n
            file_debit += batch["debit"]
            file_credit += batch["credit"]
            file_routings.extend(batch["routings"])
            batch = None
        elif kind == "9":
            if batch is not None:
                raise InputError(
                    "file control inside an open batch (missing batch control '8')", file=label, row=no
                )
            declared_batches = _nacha_int(line[1:7], label, no, "batch count")
            declared_n = _nacha_int(line[13:21], label, no, "entry/addenda count")
            declared_hash = _nacha_int(line[21:31], label, no, "entry hash")
            declared_debit = _nacha_amount(line[31:43], label, no, "total debit")
            declared_credit = _nacha_amount(line[43:55], label, no, "total credit")
            h = nacha_entry_hash(file_routings)
            if declared_batches != batch_count:
                pf.problems.append(
                    f"file control: {declared_batches} batches declared, file has {batch_count}"
                )
            if declared_n != file_entries:
                pf.problems.append(f"file control: count {declared_n} but {file_entries} entries/addenda")
            if declared_hash != h:
                pf.problems.append(f"file control: entry hash {declared_hash} but entries hash to {h}")
            if declared_debit != file_debit:
                pf.problems.append(
                    f"file control: total debit {declared_debit} but entries add up to {file_debit}"
                )
            if declared_credit != file_credit:
                pf.problems.append(
                    f"file control: total credit {declared_credit} but entries add up to {file_credit}"
                )
            pf.declared_count = declared_n
            pf.declared_total = declared_credit - declared_debit
            file_control_seen = True
        else:
            raise InputError(f"unknown record type {kind!r}", file=label, row=no)
    if batch is not None:
        raise InputError("file ends inside a batch (missing batch control '8')", file=label, row=len(lines))
    if not file_control_seen:
        raise InputError("no file control record '9'", file=label, row=len(lines))
    if records % 10 != 0:
        pf.problems.append(f"{records} records is not a whole number of 10-record blocks")
    # the count declared in '9' includes addenda; compare payments only
    addenda = sum(b["count"] for b in pf.batches) - len(pf.payments)
    pf.declared_count = (pf.declared_count or 0) - addenda
    return pf
