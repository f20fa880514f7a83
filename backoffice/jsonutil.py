"""Canonical JSON: the one serialisation that is hashed, stored and exported."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from pathlib import PurePath
from typing import Any
from uuid import UUID

from pydantic import BaseModel

__all__ = ["canonical", "jsonable"]


def _default(obj: Any) -> Any:
    if isinstance(obj, Decimal):
        return str(obj)
    if isinstance(obj, datetime | date):
        return obj.isoformat()
    if isinstance(obj, PurePath | UUID):
        return str(obj)
    if isinstance(obj, Enum):
        return obj.value
    if isinstance(obj, BaseModel):
        return obj.model_dump(mode="json")
    if isinstance(obj, set | frozenset | tuple):
        return sorted(obj) if isinstance(obj, set | frozenset) else list(obj)
    raise TypeError(f"not JSON-serialisable: {type(obj).__name__}")


def canonical(obj: Any) -> str:
    """Sorted keys, no spaces, UTF-8 text; Decimals and dates as strings."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_default)


def jsonable(obj: Any) -> Any:
    """The JSON-native form of ``obj`` (what a round trip through canonical() gives)."""
    return json.loads(canonical(obj))
