"""pain.001 customer credit transfers (any 001.001.xx version), read streaming with flat memory."""

from __future__ import annotations

import sys
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from backoffice.errors import InputError
from backoffice.money import q2
from connectors.bankfiles._xml import (
    check_xml_file,
    decimal_of,
    intern_text,
    iterparse,
    local,
    text_of,
)
from connectors.bankfiles.accounts import compact_account
from connectors.bankfiles.payments import Payment, PaymentFile
from connectors.bankfiles.sniff import refuse_unless

__all__ = ["read_pain001"]

# What a transaction (CdtTrfTxInf) is read for, as local-name paths below it: a trie walked once
# per transaction instead of one ElementPath search per field (lxml's find is Python code; seven
# of them were most of the reading time of a large salary file).
_WANTED = (
    ("Amt", "InstdAmt"),
    ("PmtId", "EndToEndId"),
    ("Cdtr", "Nm"),
    ("CdtrAcct", "Id", "IBAN"),
    ("CdtrAcct", "Id", "Othr", "Id"),
    ("CdtrAgt", "FinInstnId", "BIC"),
    ("CdtrAgt", "FinInstnId", "BICFI"),
    ("RmtInf", "Ustrd"),
)
_AMOUNTS_REMEMBERED = 1_000_000  # distinct amount texts shared per file (the memo stays bounded)
_END = ""  # marks a wanted path in the trie (no element has an empty local name)


def _trie(paths: tuple[tuple[str, ...], ...]) -> dict[str, Any]:
    root: dict[str, Any] = {}
    for path in paths:
        node = root
        for name in path:
            node = node.setdefault(name, {})
        node[_END] = path
    return root


_TRIE = _trie(_WANTED)


def _collect(el: Any, trie: dict[str, Any], found: dict[tuple[str, ...], Any]) -> None:
    """The first element along each wanted path below ``el``, in document order: what
    ``child(el, *path)`` (ElementPath ``find`` over ``{*}`` names) finds for each path."""
    for c in el:
        tag = c.tag
        if tag.__class__ is not str:  # a comment or processing instruction
            continue
        sub = trie.get(tag[tag.rfind("}") + 1 :])
        if sub is None:
            continue
        path = sub.get(_END)
        if path is not None and path not in found:
            found[path] = c
        if len(sub) > (path is not None):
            _collect(c, sub, found)


def _text(found: dict[tuple[str, ...], Any], path: tuple[str, ...]) -> str | None:
    """``text_of(el, *path)`` from what :func:`_collect` found."""
    node = found.get(path)
    if node is None or node.text is None:
        return None
    t = node.text.strip()
    return t or None


def read_pain001(path: str | Path) -> PaymentFile:
    """Read a pain.001 customer credit transfer (any 001.001.xx version), streaming."""
    p = Path(path)
    check_xml_file(p)
    refuse_unless(p, "payments")
    label = str(p)
    pf = PaymentFile("pain.001", label)
    root_seen = False
    batch_payments = 0
    batch_total = Decimal("0")
    tx_no = 0
    amounts: dict[str, Decimal] = {}
    for el in iterparse(p, label, ("CdtTrfTxInf", "PmtInf", "GrpHdr", "ReqdExctnDt")):
        name = local(el.tag)
        root_seen = True
        if name == "CdtTrfTxInf":
            tx_no += 1
            where = f"CdtTrfTxInf[{tx_no}]"
            found: dict[tuple[str, ...], Any] = {}
            _collect(el, _TRIE, found)
            amt_el = found.get(_WANTED[0])
            if amt_el is None:
                raise InputError("no Amt/InstdAmt", file=label, field=where)
            text = amt_el.text
            amount = amounts.get(text) if text is not None else None
            if amount is None:  # one Decimal per distinct amount text (immutable, shared by its payments)
                amount = decimal_of(text, where, label, "Amt/InstdAmt")
                if text is not None and len(amounts) < _AMOUNTS_REMEMBERED:
                    amounts[text] = amount
            iban = _text(found, _WANTED[3]) or _text(found, _WANTED[4]) or ""
            pf.payments.append(
                Payment(
                    end_to_end_id=_text(found, _WANTED[1]) or "",
                    name=_text(found, _WANTED[2]) or "",
                    account=compact_account(iban),
                    amount=amount,
                    currency=sys.intern(amt_el.get("Ccy") or ""),
                    bic=_text(found, _WANTED[5]) or _text(found, _WANTED[6]),
                    remittance=intern_text(_text(found, _WANTED[7])),
                    locator=where,
                )
            )
            batch_payments += 1
            batch_total += amount
            el.clear(keep_tail=True)
            prev = el.getprevious()
            while prev is not None and local(prev.tag) == "CdtTrfTxInf":  # keep memory flat
                el.getparent().remove(prev)
                prev = el.getprevious()
        elif name == "ReqdExctnDt":
            txt = text_of(el) or text_of(el, "Dt")
            if txt and pf.execution_date is None:
                try:
                    pf.execution_date = date.fromisoformat(txt[:10])
                except ValueError:
                    raise InputError(f"not a date: {txt!r}", file=label, field="PmtInf/ReqdExctnDt") from None
        elif name == "PmtInf":
            pid = text_of(el, "PmtInfId") or f"PmtInf[{len(pf.batches) + 1}]"
            n = text_of(el, "NbOfTxs")
            s = text_of(el, "CtrlSum")
            batch: dict[str, Any] = {
                "id": pid,
                "declared_count": int(n) if n and n.isdigit() else None,
                "declared_total": decimal_of(s, pid, label, "CtrlSum") if s else None,
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
            n = text_of(el, "NbOfTxs")
            s = text_of(el, "CtrlSum")
            if n is None:
                raise InputError("GrpHdr has no NbOfTxs", file=label, field="GrpHdr/NbOfTxs")
            if not n.isdigit():
                raise InputError(f"NbOfTxs is not a number: {n!r}", file=label, field="GrpHdr/NbOfTxs")
            pf.declared_count = int(n)
            pf.declared_total = decimal_of(s, "GrpHdr", label, "CtrlSum") if s is not None else None
    if not root_seen:
        raise InputError("not a pain.001 file (no GrpHdr or CdtTrfTxInf)", file=label)
    if pf.declared_count is None:
        raise InputError("not a pain.001 file (no GrpHdr)", file=label)
    return pf
