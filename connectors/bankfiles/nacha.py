"""NACHA (ACH) files: entries, batch and file control totals, entry hashes; ADV with its own layout.

Read as banks and operators send them: records whose trailing blanks were trimmed are padded back
to 94 characters (``NACHA-PADDED``), a file written as one line is split into 94-character
records, return and notification-of-change entries (transaction codes 21/26/31/36/41/46/51/56,
addenda 98/99) are read, and a ``000000`` (or blank) effective entry date, which returns and NOCs
carry, leaves ``execution_date`` unset with a ``NACHA-NO-EFFECTIVE-DATE`` warning.

ADV (automated accounting advice) batches are read with their own layout (amounts of 12 digits
at 28-39, batch and file control totals of 20 digits). IAT (international) batches are refused
by name (``NACHA-IAT``): their entry and addenda records (10-18) have another layout, and reading
them as PPD would take the addenda count for the account.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from backoffice.errors import InputError
from connectors.bankfiles.accounts import routing_number_valid
from connectors.bankfiles.notices import Notice
from connectors.bankfiles.payments import Payment, PaymentFile

__all__ = ["NACHA_CREDIT_CODES", "NACHA_DEBIT_CODES", "NACHA_RETURN_CODES", "nacha_entry_hash", "read_nacha"]

# every transaction code of the NACHA rules (checking 2x, savings 3x, general ledger 4x, loan 5x):
# x1/x6 automated return or NOC, x2/x7 live, x3/x8 prenote, x4/x9 zero-dollar with remittance;
# 55 loan reversal (debit). ADV (automated accounting advice) uses 81-88.
NACHA_CREDIT_CODES = frozenset(
    {"21", "22", "23", "24", "31", "32", "33", "34", "41", "42", "43", "44", "51", "52", "53", "54"}
    | {"81", "83", "85", "87"}
)
NACHA_DEBIT_CODES = frozenset(
    {"26", "27", "28", "29", "36", "37", "38", "39", "46", "47", "48", "49", "55", "56"}
    | {"82", "84", "86", "88"}
)
NACHA_RETURN_CODES = frozenset({"21", "26", "31", "36", "41", "46", "51", "56"})
_RECORD = 94
# how far a record must reach for padding to restore it: only the file header and file control end
# in optional or reserved blanks; the others end in a trace/batch number, so a shorter one is cut off
_MIN_LENGTH = {"1": 40, "9": 55}


def nacha_entry_hash(routings: Iterable[str]) -> int:
    """Sum of the 8-digit RDFI identifications, rightmost 10 digits kept."""
    return sum(int(r[:8]) for r in routings) % 10**10


def looks_like_nacha(first_line: bytes | str) -> bool:
    """A file header record: '101', then the immediate destination (10 positions), even if trimmed."""
    s = first_line.decode("ascii", "replace") if isinstance(first_line, bytes) else first_line
    return len(s) >= 23 and s.startswith("101") and s[3:23].replace(" ", "").isdigit()


@dataclass
class _Batch:
    id: str
    sec: str
    line: int
    entries: int = 0
    addenda: int = 0
    debit: Decimal = Decimal("0")
    credit: Decimal = Decimal("0")
    routings: list[str] = field(default_factory=list)

    @property
    def adv(self) -> bool:
        return self.sec == "ADV"


class _Reader:
    def __init__(self, label: str) -> None:
        self.label = label
        self.pf = PaymentFile("nacha", label)
        self.batch: _Batch | None = None
        self.batches = 0
        self.entries = 0
        self.debit = Decimal("0")
        self.credit = Decimal("0")
        self.routings: list[str] = []
        self.control_seen = False

    def error(self, message: str, row: int, column: str | None = None, code: str = "INPUT") -> InputError:
        return InputError(message, file=self.label, row=row, column=column, code=code)

    def amount(self, text: str, row: int, column: str) -> Decimal:
        if not text.isdigit():
            raise self.error(f"amount is not digits: {text!r}", row, column)
        return Decimal(int(text)).scaleb(-2)

    def number(self, text: str, row: int, column: str) -> int:
        if not text.strip().isdigit():
            raise self.error(f"not a number: {text!r}", row, column)
        return int(text)

    def header5(self, rec: str, row: int) -> None:
        if self.batch is not None:
            raise self.error("batch header inside an open batch (missing batch control '8')", row)
        sec = rec[50:53]
        bid = rec[87:94].strip() or str(self.batches + 1)
        if sec == "IAT":
            raise self.error(
                f"batch {bid} is an IAT (international ACH) batch: its entries and addenda (10-18) have "
                "their own layout, not read",
                row,
                "standard entry class",
                "NACHA-IAT",
            )
        effective = rec[69:75]
        if effective.strip() in ("", "000000"):
            self.pf.warnings.append(
                Notice(
                    "NACHA-NO-EFFECTIVE-DATE",
                    f"batch {bid} has no effective entry date ({effective!r}), as returns and NOCs carry",
                    line=row,
                    field="effective entry date",
                )
            )
        elif self.pf.execution_date is None:
            try:
                self.pf.execution_date = datetime.strptime(effective, "%y%m%d").date()
            except ValueError:
                raise self.error(
                    f"bad effective entry date {effective!r}", row, "effective entry date"
                ) from None
        self.batch = _Batch(id=bid, sec=sec, line=row)
        self.batches += 1

    def entry6(self, rec: str, row: int) -> None:
        b = self.batch
        if b is None:
            raise self.error("entry detail outside a batch", row)
        code, routing = rec[1:3], rec[3:12]
        if b.adv:  # ADV: account 13-27, amount 28-39 (12 digits), name 55-76
            account, amount = rec[12:27].strip(), self.amount(rec[27:39], row, "amount")
            ref, emp = rec[79:94].strip(), None
        else:
            account, amount = rec[12:29].strip(), self.amount(rec[29:39], row, "amount")
            ref, emp = rec[79:94].strip(), rec[39:54].strip() or None
        if code in NACHA_CREDIT_CODES:
            b.credit += amount
            signed = amount
        elif code in NACHA_DEBIT_CODES:
            b.debit += amount
            signed = -amount
        else:
            raise self.error(f"unknown transaction code {code!r}", row, "transaction code", "NACHA-CODE")
        if (code in ("81", "82", "83", "84", "85", "86", "87", "88")) != b.adv:
            raise self.error(
                f"transaction code {code} in a {b.sec} batch (ADV uses 81-88, only ADV does)",
                row,
                "transaction code",
                "NACHA-CODE",
            )
        b.entries += 1
        b.routings.append(routing)
        if not routing_number_valid(routing):
            self.pf.problems.append(f"line {row}: routing number {routing} fails its check digit")
        self.pf.payments.append(
            Payment(
                end_to_end_id=ref,
                name=rec[54:76].strip(),
                account=account,
                amount=signed,
                currency="USD",
                employee_id=emp,
                routing=routing,
                remittance="return or NOC" if code in NACHA_RETURN_CODES else None,
                locator=f"line {row}",
            )
        )

    def addenda7(self, rec: str, row: int) -> None:
        if self.batch is None:
            raise self.error("addenda outside a batch", row)
        self.batch.addenda += 1
        kind = rec[1:3]
        last = self.pf.payments[-1] if self.pf.payments else None
        if last is None:
            return
        if kind == "99":
            last.remittance = f"return {rec[3:6].strip()}"
        elif kind == "98":
            last.remittance = f"NOC {rec[3:6].strip()}: {rec[35:64].strip()}"
        elif kind == "05" and last.remittance is None:
            last.remittance = rec[3:83].strip() or None

    def control8(self, rec: str, row: int) -> None:
        b = self.batch
        if b is None:
            raise self.error("batch control without a batch header", row)
        declared_n = self.number(rec[4:10], row, "entry/addenda count")
        declared_hash = self.number(rec[10:20], row, "entry hash")
        if b.adv:  # ADV totals are 20 digits each
            declared_debit = self.amount(rec[20:40], row, "total debit")
            declared_credit = self.amount(rec[40:60], row, "total credit")
        else:
            declared_debit = self.amount(rec[20:32], row, "total debit")
            declared_credit = self.amount(rec[32:44], row, "total credit")
        n = b.entries + b.addenda
        h = nacha_entry_hash(b.routings)
        problems = self.pf.problems
        if declared_n != n:
            problems.append(f"batch {b.id}: control count {declared_n} but {n} entries/addenda")
        if declared_hash != h:
            problems.append(f"batch {b.id}: entry hash {declared_hash} but entries hash to {h}")
        if declared_debit != b.debit:
            problems.append(f"batch {b.id}: total debit {declared_debit} but entries add up to {b.debit}")
        if declared_credit != b.credit:
            problems.append(f"batch {b.id}: total credit {declared_credit} but entries add up to {b.credit}")
        self.pf.batches.append(
            {
                "id": b.id,
                "sec": b.sec,
                "declared_count": declared_n,
                "count": n,
                "declared_hash": declared_hash,
                "hash": h,
                "declared_credit": declared_credit,
                "credit": b.credit,
                "declared_debit": declared_debit,
                "debit": b.debit,
            }
        )
        self.entries += n
        self.debit += b.debit
        self.credit += b.credit
        self.routings.extend(b.routings)
        self.batch = None

    def control9(self, rec: str, row: int) -> None:
        if self.batch is not None:
            raise self.error("file control inside an open batch (missing batch control '8')", row)
        adv = bool(self.pf.batches) and all(b["sec"] == "ADV" for b in self.pf.batches)
        declared_batches = self.number(rec[1:7], row, "batch count")
        declared_n = self.number(rec[13:21], row, "entry/addenda count")
        declared_hash = self.number(rec[21:31], row, "entry hash")
        if adv:
            declared_debit = self.amount(rec[31:51], row, "total debit")
            declared_credit = self.amount(rec[51:71], row, "total credit")
        else:
            declared_debit = self.amount(rec[31:43], row, "total debit")
            declared_credit = self.amount(rec[43:55], row, "total credit")
        h = nacha_entry_hash(self.routings)
        problems = self.pf.problems
        if declared_batches != self.batches:
            problems.append(f"file control: {declared_batches} batches declared, file has {self.batches}")
        if declared_n != self.entries:
            problems.append(f"file control: count {declared_n} but {self.entries} entries/addenda")
        if declared_hash != h:
            problems.append(f"file control: entry hash {declared_hash} but entries hash to {h}")
        if declared_debit != self.debit:
            problems.append(f"file control: total debit {declared_debit} but entries add up to {self.debit}")
        if declared_credit != self.credit:
            problems.append(
                f"file control: total credit {declared_credit} but entries add up to {self.credit}"
            )
        self.pf.declared_count = declared_n
        self.pf.declared_total = declared_credit - declared_debit
        self.control_seen = True


def _records(text: str, label: str, pf: PaymentFile) -> list[tuple[int, str]]:
    """(line, 94-char record): one-line files split, trimmed records padded back."""
    lines = text.splitlines()
    nonblank = [ln for ln in lines if ln.strip()]
    if len(nonblank) == 1 and len(nonblank[0].rstrip("\r\n")) % _RECORD == 0 and len(nonblank[0]) > _RECORD:
        one = nonblank[0]
        pf.warnings.append(
            Notice("NACHA-ONE-LINE", "one line of fixed-width records: split every 94 characters")
        )
        return [(i + 1, one[i * _RECORD : (i + 1) * _RECORD]) for i in range(len(one) // _RECORD)]
    out: list[tuple[int, str]] = []
    padded: list[int] = []
    for no, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        if len(line) > _RECORD:
            line = line.rstrip()
        if len(line) > _RECORD:
            raise InputError(f"NACHA records are 94 characters, this one has {len(line)}", file=label, row=no)
        if len(line) < _MIN_LENGTH.get(line[:1], _RECORD):
            raise InputError(
                f"NACHA records are 94 characters, this one has {len(line)} (cut short, not trailing blanks)",
                file=label,
                row=no,
            )
        if len(line) < _RECORD:
            padded.append(no)
            line = line.ljust(_RECORD)
        out.append((no, line))
    if padded:
        pf.warnings.append(
            Notice(
                "NACHA-PADDED",
                f"{len(padded)} record(s) shorter than 94 characters (trailing blanks trimmed) padded back, "
                f"first at line {padded[0]}",
                line=padded[0],
            )
        )
    return out


def read_nacha(path: str | Path) -> PaymentFile:
    """Read a NACHA (ACH) file: entries, batch control totals, file control totals and entry hashes.

    Disagreements between control records and entries go to ``control_problems()``; a record that
    cannot be a NACHA record, an unknown record type or transaction code, or an IAT batch is an
    InputError naming the line.
    """
    p = Path(path)
    label = str(p)
    if not p.is_file():
        raise InputError("file not found", file=label)
    try:
        text = p.read_text("ascii")
    except UnicodeDecodeError as exc:
        raise InputError("not a NACHA file (non-ASCII bytes)", file=label) from exc
    reader = _Reader(label)
    records = _records(text, label, reader.pf)
    if not records or not records[0][1].startswith("1"):
        raise InputError("not a NACHA file (first record is not a file header '1')", file=label, row=1)
    count = 0
    for i, (no, rec) in enumerate(records):
        count += 1
        kind = rec[0]
        if reader.control_seen:
            if rec != "9" * _RECORD:
                raise reader.error("record after the file control record", no)
            continue
        if kind == "1":
            if i != 0:
                raise reader.error("second file header", no)
        elif kind == "5":
            reader.header5(rec, no)
        elif kind == "6":
            reader.entry6(rec, no)
        elif kind == "7":
            reader.addenda7(rec, no)
        elif kind == "8":
            reader.control8(rec, no)
        elif kind == "9":
            reader.control9(rec, no)
        else:
            raise reader.error(f"unknown record type {kind!r}", no)
    last = records[-1][0]
    if reader.batch is not None:
        raise reader.error("file ends inside a batch (missing batch control '8')", last)
    if not reader.control_seen:
        raise reader.error("no file control record '9'", last)
    pf = reader.pf
    if count % 10 != 0:
        pf.problems.append(f"{count} records is not a whole number of 10-record blocks")
    # the count declared in '9' includes addenda; compare payments only
    addenda = sum(b["count"] for b in pf.batches) - len(pf.payments)
    pf.declared_count = (pf.declared_count or 0) - addenda
    return pf
