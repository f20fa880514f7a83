"""What a reader noticed but could read past: a :class:`Notice` (code, message, line, field).

A notice is a *warning*: the file was read, with a lenient reading the caller should know about
(30 February read as the month's last day, a balance without its currency code). A file that
cannot be read is an :class:`~backoffice.errors.InputError`, never a notice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["Notice"]


@dataclass(frozen=True, slots=True)
class Notice:
    """One warning: a stable ``code`` (``MT940-DATE-ADJUSTED``), a message, where in the file."""

    code: str
    message: str
    line: int | None = None
    field: str | None = None

    def to_dict(self, file: str) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "file": file, "line": self.line}
