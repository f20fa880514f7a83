"""What every report file shares: cells made safe, the file written and its export audited."""

from __future__ import annotations

import hashlib
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from backoffice.audit import AuditEntry, record
from backoffice.safety import neutralise_formula
from backoffice.store import Store
from backoffice.users import User

__all__ = ["cell", "write_audited"]


def cell(v: Any) -> Any:
    """A value as a spreadsheet cell: numbers as numbers, times as ISO text, any text neutralised."""
    if v is None:
        return ""
    if isinstance(v, bool | int | float | Decimal):
        return v
    if isinstance(v, datetime):
        return v.isoformat(timespec="seconds")
    return neutralise_formula(str(v))


def write_audited(
    store: Store, user: User, report: str, out: Path | str, data: bytes, details: dict[str, Any]
) -> str:
    """Write ``data`` to ``out`` (a path; a plain name: a download, not written here) and audit
    the export (``report.export``: report, file name, sha256, size and ``details``); returns the
    sha256."""
    if isinstance(out, Path):
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(data)
    name = out.name if isinstance(out, Path) else out
    digest = hashlib.sha256(data).hexdigest()
    record(
        store,
        AuditEntry(
            actor=user.name,
            role=user.role,
            action="report.export",
            subject=f"report:{report}",
            data={"report": report, "file": name, "sha256": digest, "bytes": len(data), **details},
            outcome="exported",
        ),
    )
    return digest
