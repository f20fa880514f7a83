"""The cell type system: what a column holds (:class:`ColumnSpec`) and how a raw cell becomes a value.

A raw cell (a float, int, date, datetime or text from python-calamine or openpyxl, or text from a CSV) is coerced by
its column's type: ``str``, ``decimal``, ``money`` (Decimal rounded half-up to cents), ``int``,
``date`` or ``bool``. A cell that does not fit raises :class:`CellError`, which the reader turns
into an :class:`~backoffice.errors.InputError` naming file, sheet, row and column.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any, Literal

from backoffice.money import check_amount, parse_amount, q2

__all__ = ["CellError", "ColumnSpec", "ColumnType", "coercer", "remembering", "show"]


ColumnType = Literal["str", "decimal", "money", "int", "date", "bool"]


@dataclass(frozen=True)
class ColumnSpec:
    """What a column holds and how to find it.

    ``type``: str | decimal | money (Decimal rounded to cents) | int | date | bool.
    ``required``: the header must be present (otherwise the value is always ``None``).
    ``nullable``: an empty cell is allowed (``None``); otherwise an empty cell is an error.
    ``aliases``: other header spellings accepted for this column (compared normalised).
    ``date_formats``: strptime formats tried for text in a date column (ISO is always tried).
    """

    type: ColumnType = "str"
    required: bool = True
    nullable: bool = False
    aliases: tuple[str, ...] = ()
    date_formats: tuple[str, ...] = ("%d.%m.%Y", "%Y/%m/%d")


# ---------------------------------------------------------------- coercion


class CellError(ValueError):
    pass


_INF = float("inf")
_EXACT_INT = float(2**53)
_MIDNIGHT = time()


def _as_read(value: Any) -> Any:
    """A bare date as the datetime openpyxl gave for a date cell, so messages stay as they were."""
    return datetime.combine(value, _MIDNIGHT) if type(value) is date else value


_PLAIN_NUMBER = re.compile(r"-?\d{1,30}(?:\.\d{1,30})?")


def _coerce_str(value: Any) -> str | None:
    if type(value) is str:
        s = value.strip()
        return s or None
    if isinstance(value, str):
        s = value.strip()
        return s or None
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value))
        return repr(value)
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _coerce_decimal(value: Any) -> Decimal | None:
    d = _read_decimal(value)
    if d is None:
        return None
    try:
        return check_amount(d)  # bounded: 1e26 is this cell's error, not an InvalidOperation later
    except ValueError as exc:
        raise CellError(str(exc)) from None


def _read_decimal(value: Any) -> Decimal | None:
    t = type(value)
    if t is float:  # the common xlsx case first: repr() is the shortest exact decimal form
        if value != value or value in (_INF, -_INF):
            raise CellError(f"expected an amount, got {value!r}")
        if value.is_integer() and -_EXACT_INT < value < _EXACT_INT:
            # xlsx "152" is the number 152 (calamine hands out every number as a float)
            return Decimal(int(value))
        return Decimal(repr(value))
    if t is int:
        return Decimal(value)
    if isinstance(value, (bool, datetime, date)):
        value = _as_read(value)
        raise CellError(f"expected an amount, got {type(value).__name__} {value!s}")
    if t is str:
        value = value.strip()
        if not value:
            return None
        if _PLAIN_NUMBER.fullmatch(value):  # CSV's common case: no separators, no currency
            return Decimal(value)
    try:
        d = parse_amount(value)
    except ValueError as exc:
        raise CellError(f"expected an amount, got text {show(value)}") from exc
    if not d.is_finite():
        raise CellError(f"expected an amount, got {show(value)}")
    return d


# A float cell's amount, remembered: a register repeats its amounts (zero overtime, the same
# salary, the same deduction), and float -> Decimal -> bounds -> cents is most of a money cell's
# cost. Decimals are immutable, so one object may serve every cell of that value. Bounded.
_MONEY_OF_FLOAT: dict[float, Decimal] = {}
_MONEY_MEMO_MAX = 1 << 16


def _coerce_money(value: Any) -> Decimal | None:
    if value.__class__ is float:
        m = _MONEY_OF_FLOAT.get(value)
        if m is not None:
            return m
        d = _coerce_decimal(value)  # a float never reads as None; NaN and infinity raise
        m = q2(d)  # type: ignore[arg-type]
        if len(_MONEY_OF_FLOAT) < _MONEY_MEMO_MAX:
            _MONEY_OF_FLOAT[value] = m
        return m
    d = _coerce_decimal(value)
    return None if d is None else q2(d)


def _coerce_int(value: Any) -> int | None:
    if isinstance(value, bool):
        raise CellError(f"expected a whole number, got {value!s}")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if value.is_integer():
            return int(value)
        raise CellError(f"expected a whole number, got {value!r}")
    if isinstance(value, Decimal):
        if value == value.to_integral_value():
            return int(value)
        raise CellError(f"expected a whole number, got {value}")
    if isinstance(value, str):
        s = value.strip().replace(",", "").replace(" ", "")
        if not s:
            return None
        if re.fullmatch(r"[+-]?\d+(\.0+)?", s):
            return int(s.split(".")[0])
        raise CellError(f"expected a whole number, got text {show(value)}")
    raise CellError(f"expected a whole number, got {type(_as_read(value)).__name__}")


_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")


def _make_datecoercer(formats: tuple[str, ...]) -> Callable[[Any], date | None]:
    def coerce(value: Any) -> date | None:
        if type(value) is datetime:
            return value.date()
        if isinstance(value, datetime):
            return value.date()
        if isinstance(value, date):
            return value
        if isinstance(value, str):
            s = value.strip()
            if not s:
                return None
            if _ISO_DATE.match(s):
                try:
                    return date.fromisoformat(s[:10])
                except ValueError:
                    pass
            for fmt in formats:
                try:
                    return datetime.strptime(s, fmt).date()
                except ValueError:
                    continue
            raise CellError(f"expected a date (YYYY-MM-DD), got text {show(value)}")
        raise CellError(f"expected a date, got {type(value).__name__} {show(value)}")

    return coerce


_TRUE = {"true", "yes", "y", "1", "x", "ja", "oui"}
_FALSE = {"false", "no", "n", "0", "", "nein", "non"}


def _coerce_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if value is None:
        return None
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    s = str(value).strip().lower()
    if s in _TRUE:
        return True
    if s in _FALSE:
        return False if s else None
    raise CellError(f"expected yes/no, got {show(_as_read(value))}")


def coercer(spec: ColumnSpec) -> Callable[[Any], Any]:
    if spec.type == "str":
        return _coerce_str
    if spec.type == "decimal":
        return _coerce_decimal
    if spec.type == "money":
        return _coerce_money
    if spec.type == "int":
        return _coerce_int
    if spec.type == "date":
        return _make_datecoercer(spec.date_formats)
    if spec.type == "bool":
        return _coerce_bool
    raise ValueError(f"unknown column type {spec.type!r}")  # pragma: no cover - Literal guards it


# Cells whose value is remembered per column and read: text (a CSV's every cell), numbers and
# dates. Exactly these classes, never bool or int, which compare equal to floats (True == 1.0).
_REMEMBERED = frozenset((str, float, datetime, date))
_REMEMBER_MAX = 4096


def remembering(coerce: Callable[[Any], Any], limit: int = _REMEMBER_MAX) -> Callable[[Any], Any]:
    """``coerce`` with the values it returned remembered by the raw cell, for one column of one
    read: a column repeats its values (hire dates, weeks, salaries, hours), and the coerced
    values (Decimal, date) are immutable, so one object serves every cell of the same raw value
    (less work, and look-ups that keep them hold one object, not one per row). A cell that
    raises is not remembered: it raises again, with the same message. At most ``limit`` values."""
    memo: dict[Any, Any] = {}
    kinds = _REMEMBERED

    def remembered(value: Any) -> Any:
        if value.__class__ not in kinds:
            return coerce(value)
        try:
            return memo[value]
        except KeyError:
            pass
        out = coerce(value)
        if len(memo) < limit:
            memo[value] = out
        return out

    return remembered


def show(value: Any, limit: int = 40) -> str:
    s = repr(value) if not isinstance(value, str) else repr(value.strip())
    return s if len(s) <= limit else s[: limit - 4] + "...'"
