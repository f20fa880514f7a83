"""Shared bits of the CLI: the store, JSON output, rich console."""

from __future__ import annotations

import json
import sys
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


def parse_assignments(pairs: list[str]) -> dict[str, str]:
    """``["a=1", "b.c=x"]`` -> ``{"a": "1", "b.c": "x"}``."""
    from backoffice.errors import InputError

    out: dict[str, str] = {}
    for pair in pairs:
        if "=" not in pair:
            raise InputError(f"--set takes FIELD=VALUE, got {pair!r}", field="set")
        k, v = pair.split("=", 1)
        if not k.strip():
            raise InputError(f"--set takes FIELD=VALUE, got {pair!r}", field="set")
        out[k.strip()] = v
    return out
