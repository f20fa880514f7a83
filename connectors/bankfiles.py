"""Bank files: payment files we send (pain.001, NACHA, CSV) and statements we get back (camt.053, MT940).

Payment files::

    pf = read_payment_file("salaries.xml")        # pain.001, NACHA or CSV, detected from the content
    pf.payments                                   # [Payment(end_to_end_id, name, account, amount, ...)]
    pf.control_problems()                         # [] when NbOfTxs/CtrlSum (or NACHA totals/entry hash) agree

    write_pain001(path, payments, debtor=..., execution_date=...)   # NbOfTxs and CtrlSum computed
    write_nacha(path, payments, origin=..., effective_date=...)     # batch/file control and entry hash

Statements::

    for st in read_camt053("statement.xml"):      # also camt.054 notifications and .zip archives of them
        st.opening, st.closing, st.entries, st.balanced, st.balance_difference()
    read_mt940("statement.940")

A declared control total that disagrees with the content is *data* (``control_problems()``,
``balance_difference()``) so a reconciliation rule can report it; a file that cannot be read at
all (not XML, wrong format, a malformed amount) is an :class:`InputError` naming file and
position. XML is parsed with entity resolution, DTDs and network access switched off.

Account numbers are masked with :func:`mask_account` (last 4 digits) wherever they are shown.
"""

from __future__ import annotations

import re
import sys
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path
from typing import IO, Any, Literal
from xml.sax.saxutils import escape

from lxml import etree

from backoffice.errors import InputError
from backoffice.money import q2

__all__ = [
    "CamtEntry",
    "CamtTransaction",
    "Payment",
    "PaymentFile",
    "Statement",
    "iban_problem",
    "is_valid_iban",
    "mask_account",
    "nacha_entry_hash",
    "read_camt053",
    "read_mt940",
    "read_nacha",
    "read_pain001",
    "read_payment_csv",
    "read_payment_file",
    "read_statement",
    "routing_number_valid",
    "write_camt053",
    "write_nacha",
    "write_pain001",
    "write_payment_csv",
]

MAX_XML_BYTES = 1024**3

# ---------------------------------------------------------------- accounts

_IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BR": 29,
    "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24,
    "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28, "HR": 21,
    "HU": 28, "IE": 22, "IL": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LI": 21,
    "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MR": 27, "MT": 31, "MU": 30,
    "NL": 18, "NO": 15, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "SA": 24,
    "SE": 24, "SI": 19, "SK": 24, "SM": 27, "TN": 24, "TR": 26, "UA": 29, "VG": 24, "XK": 20,
}  # fmt: skip


