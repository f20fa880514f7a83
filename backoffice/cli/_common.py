"""Shared bits of the CLI: the store, JSON output, rich console."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from typing import Any

from rich.console import Console

from backoffice.jsonutil import canonical
from backoffice.store import Store

console = Console()
err_console = Console(stderr=True, soft_wrap=True)


def store() -> Store:
    return Store.open()


def print_json(obj: Any) -> None:
    """Plain JSON on stdout (no colour, no wrapping) for scripts."""
    sys.stdout.write(json.dumps(json.loads(canonical(obj)), indent=2, ensure_ascii=False) + "\n")


def parse_pairs(pairs: Iterable[str], option: str = "--set", form: str = "FIELD=VALUE") -> dict[str, str]:
    """``["a=1", "b.c=x"]`` -> ``{"a": "1", "b.c": "x"}`` (keys stripped, values kept as given);
    a pair without ``=`` or without a key is a usage error (exit 2) naming the option."""
    from backoffice.errors import UsageError

    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"{option} takes {form}, got {pair!r}", field=option.lstrip("-"))
        out[key.strip()] = value
    return out
