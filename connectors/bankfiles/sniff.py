"""What kind of bank file this is, from its first bytes: so a statement given as a payment file (or
the other way round) is refused as what it is, not with a parse error about a missing element."""

from __future__ import annotations

import re
from pathlib import Path

from backoffice.errors import InputError
from connectors.bankfiles.nacha import looks_like_nacha

__all__ = ["PAYMENT_FORMATS", "STATEMENT_FORMATS", "refuse_unless", "sniff"]

STATEMENT_FORMATS = frozenset({"camt.052", "camt.053", "camt.054", "mt940", "zip"})
PAYMENT_FORMATS = frozenset({"pain.001", "nacha"})

_XML_ROOTS = (
    (b"CstmrCdtTrfInitn", "pain.001"),
    (b"CstmrDrctDbtInitn", "pain.008"),
    (b"BkToCstmrStmt", "camt.053"),
    (b"BkToCstmrAcctRpt", "camt.052"),
    (b"BkToCstmrDbtCdtNtfctn", "camt.054"),
    (b"pain.001.", "pain.001"),
    (b"camt.053.", "camt.053"),
    (b"camt.052.", "camt.052"),
    (b"camt.054.", "camt.054"),
)
_MT940 = re.compile(rb"(^|[\r\n{])(:20:|\{1:F01|\{2:[IO]94[02])")


def sniff(path: str | Path) -> str | None:
    """``pain.001``, ``pain.008``, ``camt.052/053/054``, ``xml`` (other), ``zip``, ``nacha``, ``mt940`` or None."""
    with Path(path).open("rb") as fh:
        head = fh.read(8192)
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if stripped.startswith(b"PK\x03\x04"):
        return "zip"
    if stripped.startswith(b"<"):
        for marker, kind in _XML_ROOTS:
            if marker in head:
                return kind
        return "xml"
    first = stripped.split(b"\n", 1)[0].rstrip(b"\r")
    if looks_like_nacha(first) or (len(first) == 94 and first[:1] in b"56789" and first[1:4].isdigit()):
        return "nacha"  # a 94-character batch/entry/control record without its file header is NACHA too
    if _MT940.search(head[:4096]):
        return "mt940"
    return None


_NAMES = {"mt940": "MT940", "nacha": "NACHA", "zip": "zip archive"}


def refuse_unless(path: str | Path, wanted: str) -> str | None:
    """Raise when ``path`` is clearly the other kind of bank file; return what it sniffed as."""
    kind = sniff(path)
    if kind is None:
        return None
    name = _NAMES.get(kind, kind)
    if wanted == "payments" and kind in STATEMENT_FORMATS - {"zip"}:
        raise InputError(
            f"this is a bank statement ({name}), not a payment file", file=str(path), code="NOT-PAYMENT-FILE"
        )
    if wanted == "statement" and (kind in PAYMENT_FORMATS or kind == "pain.008"):
        raise InputError(
            f"this is a payment file ({name}), not a bank statement", file=str(path), code="NOT-STATEMENT"
        )
    return kind