_IBAN_DIGITS = {ord(c): str(ord(c) - 55) for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"}
_SPACE_OR_DASH = re.compile(r"[\s-]")


def _compact(account: str) -> str:
    if not account:
        return ""
    if " " in account or "-" in account or "\t" in account or "\u00a0" in account:
        account = _SPACE_OR_DASH.sub("", account)
    return account.upper()


def iban_problem(iban: str) -> str | None:
    """Why ``iban`` is not a valid IBAN (country, length, characters, mod-97), or None if it is."""
    s = _compact(iban)
    if not s:
        return "empty IBAN"
    if not re.fullmatch(r"[A-Z]{2}\d{2}[A-Z0-9]{1,30}", s):
        return "not an IBAN (expected 2 letters, 2 check digits, then letters/digits)"
    expected = _IBAN_LENGTHS.get(s[:2])
    if expected is not None and len(s) != expected:
        return f"{s[:2]} IBANs have {expected} characters, this one has {len(s)}"
    if int((s[4:] + s[:4]).translate(_IBAN_DIGITS)) % 97 != 1:
        return "check digits wrong (mod-97)"
    return None


def is_valid_iban(iban: str) -> bool:
    return iban_problem(iban) is None


def mask_account(account: str | None) -> str:
    """``DE89370400440532013000`` -> ``****3000``: only the last 4 characters show."""
    s = _compact(account or "")
    if not s:
        return ""
    return "****" + s[-4:] if len(s) > 4 else "****"


def iban_check_digits(country: str, bban: str) -> str:
    """Check digits that make ``country + cd + bban`` pass mod-97 (for generating test data)."""
    digits = "".join(str(int(ch, 36)) for ch in (bban + country + "00").upper())
    return f"{98 - int(digits) % 97:02d}"


def routing_number_valid(routing: str) -> bool:
    """ABA routing number checksum: 3-7-1 weights over 9 digits, sum divisible by 10."""
    if not re.fullmatch(r"\d{9}", routing or ""):
        return False
    d = [int(c) for c in routing]
    return (3 * (d[0] + d[3] + d[6]) + 7 * (d[1] + d[4] + d[7]) + (d[2] + d[5] + d[8])) % 10 == 0


# ---------------------------------------------------------------- payments


@dataclass(slots=True)
class Payment:
    """One outgoing credit transfer. ``amount`` is positive for a credit to the payee."""

    end_to_end_id: str
    name: str
    account: str
    amount: Decimal
    currency: str = "EUR"
    employee_id: str | None = None
    bic: str | None = None
    routing: str | None = None
    remittance: str | None = None
    locator: str = ""  # where in the file: "CdtTrfTxInf 12", "line 7", "row 3"


@dataclass
class PaymentFile:
    """A parsed payment file with what its headers *declare* and what its content *is*."""

    format: Literal["pain.001", "nacha", "csv"]
    file: str
    payments: list[Payment] = field(default_factory=list)
    declared_count: int | None = None
    declared_total: Decimal | None = None
    batches: list[dict[str, Any]] = field(
        default_factory=list
    )  # per PmtInf / NACHA batch: declared vs actual
    problems: list[str] = field(default_factory=list)  # structural control problems found while reading
    execution_date: date | None = None

    @property
    def count(self) -> int:
        return len(self.payments)

    @property
    def total(self) -> Decimal:
        return sum((p.amount for p in self.payments), Decimal("0.00"))

    def control_problems(self) -> list[str]:
        """Every way the declared counts/totals (and NACHA entry hashes) disagree with the payments."""
        out = list(self.problems)
        if self.declared_count is not None and self.declared_count != self.count:
            out.append(f"declared {self.declared_count} transactions, file holds {self.count}")
        if self.declared_total is not None and q2(self.declared_total) != q2(self.total):
            out.append(f"declared control sum {q2(self.declared_total)}, payments add up to {q2(self.total)}")
        return out


def _xml_parser_kwargs() -> dict[str, Any]:
    return {"resolve_entities": False, "no_network": True, "load_dtd": False, "huge_tree": False}


def _local(tag: object) -> str:
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[-1]


@lru_cache(maxsize=512)
def _path(path: tuple[str, ...]) -> str:
    return "/".join("{*}" + p for p in path)


def _child(el: Any, *path: str) -> Any | None:
    """The first descendant along ``path`` (local names, any namespace), or None."""
    if el is None:
        return None
    return el.find(_path(path))


def _intern(text: str | None) -> str | None:
    """Remittance texts repeat across a salary run: keep one copy."""
    return None if text is None or len(text) > 140 else sys.intern(text)


def _children(el: Any | None, name: str) -> list[Any]:
    return [] if el is None else el.findall("{*}" + name)


def _text(el: Any, *path: str) -> str | None:
    node = _child(el, *path) if path else el
    if node is None or node.text is None:
        return None
    t = node.text.strip()
    return t or None


def _dec(text: str | None, where: str, file: str, field_name: str) -> Decimal:
    if text is None:
        raise InputError("missing amount", file=file, field=f"{where}/{field_name}")
    try:
        d = Decimal(text.strip())
    except InvalidOperation:
        raise InputError(f"not an amount: {text!r}", file=file, field=f"{where}/{field_name}") from None
    if not d.is_finite():
        raise InputError(f"not an amount: {text!r}", file=file, field=f"{where}/{field_name}")
    return d


def _check_xml_file(p: Path) -> None:
    if not p.is_file():
        raise InputError("file not found", file=str(p))
    size = p.stat().st_size
    if size == 0:
        raise InputError("the file is empty", file=str(p))
    if size > MAX_XML_BYTES:
        raise InputError(f"file too large: {size:,} bytes", file=str(p))


def _iterparse(source: Path | IO[bytes], label: str, tags: Sequence[str]) -> Iterator[Any]:
    """End events for elements whose local name is in ``tags``; XML errors become InputError."""
    try:
        for _event, el in etree.iterparse(
            source, events=("end",), tag=tuple("{*}" + t for t in tags), **_xml_parser_kwargs()
        ):
            yield el
    except etree.XMLSyntaxError as exc:
        line = exc.position[0] if exc.position else None
        raise InputError(f"not well-formed XML: {exc.msg}", file=label, row=line) from exc


def read_pain001(path: str | Path) -> PaymentFile:
    """Read a pain.001 customer credit transfer (any 001.001.xx version), streaming."""
    p = Path(path)
    _check_xml_file(p)
    label = str(p)
    pf = PaymentFile("pain.001", label)
    root_seen = False
    batch_payments = 0
    batch_total = Decimal("0")
    tx_no = 0
    for el in _iterparse(p, label, ("CdtTrfTxInf", "PmtInf", "GrpHdr", "ReqdExctnDt")):
        name = _local(el.tag)
        root_seen = True
        if name == "CdtTrfTxInf":
            tx_no += 1
            where = f"CdtTrfTxInf[{tx_no}]"
            amt_el = _child(el, "Amt", "InstdAmt")
            if amt_el is None:
                raise InputError("no Amt/InstdAmt", file=label, field=where)
            amount = _dec(amt_el.text, where, label, "Amt/InstdAmt")
            iban = _text(el, "CdtrAcct", "Id", "IBAN") or _text(el, "CdtrAcct", "Id", "Othr", "Id") or ""
            pf.payments.append(
                Payment(
                    end_to_end_id=_text(el, "PmtId", "EndToEndId") or "",
                    name=_text(el, "Cdtr", "Nm") or "",
                    account=_compact(iban),
                    amount=amount,
                    currency=sys.intern(amt_el.get("Ccy") or ""),
                    bic=_text(el, "CdtrAgt", "FinInstnId", "BIC")
                    or _text(el, "CdtrAgt", "FinInstnId", "BICFI"),
                    remittance=_intern(_text(el, "RmtInf", "Ustrd")),
                    locator=where,
                )
            )
            batch_payments += 1
            batch_total += amount
            el.clear(keep_tail=True)
            prev = el.getprevious()
            while prev is not None and _local(prev.tag) == "CdtTrfTxInf":  # keep memory flat
                el.getparent().remove(prev)
                prev = el.getprevious()
        elif name == "ReqdExctnDt":
            txt = _text(el) or _text(el, "Dt")
            if txt and pf.execution_date is None:
                try:
                    pf.execution_date = date.fromisoformat(txt[:10])
                except ValueError:
                    raise InputError(f"not a date: {txt!r}", file=label, field="PmtInf/ReqdExctnDt") from None
        elif name == "PmtInf":
            pid = _text(el, "PmtInfId") or f"PmtInf[{len(pf.batches) + 1}]"
            n = _text(el, "NbOfTxs")
            s = _text(el, "CtrlSum")
            batch: dict[str, Any] = {
                "id": pid,
                "declared_count": int(n) if n and n.isdigit() else None,
                "declared_total": _dec(s, pid, label, "CtrlSum") if s else None,
                "count": batch_payments,
                "total": q2(batch_total),
            }
            pf.batches.append(batch)
            if batch["declared_count"] is not None and batch["declared_count"] != batch_payments:
                pf.problems.append(
                    f"{pid}: NbOfTxs {batch['declared_count']} but {batch_payments} transactions"
                )
            if batch["declared_total"] is not None and q2(batch["declared_total"]) != q2(batch_total):
                pf.problems.append(
                    f"{pid}: CtrlSum {q2(batch['declared_total'])} but payments add up to {q2(batch_total)}"
                )
            batch_payments, batch_total = 0, Decimal("0")
            el.clear(keep_tail=True)
        elif name == "GrpHdr":
            n = _text(el, "NbOfTxs")
            s = _text(el, "CtrlSum")
            if n is None:
                raise InputError("GrpHdr has no NbOfTxs", file=label, field="GrpHdr/NbOfTxs")
            if not n.isdigit():
                raise InputError(f"NbOfTxs is not a number: {n!r}", file=label, field="GrpHdr/NbOfTxs")
            pf.declared_count = int(n)
            pf.declared_total = _dec(s, "GrpHdr", label, "CtrlSum") if s is not None else None
    if not root_seen:
        raise InputError("not a pain.001 file (no GrpHdr or CdtTrfTxInf)", file=label)
    if pf.declared_count is None:
        raise InputError("not a pain.001 file (no GrpHdr)", file=label)
    return pf


def write_pain001(
    path: str | Path,
    payments: Sequence[Payment],
    *,
    debtor_name: str,
    debtor_iban: str,
    execution_date: date,
    message_id: str,
    debtor_bic: str | None = None,
    created: datetime | None = None,
    category_purpose: str = "SALA",
    declared_count: int | None = None,
    declared_total: Decimal | None = None,
) -> Path:
    """Write a pain.001.001.03 file with one PmtInf; NbOfTxs and CtrlSum are computed.

    ``declared_count``/``declared_total`` override the group header (to build broken test files).
    """
    out = Path(path)
    created = created or datetime.now(UTC)
    total = q2(sum((p.amount for p in payments), Decimal("0")))
    n = len(payments)
    g_n = n if declared_count is None else declared_count
    g_t = total if declared_total is None else q2(declared_total)
    ccy = payments[0].currency if payments else "EUR"
    e = escape
    tmp = out.with_name(out.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        fh.write('<?xml version="1.0" encoding="UTF-8"?>\n')
        fh.write('<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.001.001.03">\n<CstmrCdtTrfInitn>\n')
        fh.write(
            f"<GrpHdr><MsgId>{e(message_id)}</MsgId><CreDtTm>{created.strftime('%Y-%m-%dT%H:%M:%S')}</CreDtTm>"
            f"<NbOfTxs>{g_n}</NbOfTxs><CtrlSum>{g_t}</CtrlSum><InitgPty><Nm>{e(debtor_name)}</Nm></InitgPty></GrpHdr>\n"
        )
        fh.write(
            f"<PmtInf><PmtInfId>{e(message_id)}-1</PmtInfId><PmtMtd>TRF</PmtMtd><BtchBookg>true</BtchBookg>"
            f"<NbOfTxs>{n}</NbOfTxs><CtrlSum>{total}</CtrlSum>"
            f"<PmtTpInf><SvcLvl><Cd>SEPA</Cd></SvcLvl><CtgyPurp><Cd>{e(category_purpose)}</Cd></CtgyPurp></PmtTpInf>"
            f"<ReqdExctnDt>{execution_date.isoformat()}</ReqdExctnDt><Dbtr><Nm>{e(debtor_name)}</Nm></Dbtr>"
            f"<DbtrAcct><Id><IBAN>{e(_compact(debtor_iban))}</IBAN></Id></DbtrAcct>"
            + (
                f"<DbtrAgt><FinInstnId><BIC>{e(debtor_bic)}</BIC></FinInstnId></DbtrAgt>"
                if debtor_bic
                else "<DbtrAgt><FinInstnId><Othr><Id>NOTPROVIDED</Id></Othr></FinInstnId></DbtrAgt>"
            )
            + "<ChrgBr>SLEV</ChrgBr>\n"
        )
        for pay in payments:
            agent = f"<CdtrAgt><FinInstnId><BIC>{e(pay.bic)}</BIC></FinInstnId></CdtrAgt>" if pay.bic else ""
            rmt = f"<RmtInf><Ustrd>{e(pay.remittance[:140])}</Ustrd></RmtInf>" if pay.remittance else ""
            fh.write(
                f"<CdtTrfTxInf><PmtId><EndToEndId>{e(pay.end_to_end_id)}</EndToEndId></PmtId>"
                f'<Amt><InstdAmt Ccy="{e(pay.currency or ccy)}">{q2(pay.amount)}</InstdAmt></Amt>{agent}'
                f"<Cdtr><Nm>{e(pay.name[:70])}</Nm></Cdtr><CdtrAcct><Id><IBAN>{e(_compact(pay.account))}</IBAN></Id>"
                f"</CdtrAcct>{rmt}</CdtTrfTxInf>\n"
            )
        fh.write("</PmtInf>\n</CstmrCdtTrfInitn>\n</Document>\n")
    tmp.replace(out)
    return out


# ---------------------------------------------------------------- NACHA

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


def write_nacha(
    path: str | Path,
    payments: Sequence[Payment],
    *,
    origin_routing: str,
    origin_name: str,
    company_id: str,
    destination_routing: str,
    destination_name: str,
    effective_date: date,
    created: datetime | None = None,
    description: str = "PAYROLL",
    corrupt_entry_hash: bool = False,
) -> Path:
    """Write a PPD credit batch (service class 220) with batch/file control totals and entry hash.

    Each payment needs ``routing`` (9 digits) and ``account``; amounts are positive credits.
    ``corrupt_entry_hash`` writes a wrong hash (for tests of the control checks).
    """
    created = created or datetime.now(UTC)
    recs: list[str] = []

    def fit(s: str, n: int) -> str:
        s = re.sub(r"[^ -~]", "?", s or "")
        return s[:n].ljust(n)

    recs.append(
        "101"
        + f" {destination_routing:>9}"[-10:]
        + f" {origin_routing:>9}"[-10:]
        + created.strftime("%y%m%d%H%M")
        + "A094101"
        + fit(destination_name.upper(), 23)
        + fit(origin_name.upper(), 23)
        + fit("", 8)
    )
    odfi = origin_routing[:8]
    recs.append(
        "5220"
        + fit(origin_name.upper(), 16)
        + fit("", 20)
        + fit(company_id, 10)
        + "PPD"
        + fit(description.upper(), 10)
        + effective_date.strftime("%y%m%d")
        + effective_date.strftime("%y%m%d")
        + "   "
        + "1"
        + odfi
        + "0000001"
    )
    credit = 0
    routings: list[str] = []
    for i, pay in enumerate(payments, start=1):
        if not pay.routing or not re.fullmatch(r"\d{9}", pay.routing):
            raise InputError(f"payment {pay.end_to_end_id!r} has no 9-digit routing number", field="routing")
        cents = int(q2(pay.amount) * 100)
        if cents < 0:
            raise InputError(f"payment {pay.end_to_end_id!r} is negative; payroll files carry credits only")
        credit += cents
        routings.append(pay.routing)
        trace = (pay.end_to_end_id or f"{odfi}{i:07d}")[:15].rjust(15, "0")
        recs.append(
            "622"
            + pay.routing
            + fit(pay.account, 17)
            + f"{cents:010d}"
            + fit(pay.employee_id or "", 15)
            + fit(pay.name.upper(), 22)
            + "  "
            + "0"
            + trace
        )
    h = nacha_entry_hash(routings) + (1 if corrupt_entry_hash else 0)
    n = len(payments)
    recs.append(
        "8220"
        + f"{n:06d}"
        + f"{h % 10**10:010d}"
        + f"{0:012d}"
        + f"{credit:012d}"
        + fit(company_id, 10)
        + " " * 19
        + " " * 6
        + odfi
        + "0000001"
    )
    blocks = -(-(len(recs) + 1) // 10)
    recs.append(
        "9"
        + f"{1:06d}"
        + f"{blocks:06d}"
        + f"{n:08d}"
        + f"{h % 10**10:010d}"
        + f"{0:012d}"
        + f"{credit:012d}"
        + " " * 39
    )
    while len(recs) % 10:
        recs.append("9" * 94)
    out = Path(path)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text("\n".join(recs) + "\n", "ascii")
    tmp.replace(out)
    return out


# ---------------------------------------------------------------- CSV payment file

PAYMENT_CSV_COLUMNS = ("end_to_end_id", "employee_id", "name", "account", "amount", "currency")


def read_payment_csv(path: str | Path) -> PaymentFile:
    """A plain payment CSV/xlsx: end_to_end_id, employee_id, name, account (IBAN), amount, currency."""
    from connectors.excel import ColumnSpec, read_table

    cols = {
        "end_to_end_id": ColumnSpec("str", aliases=("e2e id", "end to end id", "reference")),
        "employee_id": ColumnSpec("str", required=False, nullable=True, aliases=("emp id", "employee")),
        "name": ColumnSpec("str", aliases=("payee", "beneficiary", "creditor")),
        "account": ColumnSpec("str", aliases=("iban", "account number", "bank account")),
        "amount": ColumnSpec("money"),
        "currency": ColumnSpec("str", required=False, nullable=True, aliases=("ccy",)),
    }
    pf = PaymentFile("csv", str(path))
    # a repeated end-to-end id is kept: paying someone twice is a finding for the caller, not bad input
    for row in read_table(path, cols):
        pf.payments.append(
            Payment(
                end_to_end_id=row["end_to_end_id"],
                name=row["name"],
                account=_compact(row["account"]),
                amount=row["amount"],
                currency=row["currency"] or "EUR",
                employee_id=row["employee_id"],
                locator=row.locator,
            )
        )
    return pf


def write_payment_csv(path: str | Path, payments: Sequence[Payment]) -> Path:
    import csv

    from connectors.excel import neutralise_formula

    out = Path(path)
    tmp = out.with_name(out.name + ".tmp")
    with tmp.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(PAYMENT_CSV_COLUMNS)
        for pay in payments:
            w.writerow(
                [
                    neutralise_formula(pay.end_to_end_id),
                    neutralise_formula(pay.employee_id or ""),
                    neutralise_formula(pay.name),
                    pay.account,
                    f"{q2(pay.amount)}",
                    pay.currency,
                ]
            )
    tmp.replace(out)
    return out


def read_payment_file(path: str | Path) -> PaymentFile:
    """Detect the format from the content: XML -> pain.001, 94-char '101' header -> NACHA, else CSV/xlsx."""
    p = Path(path)
    if not p.is_file():
        raise InputError("file not found", file=str(p))
    with p.open("rb") as fh:
        head = fh.read(512)
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if stripped.startswith(b"<"):
        return read_pain001(p)
    first = stripped.split(b"\n", 1)[0].rstrip(b"\r")
    if first.startswith(b"101") and len(first) == 94:
        return read_nacha(p)
    return read_payment_csv(p)


# ---------------------------------------------------------------- statements


@dataclass(slots=True)
class CamtTransaction:
    """One transaction inside an entry (TxDtls); ``amount`` signed like its entry (+ credit, - debit)."""

    amount: Decimal
    end_to_end_id: str | None = None
    instr_id: str | None = None
    acct_svcr_ref: str | None = None
    structured_ref: str | None = None
    partner_name: str | None = None
    partner_account: str | None = None
    remittance: str | None = None

    @property
    def reference(self) -> str | None:
        return self.structured_ref or self.end_to_end_id or self.acct_svcr_ref or self.instr_id


@dataclass(slots=True)
class CamtEntry:
    """One booked (or pending) entry; ``amount`` signed: + credit, - debit."""

    amount: Decimal
    currency: str
    status: str
    booking_date: date | None
    value_date: date | None
    reversal: bool
    tx_type: str | None
    acct_svcr_ref: str | None
    info: str | None
    transactions: list[CamtTransaction]
    locator: str = ""

    @property
    def booked(self) -> bool:
        return self.status.upper() in ("BOOK", "BOOKED", "")


@dataclass
class Statement:
    """A bank statement (camt.053, camt.054 notification, or one MT940 :20: block)."""

    id: str
    account: str
    currency: str
    opening: Decimal | None
    closing: Decimal | None
    opening_date: date | None = None
    closing_date: date | None = None
    entries: list[CamtEntry] = field(default_factory=list)
    file: str = ""
    kind: str = "camt.053"

    @property
    def credits(self) -> Decimal:
        return sum((e.amount for e in self.entries if e.booked and e.amount > 0), Decimal("0"))

    @property
    def debits(self) -> Decimal:
        return -sum((e.amount for e in self.entries if e.booked and e.amount < 0), Decimal("0"))

    def balance_difference(self) -> Decimal | None:
        """closing - (opening + credits - debits) over booked entries; None without both balances."""
        if self.opening is None or self.closing is None:
            return None
        return self.closing - (self.opening + self.credits - self.debits)

    @property
    def balanced(self) -> bool | None:
        """Whether opening + credits - debits = closing; None when the file has no balances to check."""
        diff = self.balance_difference()
        return None if diff is None else diff == 0

    def transactions(self) -> Iterator[tuple[CamtEntry, CamtTransaction]]:
        for e in self.entries:
            for t in e.transactions:
                yield e, t


def _date(text: str | None) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        return None


def _signed(amount: Decimal, ind: str | None) -> Decimal:
    return -amount if (ind or "").upper() == "DBIT" else amount


def _camt_entry(el: Any, label: str, where: str) -> CamtEntry:
    amt_el = _child(el, "Amt")
    if amt_el is None:
        raise InputError("entry without Amt", file=label, field=where)
    amount = _dec(amt_el.text, where, label, "Amt")
    ind = _text(el, "CdtDbtInd")
    if ind not in ("CRDT", "DBIT"):
        raise InputError(
            f"CdtDbtInd must be CRDT or DBIT, got {ind!r}", file=label, field=f"{where}/CdtDbtInd"
        )
    signed = _signed(amount, ind)
    status = _text(el, "Sts") or _text(el, "Sts", "Cd") or ""
    dom = _child(el, "BkTxCd", "Domn")
    tx_type = None
    if dom is not None:
        parts = [_text(dom, "Cd"), _text(dom, "Fmly", "Cd"), _text(dom, "Fmly", "SubFmlyCd")]
        tx_type = "-".join(x for x in parts if x)
    txs: list[CamtTransaction] = []
    details = _children(_child(el, "NtryDtls"), "TxDtls")
    for i, tx in enumerate(details, start=1):
        tx_amt_el = _child(tx, "AmtDtls", "TxAmt", "Amt")
        if tx_amt_el is None:
            tx_amt_el = _child(tx, "Amt")
        tx_ind = _text(tx, "CdtDbtInd") or ind
        if tx_amt_el is not None:
            tx_amount = _signed(_dec(tx_amt_el.text, f"{where}/TxDtls[{i}]", label, "Amt"), tx_ind)
        else:
            tx_amount = signed if len(details) == 1 else Decimal("0")
        debit = (tx_ind or ind) == "DBIT"
        first, second = ("Cdtr", "Dbtr") if debit else ("Dbtr", "Cdtr")
        name = _text(tx, "RltdPties", first, "Nm") or _text(tx, "RltdPties", first, "Pty", "Nm")
        acct = _text(tx, "RltdPties", f"{first}Acct", "Id", "IBAN") or _text(
            tx, "RltdPties", f"{first}Acct", "Id", "Othr", "Id"
        )
        if name is None and acct is None:
            name = _text(tx, "RltdPties", second, "Nm")
            acct = _text(tx, "RltdPties", f"{second}Acct", "Id", "IBAN")
        ustrd = [_text(u) for u in _children(_child(tx, "RmtInf"), "Ustrd")]
        txs.append(
            CamtTransaction(
                amount=tx_amount,
                end_to_end_id=_text(tx, "Refs", "EndToEndId"),
                instr_id=_text(tx, "Refs", "InstrId"),
                acct_svcr_ref=_text(tx, "Refs", "AcctSvcrRef"),
                structured_ref=_text(tx, "RmtInf", "Strd", "CdtrRefInf", "Ref"),
                partner_name=name,
                partner_account=acct,
                remittance=" ".join(u for u in ustrd if u) or _text(tx, "AddtlTxInf"),
            )
        )
    if not txs:
        txs.append(CamtTransaction(amount=signed, acct_svcr_ref=_text(el, "AcctSvcrRef")))
    return CamtEntry(
        amount=signed,
        currency=amt_el.get("Ccy") or "",
        status=status,
        booking_date=_date(_text(el, "BookgDt", "Dt") or _text(el, "BookgDt", "DtTm")),
        value_date=_date(_text(el, "ValDt", "Dt") or _text(el, "ValDt", "DtTm")),
        reversal=(_text(el, "RvslInd") or "").lower() == "true",
        tx_type=tx_type,
        acct_svcr_ref=_text(el, "AcctSvcrRef"),
        info=_text(el, "AddtlNtryInf"),
        transactions=txs,
        locator=where,
    )


def _camt_from_stream(source: Path | IO[bytes], label: str) -> list[Statement]:
    statements: list[Statement] = []
    cur: dict[str, Any] = {"bals": {}, "entries": []}
    n_entries = 0
    saw_root = False
    for el in _iterparse(source, label, ("Ntry", "Bal", "Stmt", "Ntfctn", "Rpt", "Document")):
        name = _local(el.tag)
        if name == "Ntry":
            n_entries += 1
            cur["entries"].append(_camt_entry(el, label, f"Ntry[{n_entries}]"))
            el.clear(keep_tail=True)
        elif name == "Bal":
            code = _text(el, "Tp", "CdOrPrtry", "Cd") or _text(el, "Tp", "CdOrPrtry", "Prtry") or ""
            amt_el = _child(el, "Amt")
            if amt_el is None:
                raise InputError("balance without Amt", file=label, field=f"Bal[{code}]")
            value = _signed(_dec(amt_el.text, f"Bal[{code}]", label, "Amt"), _text(el, "CdtDbtInd"))
            cur["bals"][code] = (
                value,
                _date(_text(el, "Dt", "Dt") or _text(el, "Dt", "DtTm")),
                amt_el.get("Ccy"),
            )
        elif name in ("Stmt", "Ntfctn", "Rpt"):
            bals = cur["bals"]
            opening = bals.get("OPBD") or bals.get("PRCD") or bals.get("OPAV")
            closing = bals.get("CLBD") or bals.get("CLAV")
            account = _text(el, "Acct", "Id", "IBAN") or _text(el, "Acct", "Id", "Othr", "Id") or ""
            ccy = _text(el, "Acct", "Ccy") or (opening[2] if opening else None)
            if not ccy and cur["entries"]:
                ccy = cur["entries"][0].currency
            statements.append(
                Statement(
                    id=_text(el, "Id") or "",
                    account=_compact(account),
                    currency=ccy or "",
                    opening=opening[0] if opening else None,
                    closing=closing[0] if closing else None,
                    opening_date=opening[1] if opening else None,
                    closing_date=closing[1] if closing else None,
                    entries=cur["entries"],
                    file=label,
                    kind={"Stmt": "camt.053", "Ntfctn": "camt.054", "Rpt": "camt.052"}[name],
                )
            )
            cur = {"bals": {}, "entries": []}
            el.clear(keep_tail=True)
        elif name == "Document":
            saw_root = True
    if not saw_root and not statements:
        raise InputError("not a camt file (no ISO 20022 Document with Stmt/Ntfctn)", file=label)
    if not statements:
        raise InputError("camt file holds no statement (Stmt) or notification (Ntfctn)", file=label)
    return statements


def read_camt053(path: str | Path, *, max_zip_bytes: int = 256 * 1024**2) -> list[Statement]:
    """Statements in a camt.053 file (camt.052/054 too), or in every XML member of a .zip of them."""
    p = Path(path)
    _check_xml_file(p)
    with p.open("rb") as fh:
        head = fh.read(4)
    if head.startswith(b"PK\x03\x04"):
        out: list[Statement] = []
        try:
            with zipfile.ZipFile(p) as zf:
                infos = [i for i in zf.infolist() if not i.is_dir()]
                if sum(i.file_size for i in infos) > max_zip_bytes:
                    raise InputError("refused as a zip bomb: members expand too far", file=str(p))
                for info in sorted(infos, key=lambda i: i.filename):
                    with zf.open(info) as member:
                        out.extend(_camt_from_stream(member, f"{p}!{info.filename}"))
        except zipfile.BadZipFile as exc:
            raise InputError(f"corrupt zip archive: {exc}", file=str(p)) from exc
        return out
    return _camt_from_stream(p, str(p))


# ---------------------------------------------------------------- MT940

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
            expected = _IBAN_LENGTHS.get(acct[:2])
            if expected and len(acct) == expected + 3 and acct[-3:].isalpha():
                acct = acct[:-3]  # ING writes the currency after the IBAN
            st.account = _compact(acct)
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


def read_statement(path: str | Path) -> list[Statement]:
    """camt (XML or zip) or MT940, detected from the content."""
    p = Path(path)
    if not p.is_file():
        raise InputError("file not found", file=str(p))
    with p.open("rb") as fh:
        head = fh.read(256).lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith((b"<", b"PK\x03\x04")):
        return read_camt053(p)
    return read_mt940(p)


def write_camt053(
    path: str | Path,
    *,
    statement_id: str,
    account: str,
    currency: str,
    opening: Decimal,
    booking_date: date,
    entries: Sequence[tuple[Decimal, str | None, str | None]],
    closing: Decimal | None = None,
    created: datetime | None = None,
) -> Path:
    """Write a camt.053.001.02 statement: one Ntry per ``(signed amount, end_to_end_id, partner name)``.

    The closing balance is opening + credits - debits unless ``closing`` says otherwise (to build
    statements that do not balance, for tests).
    """
    created = created or datetime.now(UTC)
    total = sum((a for a, _, _ in entries), Decimal("0"))
    close = q2(opening + total) if closing is None else q2(closing)
    e = escape
    out = Path(path)
    tmp = out.with_name(out.name + ".tmp")

    def bal(code: str, amount: Decimal) -> str:
        ind = "DBIT" if amount < 0 else "CRDT"
        return (
            f'<Bal><Tp><CdOrPrtry><Cd>{code}</Cd></CdOrPrtry></Tp><Amt Ccy="{currency}">{q2(abs(amount))}</Amt>'
            f"<CdtDbtInd>{ind}</CdtDbtInd><Dt><Dt>{booking_date.isoformat()}</Dt></Dt></Bal>\n"
        )

    with tmp.open("w", encoding="utf-8") as fh:
        fh.write('<?xml version="1.0" encoding="UTF-8"?>\n')
        fh.write('<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">\n<BkToCstmrStmt>\n')
        fh.write(
            f"<GrpHdr><MsgId>{e(statement_id)}</MsgId><CreDtTm>{created.strftime('%Y-%m-%dT%H:%M:%S')}</CreDtTm>"
            f"</GrpHdr>\n<Stmt><Id>{e(statement_id)}</Id><CreDtTm>{created.strftime('%Y-%m-%dT%H:%M:%S')}</CreDtTm>"
            f"<Acct><Id><IBAN>{e(_compact(account))}</IBAN></Id><Ccy>{currency}</Ccy></Acct>\n"
        )
        fh.write(bal("OPBD", opening))
        fh.write(bal("CLBD", close))
        for amount, e2e, partner in entries:
            ind = "DBIT" if amount < 0 else "CRDT"
            party = ("Cdtr" if ind == "DBIT" else "Dbtr") if partner else None
            fh.write(
                f'<Ntry><Amt Ccy="{currency}">{q2(abs(amount))}</Amt><CdtDbtInd>{ind}</CdtDbtInd><Sts>BOOK</Sts>'
                f"<BookgDt><Dt>{booking_date.isoformat()}</Dt></BookgDt><ValDt><Dt>{booking_date.isoformat()}</Dt>"
                "</ValDt><BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>"
                + ("ICDT" if ind == "DBIT" else "RCDT")
                + "</Cd><SubFmlyCd>ESCT</SubFmlyCd></Fmly></Domn></BkTxCd><NtryDtls><TxDtls>"
                + (f"<Refs><EndToEndId>{e(e2e)}</EndToEndId></Refs>" if e2e else "")
                + f'<AmtDtls><TxAmt><Amt Ccy="{currency}">{q2(abs(amount))}</Amt></TxAmt></AmtDtls>'
                + (f"<RltdPties><{party}><Nm>{e(partner or '')}</Nm></{party}></RltdPties>" if party else "")
                + "</TxDtls></NtryDtls></Ntry>\n"
            )
        fh.write("</Stmt>\n</BkToCstmrStmt>\n</Document>\n")
    tmp.replace(out)
    return out
