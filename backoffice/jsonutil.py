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


# built once: json.dumps with these options builds an encoder at every call (the audit chain
# encodes three times per append); the same bytes as json.dumps gives
_encode = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_default).encode


def canonical(obj: Any) -> str:
    """Sorted keys, no spaces, UTF-8 text; Decimals and dates as strings."""
    return _encode(obj)


def jsonable(obj: Any) -> Any:
    """The JSON-native form of ``obj`` (what a round trip through canonical() gives).

    Built by one walk over ``obj`` instead of serialising and parsing it again (a payload is
    mostly JSON-native already: the walk copies its dicts and lists and keeps its strings and
    numbers). Anything the walk does not see as plainly equal to the round trip (a reference
    cycle, a structure too deep) takes the round trip itself, with its error."""
    try:
        return _native(obj)
    except (RecursionError, _RoundTrip):
        return json.loads(canonical(obj))


class _RoundTrip(Exception):
    """A case left to the real round trip (e.g. a key json.dumps would refuse)."""


_ATOMS = frozenset((str, int, float, bool, type(None)))  # exactly these types: kept as they are
_STR_ONLY = frozenset((str,))


def _key(k: Any) -> str:
    # json.dumps' key conversion: str as is; float, bool, None and int as their JSON text
    t = type(k)
    if t is str:
        return k
    if isinstance(k, str):
        return str.__str__(k)
    if k is True:
        return "true"
    if k is False:
        return "false"
    if k is None:
        return "null"
    if isinstance(k, float):
        return json.dumps(float(k))  # 1.5, NaN, Infinity as json.dumps writes them
    if isinstance(k, int):
        return int.__repr__(k)
    raise _RoundTrip


def _native(o: Any) -> Any:
    t = type(o)
    if t in _ATOMS:
        return o
    if t is dict:
        if set(map(type, o)) <= _STR_ONLY:  # text keys (the common case): sorted as json.dumps does
            return {k: v if (v := o[k]).__class__ in _ATOMS else _native(v) for k in sorted(o)}
        return _dict(o)
    if t is list or t is tuple:
        return [x if x.__class__ in _ATOMS else _native(x) for x in o]
    # subclasses of the JSON types, as json.dumps writes them (before any default())
    if isinstance(o, str):
        return str.__str__(o)
    if isinstance(o, int):
        return int(int.__repr__(o))
    if isinstance(o, float):
        return float(float.__repr__(o))
    if isinstance(o, dict):
        return _dict(o)
    if isinstance(o, list | tuple):
        return [_native(x) for x in o]
    return _native(_default(o))


def _dict(o: dict[Any, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in sorted(o.items()):  # json.dumps(sort_keys=True) sorts the items the same way
        name = _key(k)
        value = _native(v)
        if name in out:  # two keys with one JSON text (1 and "1"): json.loads keeps the last
            del out[name]  # ... at the place of the first; leave that to the round trip
            raise _RoundTrip
        out[name] = value
    return out
