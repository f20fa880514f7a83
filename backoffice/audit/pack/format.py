"""The evidence pack's row formats: ``entries.jsonl`` rows and ``entries.csv`` lines, and
``incidents.csv`` lines (one per step of each incident's timeline in ``incidents.jsonl``).

A CSV cell a spreadsheet would run as a formula is prefixed with ``'`` by the one formula
neutraliser (:func:`backoffice.safety.neutralise_formula`, full-width ``＝＋－＠`` included);
the export writes these lines and the offline check rebuilds them from the JSONL files.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from backoffice.jsonutil import canonical
from backoffice.pii import Masking
from backoffice.safety import neutralise_formula

__all__ = [
    "CSV_COLUMNS",
    "FORMAT",
    "INCIDENT_COLUMNS",
    "INCIDENT_STEP_COLUMNS",
    "csv_cell",
    "csv_line",
    "entries_csv",
    "entries_csv_lines",
    "incidents_csv_lines",
    "pack_row",
]

FORMAT = "backoffice-evidence-pack/1"
CSV_COLUMNS = (
    "seq",
    "at",
    "actor",
    "role",
    "action",
    "subject",
    "bot",
    "outcome",
    "ruleset_version",
    "evidence",
    "data",
    "masked",
    "prev_hash",
    "hash",
)

#: ``incidents.csv``: the incident's columns (from ``incidents.jsonl``), then its step's.
INCIDENT_COLUMNS = (
    "id",
    "kind",
    "bot",
    "run_id",
    "status",
    "opened_at",
    "summary",
    "escalated_to",
    "owner",
    "notify",
    "notify_reason",
)
INCIDENT_STEP_COLUMNS = ("seq", "at", "action", "actor", "role", "outcome", "data", "hash")


def csv_cell(value: Any) -> str:
    """A CSV cell no spreadsheet will evaluate: ``=1+1`` -> ``'=1+1``, ``＝1`` -> ``'＝1``."""
    return neutralise_formula("" if value is None else str(value))


def csv_line(values: Sequence[str]) -> bytes:
    """One CSV record, CRLF-terminated, UTF-8."""
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerow(values)
    return buf.getvalue().encode()


def entries_csv_lines(rows: Iterable[dict[str, Any]]) -> Iterator[bytes]:
    """``entries.csv`` line by line: a UTF-8 BOM and header, then one neutralised row per entry."""
    yield "\ufeff".encode() + csv_line(CSV_COLUMNS)
    for row in rows:
        yield csv_line([csv_cell(row.get(col)) for col in CSV_COLUMNS])


def incidents_csv_lines(rows: Iterable[dict[str, Any]]) -> Iterator[bytes]:
    """``incidents.csv`` line by line: a UTF-8 BOM and header, then one neutralised row per step
    of each incident's ``timeline`` (``incident`` + the incident's columns, ``step_`` + the step's;
    a step's ``data`` as canonical JSON)."""
    header = [f"incident_{c}" if c == "id" else c for c in INCIDENT_COLUMNS]
    yield "\ufeff".encode() + csv_line([*header, *(f"step_{c}" for c in INCIDENT_STEP_COLUMNS)])
    for row in rows:
        head = [csv_cell(row.get(c)) for c in INCIDENT_COLUMNS]
        for step in row.get("timeline") or []:
            cells = [
                csv_cell(canonical(step.get(c)) if c == "data" else step.get(c))
                for c in INCIDENT_STEP_COLUMNS
            ]
            yield csv_line([*head, *cells])


def entries_csv(rows: Iterable[dict[str, Any]]) -> bytes:
    """``entries.csv`` for the given ``entries.jsonl`` rows (deterministic, UTF-8 with BOM)."""
    return b"".join(entries_csv_lines(rows))


def pack_row(row: dict[str, Any], masking: Masking) -> dict[str, Any]:
    """An ``entries.jsonl`` row: the stored row, ``data`` masked by the data classes of the
    entry's bot (``masking``), and ``masked`` telling whether masking changed ``data`` (then its
    hash cannot be recomputed)."""
    out = dict(row)
    if not masking.policy(row["bot"]).may_mask(row["data"], unmask=masking.unmask):
        out["masked"] = False
        return out
    parsed = json.loads(row["data"])
    shown = masking.entry_data(row["bot"], parsed)
    text = canonical(shown)
    out["masked"] = text != row["data"]
    if out["masked"]:
        out["data"] = text
    return out
