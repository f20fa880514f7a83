"""Which reader a bank file needs, decided from its first bytes (not its name)."""

from __future__ import annotations

from pathlib import Path

from backoffice.errors import InputError
from connectors.bankfiles.camt import read_camt053
from connectors.bankfiles.mt940 import read_mt940
from connectors.bankfiles.nacha import read_nacha
from connectors.bankfiles.pain001 import read_pain001
from connectors.bankfiles.payment_csv import read_payment_csv
from connectors.bankfiles.payments import PaymentFile
from connectors.bankfiles.statements import Statement

__all__ = ["read_payment_file", "read_statement"]


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
