"""Which reader a bank file needs, decided from its content (not its name).

A statement passed where a payment file is expected (or the other way round) is refused as what
it is ("this is a bank statement (camt.053), not a payment file"), and a NACHA file whose header
lost its trailing blanks is still NACHA, never a CSV.
"""

from __future__ import annotations

from pathlib import Path

from backoffice.errors import InputError
from connectors.bankfiles.camt import read_camt053
from connectors.bankfiles.mt940 import read_mt940
from connectors.bankfiles.nacha import read_nacha
from connectors.bankfiles.pain001 import read_pain001
from connectors.bankfiles.payment_csv import read_payment_csv
from connectors.bankfiles.payments import PaymentFile
from connectors.bankfiles.sniff import refuse_unless
from connectors.bankfiles.statements import Statement

__all__ = ["read_payment_file", "read_statement"]


def read_payment_file(path: str | Path) -> PaymentFile:
    """pain.001 (XML), NACHA ('101' file header, trimmed or one-line too), else a payment CSV/xlsx."""
    p = Path(path)
    if not p.is_file():
        raise InputError("file not found", file=str(p))
    kind = refuse_unless(p, "payments")
    if kind == "nacha":
        return read_nacha(p)
    if kind in ("pain.001", "xml"):
        return read_pain001(p)
    if kind == "pain.008":
        raise InputError("this is a direct debit (pain.008), not a credit transfer file", file=str(p))
    return read_payment_csv(p)


def read_statement(path: str | Path) -> list[Statement]:
    """camt.052/053/054 (XML or zip) or MT940, detected from the content."""
    p = Path(path)
    if not p.is_file():
        raise InputError("file not found", file=str(p))
    kind = refuse_unless(p, "statement")
    if kind is None:
        with p.open("rb") as fh:
            head = fh.read(40).decode("utf-8", "replace").strip()
        if head:
            raise InputError(
                f"not a bank statement (camt.052/053/054 XML or MT940): starts with {head[:20]!r}",
                file=str(p),
                row=1,
                code="NOT-STATEMENT",
            )
    if kind is not None and (kind.startswith("camt") or kind in ("xml", "zip")):
        return read_camt053(p)
    return read_mt940(p)
