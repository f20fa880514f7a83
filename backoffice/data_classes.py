"""Data classes declared on a bot's item model: which fields are personal or secret.

A bot marks a field in its pydantic model with a :class:`DataClass` in the field's metadata::

    class Employee(BaseModel):
        name: str
        gross: Annotated[Decimal, DataClass.PAY]
        bank_account: Annotated[str | None, DataClass.BANK_ACCOUNT] = None

The core never guesses from key names: masking, unmasking, retention and the inbox read these
declarations through :func:`declared`, which maps every marked field to a path pattern in the one
path syntax of :attr:`backoffice.rules.Violation.field`: dot-separated names, list positions as
numbers (``lines.0.iban``); in a pattern a list position is ``*`` (``lines.*.iban``).
"""

from __future__ import annotations

import functools
import re
import types
import typing
from enum import StrEnum
from typing import Any, Union

from pydantic import BaseModel

__all__ = [
    "MASK",
    "PAY_MASK",
    "SECRET_MASK",
    "DataClass",
    "DataMap",
    "declared",
    "mask_account",
    "mask_as",
    "path_pattern",
]


class DataClass(StrEnum):
    """What kind of data a field holds (how it is masked, who may see it)."""

    PAY = "personal.pay"  # a person's pay figures: shown as •••
    BANK_ACCOUNT = "personal.bank_account"  # last 4 kept
    NATIONAL_ID = "personal.national_id"  # last 4 kept
    CONTACT = "personal.contact"  # address, phone, e-mail: hidden
    SECRET = "secret"  # noqa: S105 - a data class name; values are never shown to anyone

    @property
    def personal(self) -> bool:
        return self.value.startswith("personal.")


MASK = "••••"
PAY_MASK = "•••.••"
SECRET_MASK = "••••••"  # noqa: S105 - the mask shown instead of a secret


def mask_account(value: str) -> str:
    """``DE89370400440532013000`` -> ``••••3000`` (last 4 kept). The one account/IBAN mask."""
    clean = re.sub(r"\s+", "", value)
    if len(clean) <= 4:
        return MASK
    return MASK + clean[-4:]


def _digits(text: str) -> int:
    return sum(ch.isdigit() for ch in text)


def mask_as(cls: DataClass, value: Any) -> Any:
    """One scalar value of data class ``cls`` as a reader sees it masked."""
    if value is None or value == "":
        return value
    if cls is DataClass.SECRET:
        return SECRET_MASK
    if cls is DataClass.PAY:
        return PAY_MASK
    if cls is DataClass.CONTACT:
        return MASK
    text = str(value)
    if _digits(text) < 4:  # "unique", "on file": a description, not an account
        return value
    return mask_account(text)


DataMap = dict[str, DataClass]
"""Path pattern (``employee.gross``, ``lines.*.iban``) -> data class."""


def path_pattern(path: str) -> str:
    """A concrete path with list positions replaced by ``*``: ``lines.0.iban`` -> ``lines.*.iban``."""
    return ".".join("*" if part.isdigit() else part for part in path.split("."))


def _models_in(annotation: Any) -> list[tuple[type[BaseModel], bool]]:
    """Models reachable in a type annotation, each with whether it sits inside a list/tuple/dict."""
    found: list[tuple[type[BaseModel], bool]] = []
    origin = typing.get_origin(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [(annotation, False)]
    if origin is typing.Annotated:
        return _models_in(typing.get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        for arg in typing.get_args(annotation):
            found.extend(_models_in(arg))
        return found
    if origin in (list, tuple, set, frozenset) or (
        origin is not None and getattr(origin, "__name__", "") in ("Sequence", "Iterable")
    ):
        for arg in typing.get_args(annotation):
            found.extend((m, True) for m, _ in _models_in(arg))
        return found
    if origin is dict:
        args = typing.get_args(annotation)
        if len(args) == 2:
            found.extend((m, True) for m, _ in _models_in(args[1]))
    return found


def _class_of(metadata: list[Any], annotation: Any) -> DataClass | None:
    """The data class in a field's metadata, or inside its annotation: ``Annotated[T, PAY] | None``
    keeps the marker in the union's member, not in the field's metadata."""
    for m in metadata:
        if isinstance(m, DataClass):
            return m
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _class_of(list(annotation.__metadata__), typing.get_args(annotation)[0])
    if origin in (Union, types.UnionType):
        for arg in typing.get_args(annotation):
            found = _class_of([], arg)
            if found is not None:
                return found
    return None


@functools.cache
def declared(model: type[BaseModel]) -> DataMap:
    """Every field of ``model`` (and of the models inside it) that declares a data class.

    Keys are path patterns over the model's JSON form (field aliases are not used: payloads are
    stored by field name). Computed once per model class.
    """
    out: DataMap = {}
    _walk(model, "", out, set())
    return out


def _walk(model: type[BaseModel], prefix: str, out: DataMap, seen: set[type[BaseModel]]) -> None:
    if model in seen:  # a recursive model: its marked fields are already listed at the outer level
        return
    seen = seen | {model}
    for name, info in model.model_fields.items():
        path = f"{prefix}{name}"
        cls = _class_of(list(info.metadata), info.annotation)
        if cls is not None:
            out[path] = cls
        for sub, many in _models_in(info.annotation):
            _walk(sub, f"{path}.*." if many else f"{path}.", out, seen)
