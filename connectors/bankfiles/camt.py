"""camt.053 statements (camt.052 reports and camt.054 notifications too), plain XML or a .zip of them."""

from __future__ import annotations

import zipfile
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

from backoffice.errors import InputError
from connectors.bankfiles._xml import check_xml_file, child, children, decimal_of, iterparse, local, text_of
from connectors.bankfiles.accounts import compact_account
from connectors.bankfiles.notices import Notice
from connectors.bankfiles.sniff import refuse_unless
from connectors.bankfiles.statements import CamtEntry, CamtTransaction, Statement

__all__ = ["read_camt053"]


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
    amt_el = child(el, "Amt")
    if amt_el is None:
        raise InputError("entry without Amt", file=label, field=where)
    amount = decimal_of(amt_el.text, where, label, "Amt")
    ind = text_of(el, "CdtDbtInd")
    if ind not in ("CRDT", "DBIT"):
        raise InputError(
            f"CdtDbtInd must be CRDT or DBIT, got {ind!r}", file=label, field=f"{where}/CdtDbtInd"
        )
    signed = _signed(amount, ind)
    status = text_of(el, "Sts") or text_of(el, "Sts", "Cd") or ""
    dom = child(el, "BkTxCd", "Domn")
    tx_type = None
    if dom is not None:
        parts = [text_of(dom, "Cd"), text_of(dom, "Fmly", "Cd"), text_of(dom, "Fmly", "SubFmlyCd")]
        tx_type = "-".join(x for x in parts if x)
    txs: list[CamtTransaction] = []
    details = children(child(el, "NtryDtls"), "TxDtls")
    for i, tx in enumerate(details, start=1):
        tx_amt_el = child(tx, "AmtDtls", "TxAmt", "Amt")
        if tx_amt_el is None:
            tx_amt_el = child(tx, "Amt")
        tx_ind = text_of(tx, "CdtDbtInd") or ind
        if tx_amt_el is not None:
            tx_amount = _signed(decimal_of(tx_amt_el.text, f"{where}/TxDtls[{i}]", label, "Amt"), tx_ind)
        else:
            tx_amount = signed if len(details) == 1 else Decimal("0")
        debit = (tx_ind or ind) == "DBIT"
        # the counterparty: the creditor of a debit, the debtor of a credit; never our own side
        first = "Cdtr" if debit else "Dbtr"
        name = text_of(tx, "RltdPties", first, "Nm") or text_of(tx, "RltdPties", first, "Pty", "Nm")
        acct = text_of(tx, "RltdPties", f"{first}Acct", "Id", "IBAN") or text_of(
            tx, "RltdPties", f"{first}Acct", "Id", "Othr", "Id"
        )
        ustrd = [text_of(u) for u in children(child(tx, "RmtInf"), "Ustrd")]
        txs.append(
            CamtTransaction(
                amount=tx_amount,
                end_to_end_id=text_of(tx, "Refs", "EndToEndId"),
                instr_id=text_of(tx, "Refs", "InstrId"),
                acct_svcr_ref=text_of(tx, "Refs", "AcctSvcrRef"),
                structured_ref=text_of(tx, "RmtInf", "Strd", "CdtrRefInf", "Ref"),
                partner_name=name,
                partner_account=acct,
                remittance=" ".join(u for u in ustrd if u) or text_of(tx, "AddtlTxInf"),
            )
        )
    if not txs:
        txs.append(CamtTransaction(amount=signed, acct_svcr_ref=text_of(el, "AcctSvcrRef")))
    return CamtEntry(
        amount=signed,
        currency=amt_el.get("Ccy") or "",
        status=status,
        booking_date=_date(text_of(el, "BookgDt", "Dt") or text_of(el, "BookgDt", "DtTm")),
        value_date=_date(text_of(el, "ValDt", "Dt") or text_of(el, "ValDt", "DtTm")),
        reversal=(text_of(el, "RvslInd") or "").lower() == "true",
        tx_type=tx_type,
        acct_svcr_ref=text_of(el, "AcctSvcrRef"),
        info=text_of(el, "AddtlNtryInf"),
        transactions=txs,
        locator=where,
    )


def _camt_from_stream(source: Path | IO[bytes], label: str) -> list[Statement]:
    statements: list[Statement] = []
    cur: dict[str, Any] = {"bals": {}, "entries": []}
    n_entries = 0
    saw_root = False
    for el in iterparse(source, label, ("Ntry", "Bal", "Stmt", "Ntfctn", "Rpt", "Document")):
        name = local(el.tag)
        if name == "Ntry":
            n_entries += 1
            cur["entries"].append(_camt_entry(el, label, f"Ntry[{n_entries}]"))
            el.clear(keep_tail=True)
        elif name == "Bal":
            code = text_of(el, "Tp", "CdOrPrtry", "Cd") or text_of(el, "Tp", "CdOrPrtry", "Prtry") or ""
            amt_el = child(el, "Amt")
            if amt_el is None:
                raise InputError("balance without Amt", file=label, field=f"Bal[{code}]")
            value = _signed(decimal_of(amt_el.text, f"Bal[{code}]", label, "Amt"), text_of(el, "CdtDbtInd"))
            cur["bals"][code] = (
                value,
                _date(text_of(el, "Dt", "Dt") or text_of(el, "Dt", "DtTm")),
                amt_el.get("Ccy"),
            )
        elif name in ("Stmt", "Ntfctn", "Rpt"):
            bals = cur["bals"]
            kind = {"Stmt": "camt.053", "Ntfctn": "camt.054", "Rpt": "camt.052"}[name]
            sid = text_of(el, "Id") or ""
            opening = bals.get("OPBD") or bals.get("PRCD")
            closing = bals.get("CLBD")
            available = bals.get("CLAV")
            warnings: list[Notice] = []
            if kind == "camt.053" and closing is None:
                also = "; its closing available balance (CLAV) is not a booked balance" if available else ""
                warnings.append(
                    Notice(
                        "CAMT-NO-CLBD",
                        f"statement {sid!r} has no booked closing balance (CLBD){also}: its balance is not checked",
                        field="Bal/Tp/CdOrPrtry/Cd",
                    )
                )
            if kind == "camt.053" and opening is None and bals.get("OPAV"):
                warnings.append(
                    Notice(
                        "CAMT-NO-OPBD",
                        f"statement {sid!r} has no booked opening balance (OPBD/PRCD), only OPAV",
                        field="Bal/Tp/CdOrPrtry/Cd",
                    )
                )
            account = text_of(el, "Acct", "Id", "IBAN") or text_of(el, "Acct", "Id", "Othr", "Id") or ""
            ccy = text_of(el, "Acct", "Ccy") or (opening[2] if opening else None)
            if not ccy and cur["entries"]:
                ccy = cur["entries"][0].currency
            statements.append(
                Statement(
                    id=sid,
                    account=compact_account(account),
                    currency=ccy or "",
                    opening=opening[0] if opening else None,
                    closing=closing[0] if closing else None,
                    opening_date=opening[1] if opening else None,
                    closing_date=closing[1] if closing else None,
                    entries=cur["entries"],
                    file=label,
                    kind=kind,
                    available=available[0] if available else None,
                    warnings=warnings,
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
    check_xml_file(p)
    refuse_unless(p, "statement")
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
