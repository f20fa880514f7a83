"""Structured evidence: the records a bot's rules compared an item with, shown side by side.

A bot stores one JSON evidence file per queued item (from :meth:`backoffice.contract.Bot.evidence`)
made by :func:`records_file`: named records (a master-data row, the lines of a timesheet, a
payment, a statement entry, the previous period's line), each a mapping or a list of mappings,
with the data classes of its fields declared by the bot (from its pydantic model with
:func:`record`, or given as ``classes``), so the inbox masks them as it masks payloads: the
item's workers see the pay they must check, everyone else masks. The core never guesses from
the field names. ``highlight`` names the fields the rules found wrong.

The file's JSON::

    {"format": "backoffice.records/1",
     "records": [{"name": "HR master", "data": {...}, "classes": {"annual_salary": "personal.pay"},
                  "highlight": ["annual_salary"]}, ...]}

For a record whose data is a list, ``classes`` and ``highlight`` name the fields of each row.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from backoffice.data_classes import DataClass, declared

__all__ = ["FORMAT", "MEDIA_TYPE", "Record", "parse_records", "record", "records_file"]

FORMAT = "backoffice.records/1"
MEDIA_TYPE = "application/json"


@dataclass(frozen=True)
class Record:
    """One named record of an item's evidence."""

    name: str
    data: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None
    classes: Mapping[str, DataClass] = field(default_factory=dict)
    highlight: Sequence[str] = ()


def record(
    name: str,
    data: BaseModel | Sequence[BaseModel] | Mapping[str, Any] | None,
    *,
    classes: Mapping[str, DataClass] | None = None,
    highlight: Sequence[str] = (),
) -> Record:
    """A record from a pydantic model (or a list of them): its declared data classes go with it.
    A plain mapping needs its ``classes`` given; ``None`` is a record that was not found."""
    found: dict[str, DataClass] = dict(classes or {})
    value: Any = data
    if isinstance(data, BaseModel):
        found.update(declared(type(data)))
        value = data.model_dump(mode="json")
    elif isinstance(data, Sequence) and not isinstance(data, str | bytes):
        rows = list(data)
        if rows and isinstance(rows[0], BaseModel):
            found.update(declared(type(rows[0])))
        value = [r.model_dump(mode="json") if isinstance(r, BaseModel) else dict(r) for r in rows]
    return Record(name, value, found, tuple(highlight))


def records_file(records: Sequence[Record]) -> bytes:
    """The JSON evidence file of ``records`` (fields in the bot's order; the same records give the
    same bytes, so the same sha256)."""
    body = {
        "format": FORMAT,
        "records": [
            {
                "name": r.name,
                "data": r.data,
                "classes": {k: str(v) for k, v in r.classes.items()},
                "highlight": list(r.highlight),
            }
            for r in records
        ],
    }
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False, default=str).encode("utf-8")


def parse_records(data: Any) -> list[Record] | None:
    """The records of a parsed JSON evidence file, or None when it is not in this format.
    Unknown data class names are taken as secrets (never shown)."""
    if not isinstance(data, Mapping) or data.get("format") != FORMAT:
        return None
    out: list[Record] = []
    for r in data.get("records") or []:
        if not isinstance(r, Mapping):
            continue
        classes: dict[str, DataClass] = {}
        for k, v in (r.get("classes") or {}).items():
            try:
                classes[str(k)] = DataClass(v)
            except ValueError:
                classes[str(k)] = DataClass.SECRET
        out.append(Record(str(r.get("name") or ""), r.get("data"), classes, tuple(r.get("highlight") or ())))
    return out
