"""The item envelope: one unit of work (an invoice, an employee, a spreadsheet row).

An item is keyed by an idempotency key derived from its source, so a rerun after a crash
never processes it twice and never loses it: every input item ends ``done`` or in the queue.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, PrivateAttr

from backoffice.errors import InputError
from backoffice.rules import Violation, is_field_path

__all__ = ["EvidenceRef", "Item", "Kind", "SourceRef", "file_sha256", "make_key"]

Kind = Literal["business", "system"]


def make_key(*parts: object) -> str:
    """A stable idempotency key from the parts that identify an item at its source."""
    text = "\x1f".join("" if p is None else str(p) for p in parts)
    return hashlib.sha256(text.encode()).hexdigest()[:40]


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class SourceRef(BaseModel):
    """Where an item came from: file, place in it (``row 12``, ``page 2``), file sha256."""

    file: str
    locator: str | None = None
    sha256: str | None = None

    def __str__(self) -> str:
        return f"{self.file} ({self.locator})" if self.locator else self.file


class EvidenceRef(BaseModel):
    """A content-addressed evidence file (PDF page, screenshot, HTML snapshot, matched lines)."""

    sha256: str
    name: str
    media_type: str = "application/octet-stream"
    size: int | None = None
    redacted: bool = Field(
        default=False,
        description="The bot masked personal data in it (a screenshot taken with masking): the inbox "
        "shows it to everyone; other images (page renders, crops) only in an audited unmask.",
    )


class Item(BaseModel):
    """What a bot hands to the runner. ``payload`` is the JSON form of the bot's model."""

    bot: str
    key: str
    payload: dict[str, Any]
    source: SourceRef
    amount: Decimal | None = None
    currency: str | None = None
    evidence: list[EvidenceRef] = Field(default_factory=list)
    violations: list[Violation] = Field(default_factory=list)
    kind: Kind = "business"
    _parsed: BaseModel | None = PrivateAttr(default=None)

    @property
    def parsed(self) -> BaseModel | None:
        """The payload validated by the bot's model (set by the runner before ``act``)."""
        return self._parsed

    @classmethod
    def from_input_error(
        cls,
        bot: str,
        key: str,
        err: InputError,
        source: SourceRef,
        payload: dict[str, Any] | None = None,
    ) -> Item:
        """An item that could not be read; it goes to the queue with the error as its violation."""
        violation = Violation(
            code=err.code or "INPUT",
            message=err.describe(),
            # a reader's column label ("Bal[CLBD]", "gross total") is named in the message; the
            # field holds it only when it is a payload path
            field=where if (where := err.field or err.column) and is_field_path(where) else None,
            actual=None,
            expected=None,
        )
        raw = dict(payload or {})
        raw.setdefault("_input_error", err.to_dict())
        return cls(bot=bot, key=key, payload=raw, source=source, violations=[violation])
