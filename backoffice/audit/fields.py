"""The fields of an audit entry: those hashed into the chain, and the row as stored."""

from __future__ import annotations

__all__ = ["HASHED_FIELDS", "ROW_FIELDS"]

HASHED_FIELDS = (
    "seq",
    "at",
    "actor",
    "role",
    "action",
    "subject",
    "bot",
    "data",
    "ruleset_version",
    "evidence",
    "outcome",
    "prev_hash",
)
ROW_FIELDS = (*HASHED_FIELDS, "hash")  # an audit row as stored (and exported)
