"""MT940 statements and MT942 interim reports, as banks really send them.

Read leniently, each guess reported as a :class:`~connectors.bankfiles.notices.Notice` on the
statement (``Statement.warnings``):

- header lines before ``:20:`` and between messages (ABN AMRO ``ABNANL2A`` / ``940``, Rabobank
  ``:940:``, ``940 00``, ``0000 ...``, the SWIFT envelope ``{1:..}{2:..}{3:..}{4:`` ... ``-}{5:..}``),
  also when the next message's header is glued onto the end of the last line of the previous one;
- control bytes (mBank's ``\\x01`` ... ``\\x03``, a trailing Ctrl-Z) anywhere;
- ``:61:`` transaction type codes with spaces (``S   X``) or any first letter (``MCI0``), a funds
  code, an entry date of blanks; amounts without a decimal comma (Knab ``C500``:
  ``MT940-AMOUNT-NO-COMMA``);
- impossible dates (30 February) read as the month's last day (``MT940-DATE-ADJUSTED``), as the
  ``mt-940`` library reads them;
- a balance without its currency code (``C020315105000,00``) in the statement's currency
  (``MT940-NO-CURRENCY``; a reader that takes ``105`` for the currency misreads the amount).

Refused, as an :class:`InputError` naming file, line and code: a file with no ``:20:`` (not MT940,
or an MT940 fragment), a statement without an opening (``MT940-NO-OPENING``) or closing balance
(``MT940-NO-CLOSING``: a truncated statement is not balanced quietly as "unknown"), a malformed
amount, date or ``:61:`` line. An MT942 interim report (``{2:O942``, or ``:34F:``/``:13D:``) has
no balances by design; its statements have ``kind="mt942"``.

Signs: + credit, - debit; ``RC`` (reversal of a credit) is a debit, ``RD`` a credit.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path

from backoffice.errors import InputError
from connectors.bankfiles.accounts import compact_account, iban_length
from connectors.bankfiles.notices import Notice
from connectors.bankfiles.statements import CamtEntry, CamtTransaction, Statement

__all__ = ["read_mt940"]

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_TAG = re.compile(r"^:(\d{2}[A-Z]?|NS):(.*)$")
# where a glued envelope starts: "...EUR876,84-}{5:}{1:F01..." -> "...EUR876,84" | "-}" | "{5:}" | "{1:F01..."
_GLUE = re.compile(r"(?=-\}(?:\{|$))|(?=\{[1-5]:)")
_SKIP = re.compile(r"^(0000 |940 00)")
_AMOUNT = re.compile(r"^\d+(?:,\d*)?$")
_BAL = re.compile(r"^([CD])(\d{6})([A-Z]{3})?(\d[\d,]*)$")
_LINE61 = re.compile(
    r"^(?P<vdate>\d{6})(?P<edate>\d{4}| {4})?(?P<dc>R?[CD])(?P<fund>[A-Z])?\s?(?P<amount>\d[\d,]{0,14})"
    r"(?P<type>[A-Z][A-Z0-9 ]{3})?(?P<cref>(?:(?!//).)*)(?://(?P<bref>.*))?$"
)
_BALANCE_TAGS = ("60F", "60M", "62F", "62M", "64", "65")
_MT942_TAGS = ("34F", "13D", "13", "90D", "90C")
# after these, a line that is not a tag is the next message's header, never a continuation
_CLOSING_TAGS = ("62F", "62M", "64", "65")


@dataclass
class _Field:
    tag: str
    value: str
    line: int


@dataclass
class _Reader:
    label: str
    mt942_file: bool
    statements: list[Statement] = field(default_factory=list)
    st: Statement | None = None
    last_entry: CamtEntry | None = None

    def error(
        self, message: str, line: int | None, tag: str | None = None, code: str = "INPUT"
    ) -> InputError:
        return InputError(message, file=self.label, row=line, field=tag, code=code)

    def warn(self, code: str, message: str, line: int, tag: str) -> None:
        if self.st is not None:
            self.st.warnings.append(Notice(code, message, line=line, field=tag))

    # ------------------------------------------------------------ values

    def amount(self, text: str, line: int, tag: str) -> Decimal:
        if not _AMOUNT.match(text):
            raise self.error(f"not an amount: {text!r}", line, tag)
        if "," not in text:
            self.warn(
                "MT940-AMOUNT-NO-COMMA", f"amount {text!r} has no decimal comma: read as {text}", line, tag
            )
        return Decimal(text.replace(",", ".").rstrip(".") or "0")

    def day(self, year: int, month: int, day: int, text: str, line: int, tag: str) -> date:
        if not (1 <= month <= 12 and 1 <= day <= 31):
            raise self.error(f"not a date: {text!r}", line, tag)
        last = calendar.monthrange(year, month)[1]
        if day > last:
            fixed = date(year, month, last)
            self.warn(
                "MT940-DATE-ADJUSTED", f"impossible date {text!r} read as {fixed.isoformat()}", line, tag
            )
            return fixed
        return date(year, month, day)

    def yymmdd(self, text: str, line: int, tag: str) -> date:
        yy = int(text[:2])
        year = 1900 + yy if yy >= 70 else 2000 + yy
        return self.day(year, int(text[2:4]), int(text[4:6]), text, line, tag)

    # ------------------------------------------------------------ tags

    def start(self, value: str, line: int) -> None:
        self.finish()
        self.st = Statement(
            id=value.replace("\n", "").strip(),
            account="",
            currency="",
            opening=None,
            closing=None,
            file=self.label,
            kind="mt942" if self.mt942_file else "mt940",
            line=line,
        )
        self.last_entry = None

    def finish(self) -> None:
        st = self.st
        if st is None:
            return
        self.statements.append(st)
        if st.kind == "mt942":
            return
        name = f"statement {st.id!r} (line {st.line})"
        if st.opening is None:
            raise self.error(
                f"{name} has no opening balance (:60F:/:60M:)", st.line, "60F", "MT940-NO-OPENING"
            )
        if st.closing is None:
            raise self.error(
                f"{name} has no closing balance (:62F:/:62M:): the statement is truncated or incomplete",
                st.line,
                "62F",
                "MT940-NO-CLOSING",
            )

    def balance(self, st: Statement, tag: str, value: str, line: int) -> None:
        m = _BAL.match(value.replace("\n", "").strip())
        if not m:
            raise self.error(f"malformed balance {value!r}", line, tag)
        dc, when_text, ccy, amount_text = m.groups()
        amount = self.amount(amount_text, line, tag)
        amount = -amount if dc == "D" else amount
        when = self.yymmdd(when_text, line, tag)
        if ccy is None:
            if not st.currency:
                raise self.error(f"balance {value!r} has no currency code", line, tag)
            self.warn(
                "MT940-NO-CURRENCY",
                f"balance {value!r} has no currency code: read in {st.currency}",
                line,
                tag,
            )
        else:
            st.currency = st.currency or ccy
        if tag.startswith("60"):
            st.opening, st.opening_date = amount, when
        elif tag.startswith("62"):
            st.closing, st.closing_date = amount, when
        elif tag == "64":
            st.available = amount

    def line61(self, st: Statement, value: str, line: int) -> None:
        head, _, rest = value.partition("\n")
        m = _LINE61.match(head.strip())
        if not m:
            raise self.error(f"malformed :61: statement line {head!r}", line, "61")
        amount = self.amount(m.group("amount"), line, "61")
        dc = m.group("dc")
        signed = -amount if dc in ("D", "RC") else amount
        vdate = self.yymmdd(m.group("vdate"), line, "61")
        bdate = vdate
        edate = (m.group("edate") or "").strip()
        if edate:
            month, day = int(edate[:2]), int(edate[2:])
            # the entry date has no year: the one nearest the value date (Dec 31 value, Jan 2 entry)
            year = vdate.year + (1 if month - vdate.month < -6 else -1 if month - vdate.month > 6 else 0)
            bdate = self.day(year, month, day, edate, line, "61")
        cref = (m.group("cref") or "").strip() or None
        self.last_entry = CamtEntry(
            amount=signed,
            currency=st.currency,
            status="BOOK",
            booking_date=bdate,
            value_date=vdate,
            reversal=dc.startswith("R"),
            tx_type=(m.group("type") or "").strip() or None,
            acct_svcr_ref=(m.group("bref") or "").strip() or None,
            info=rest.strip() or None,
            transactions=[CamtTransaction(amount=signed, end_to_end_id=None if cref == "NONREF" else cref)],
            locator=f"line {line}",
        )
        st.entries.append(self.last_entry)

    def info86(self, entry: CamtEntry, value: str) -> None:
        info = value.strip()
        entry.info = (entry.info + "\n" + info) if entry.info else info
        tx = entry.transactions[0]
        flat = info.replace("\n", "")
        if _GERMAN_86.match(flat):
            _german_details(tx, flat)
            return
        eref = re.search(r"/EREF/([^/]+)", flat) or re.search(r"\?2\dEREF\+(.+?)(?:\?2\d|$)", flat)
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

    def take(self, f: _Field) -> None:
        tag, value, no = f.tag, re.sub(r"\n-$", "", f.value), f.line
        if tag == "20":
            self.start(value, no)
            return
        st = self.st
        if st is None:
            if tag == "NS":
                return
            raise self.error(f"tag :{tag}: before the first :20:", no, tag)
        if tag == "25":
            acct = value.strip().split()[0] if value.strip() else ""
            expected = iban_length(acct[:2])
            if expected and len(acct) == expected + 3 and acct[-3:].isalpha():
                acct = acct[:-3]  # ING writes the currency after the IBAN
            st.account = compact_account(acct)
        elif tag in ("28C", "28"):
            st.id = f"{st.id}/{value.replace(chr(10), '').strip()}"
        elif tag in _BALANCE_TAGS:
            self.balance(st, tag, value, no)
        elif tag == "61":
            self.line61(st, value, no)
        elif tag == "86" and self.last_entry is not None:
            self.info86(self.last_entry, value)
            self.last_entry = None
        elif tag == "NS" and self.last_entry is not None:
            info = value.strip()
            self.last_entry.info = (self.last_entry.info + "\n" + info) if self.last_entry.info else info
        elif tag in _MT942_TAGS:
            st.kind = "mt942"
            if tag == "34F" and not st.currency and re.match(r"^[A-Z]{3}", value):
                st.currency = value[:3]
        # :21:, :64:/:65: handled above; statement-level :86: carries no entry


# German banks' structured :86: ("Strukturierter Verwendungszweck"): a 3-digit business code, then
# ?NN sub-fields: ?00 posting text, ?20-?29 purpose (with SEPA keys EREF+, SVWZ+, ...), ?30 bank
# code/BIC, ?31 account/IBAN, ?32-?33 name, ?60-?63 more purpose
_GERMAN_86 = re.compile(r"^\d{3}\?\d{2}")
_SUBFIELD = re.compile(r"\?(\d{2})((?:(?!\?\d{2}).)*)")
_SEPA_KEY = re.compile(
    r"(EREF|KREF|MREF|CRED|DEBT|SVWZ|ABWA|ABWE|IBAN|BIC |PURP|MDAT|SQTP|ORCR|ORMR|DDAT|COAM|OAMT)\+"
)


def _german_details(tx: CamtTransaction, flat: str) -> None:
    sub: dict[str, str] = {}
    for key, text in _SUBFIELD.findall(flat):
        sub[key] = sub.get(key, "") + text
    purpose = "".join(sub.get(f"2{i}", "") for i in range(10))
    more = "".join(sub.get(f"6{i}", "") for i in range(4)).strip()
    name = (sub.get("32", "") + sub.get("33", "")).strip()
    tx.partner_name = tx.partner_name or name or None
    tx.partner_account = tx.partner_account or sub.get("31", "").strip() or None
    parts: dict[str, str] = {}
    marks = list(_SEPA_KEY.finditer(purpose))
    for i, m in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(purpose)
        parts[m.group(1).strip()] = purpose[m.end() : end].strip()
    eref = parts.get("EREF")
    if eref and eref.upper() != "NOTPROVIDED":
        tx.end_to_end_id = eref
    text = parts.get("SVWZ") or (purpose[: marks[0].start()] if marks else purpose).strip()
    text = " ".join(t for t in (text, more) if t)
    tx.remittance = tx.remittance or text or None


def _fields(text: str) -> list[_Field]:
    """Tag fields with their continuation lines joined by newlines; header lines dropped."""
    fields: list[_Field] = []
    in_message = False
    for no, raw in enumerate(text.splitlines(), start=1):
        for part in _GLUE.split(_CONTROL.sub("", raw).rstrip()):
            s = part
            if s.startswith("{4:"):
                s = s[3:].strip()
                in_message = True
                if not s:
                    continue
            if not s:
                continue
            m = _TAG.match(s)
            if m:
                fields.append(_Field(m.group(1), m.group(2), no))
                in_message = True
                continue
            if s.startswith(("{", "}", "-}")) or s in ("-", "-XXX") or _SKIP.match(s):
                in_message = False
                continue
            if in_message and fields and fields[-1].tag not in _CLOSING_TAGS:
                fields[-1].value += "\n" + s
            # else: a bank's header line (ABNANL2A, 940, :940:, :9401:) before or between messages
    return fields


def read_mt940(path: str | Path) -> list[Statement]:
    """Statements in an MT940 (or MT942) file; see the module docstring for what is read leniently."""
    p = Path(path)
    label = str(p)
    if not p.is_file():
        raise InputError("file not found", file=label)
    raw = p.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    if not text.strip():
        raise InputError("the file is empty", file=label)
    fields = _fields(text)
    if not any(f.tag == "20" for f in fields):
        first = next((ln.strip() for ln in _CONTROL.sub("", text).splitlines() if ln.strip()), "")
        if fields:
            raise InputError(
                f"an MT940 fragment, not a statement: no :20: transaction reference (first tag :{fields[0].tag}:)",
                file=label,
                row=fields[0].line,
                code="MT940-NO-STATEMENT",
            )
        raise InputError(f"not an MT940 file (starts with {first[:20]!r})", file=label, row=1)
    head = text[:512]
    reader = _Reader(label, mt942_file=bool(re.search(r"\{2:[IO]942", head)))
    for f in fields:
        reader.take(f)
    reader.finish()
    return reader.statements
