"""Exporting a queue view to xlsx or CSV: the rows the filters select, as the reader sees them.

Masked as in every list (:class:`backoffice.pii.Masking`: personal values ``•••``, bank accounts
and national ids by their last 4; no one's need to know reaches an export), every text cell
through the one formula neutraliser (:func:`backoffice.safety.neutralise_formula`), so a vendor
called ``=HYPERLINK(...)`` stays text. Each export is audited (``queue.exported``: who, the
filters, the format and the row count).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from backoffice.audit import AuditEntry, record
from backoffice.errors import InputError
from backoffice.pii import Masking
from backoffice.queue.queries import list_items
from backoffice.queue.views import QueueItem
from backoffice.safety import neutralise_formula
from backoffice.store import Store
from backoffice.users import Action, require

__all__ = ["COLUMNS", "FORMATS", "MAX_ROWS", "export_rows", "export_view", "to_csv", "to_xlsx"]

FORMATS = ("xlsx", "csv")
MAX_ROWS = 100_000
COLUMNS = (
    "id",
    "bot",
    "title",
    "status",
    "kind",
    "codes",
    "violations",
    "priority",
    "owner_role",
    "tier",
    "assignee",
    "assigned_to",
    "amount",
    "currency",
    "sla_state",
    "due_at",
    "queued_at",
    "postponed_until",
)


def export_rows(rows: Iterable[QueueItem], payloads: Mapping[int, Any] | None = None) -> list[list[Any]]:
    """The export's rows (without the header), masked; amounts as Decimal when shown."""
    masking = Masking()
    out: list[list[Any]] = []
    for it in rows:
        d = it.to_dict(masking=masking)
        payload = (payloads or {}).get(it.id, it.row.get("payload"))
        messages = "; ".join(f"{v.get('code')}: {v.get('message')}" for v in d["violations"] or [])
        amount: Any = d["amount"]
        if amount is not None:
            try:
                amount = Decimal(str(amount))
            except InvalidOperation:
                amount = str(amount)  # masked
        postponed = it.row.get("postponed_until")
        out.append(
            [
                d["id"],
                d["bot"],
                masking.title(d["bot"], payload),
                d["status"],
                d["kind"],
                " ".join(d["codes"]),
                messages,
                d["priority"],
                d["owner_role"],
                d["tier"],
                d["assignee"],
                it.row.get("assigned_to"),
                amount,
                d["currency"],
                d["sla_state"],
                d["due_at"],
                d["queued_at"],
                postponed.isoformat() if postponed else None,
            ]
        )
    return out


def _cell(v: Any) -> Any:
    if v is None:
        return ""
    if isinstance(v, bool | int | Decimal):
        return v
    return neutralise_formula(str(v))


def to_csv(rows: list[list[Any]]) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(COLUMNS)
    for r in rows:
        w.writerow([_cell(v) for v in r])
    return buf.getvalue().encode("utf-8-sig")  # the BOM makes spreadsheets read UTF-8


def to_xlsx(rows: list[list[Any]]) -> bytes:
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("queue")
    ws.append(list(COLUMNS))
    for r in rows:
        ws.append([_cell(v) for v in r])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def export_view(
    store: Store,
    user_name: str,
    fmt: str,
    *,
    filters: Mapping[str, Any] | None = None,
    sort: str = "due",
    rows: list[QueueItem] | None = None,
    out: Path | None = None,
) -> tuple[bytes, int]:
    """The view selected by ``filters`` (core filter names, as ``Queue.list`` takes them), or the
    given ``rows``, as ``fmt`` bytes (written to ``out`` when given); returns (bytes, row count)."""
    if fmt not in FORMATS:
        raise InputError(f"export format must be one of {', '.join(FORMATS)}, got {fmt!r}", field="format")
    user = require(store, user_name, Action.READ_QUEUE, "queue:export")
    where = dict(filters or {})
    if rows is None:
        rows = list_items(store, limit=MAX_ROWS, sort=sort, **where)
    table = export_rows(rows)
    data = to_xlsx(table) if fmt == "xlsx" else to_csv(table)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(data)
    record(
        store,
        AuditEntry(
            actor=user.name,
            role=user.role,
            action="queue.exported",
            subject="queue",
            data={
                "format": fmt,
                "rows": len(table),
                "filters": {
                    k: (str(v) if v is not None else None) for k, v in where.items() if v not in (None, "")
                },
                "sort": sort,
            },
        ),
    )
    return data, len(table)
