"""Shared bits of the CLI: the store, JSON output, rich console."""

from __future__ import annotations

import json
import sys
import typing
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


def readable_help(command: Any) -> Any:
    """``command`` (a typer-built click command tree) with help that reads like click's own.

    typer 0.29 prints each option's Python type as its metavar (``--json <bool>``,
    ``--user <str>``, ``--set <list[str]>``): here every option that takes a value gets click's
    metavar for its type (``TEXT``, ``INTEGER``, ``PATH``, ``[a|b]``), a flag (``--json``,
    ``--help``) none, and an argument its name in capitals with its type (``ITEM_ID INTEGER``)."""
    ctx = command.context_class(command, info_name=command.name, **command.context_settings)
    params = list(command.params)
    help_option = command.get_help_option(ctx)
    if help_option is not None:
        params.append(help_option)
    for param in params:
        if param.metavar is not None:
            continue
        if getattr(param, "is_flag", False) or getattr(param, "count", False):
            param.metavar = ""
            continue
        kind = _type_metavar(param, ctx)
        if param.param_type_name == "argument":
            param.metavar = (param.name or "").upper()
            param.display_type_rich = lambda ctx, kind=kind: kind  # the type column, not <int>
        else:
            param.metavar = kind
    for sub in getattr(command, "commands", {}).values():
        readable_help(sub)
    return command


_METAVARS = {str: "TEXT", int: "INTEGER", float: "FLOAT", bool: "BOOLEAN"}


def _type_metavar(param: Any, ctx: Any) -> str:
    """click's metavar for the parameter's type: TEXT, INTEGER, PATH, [a|b]..."""
    desc = getattr(param, "type_descriptor", None)
    if desc is None:  # a plain click parameter
        return str(param.type.get_metavar(param=param, ctx=ctx) or param.type.name.upper())
    if desc.is_choice:
        return "[" + "|".join(str(getattr(c, "value", c)) for c in desc.choices or ()) + "]"
    if desc.is_file:
        return "FILENAME"
    if desc.is_path:
        return "PATH"
    if desc.is_datetime:
        return "DATETIME"
    annotation = desc.annotation
    args = typing.get_args(annotation)
    if desc.is_list and len(args) == 1:
        annotation = args[0]
    return _METAVARS.get(annotation, getattr(annotation, "__name__", "TEXT").upper())
