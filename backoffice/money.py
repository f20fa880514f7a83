"""Money is Decimal, never float. Parsing is strict and says what it could not read.

Amounts are bounded at read: at most :data:`MAX_INTEGER_DIGITS` digits before the decimal point
(999 trillion) and :data:`MAX_DIGITS` digits in all, so one absurd cell (``1e26``, a 10,000-digit
string) is a clear ValueError for that value, never an ``InvalidOperation`` from rounding later.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

__all__ = ["CENT", "MAX_DIGITS", "MAX_INTEGER_DIGITS", "check_amount", "money", "parse_amount", "q2"]

CENT = Decimal("0.01")
_THOUSANDS_DOT = re.compile(r"^-?\d{1,3}(\.\d{3})+(,\d+)?$")
_THOUSANDS_COMMA = re.compile(r"^-?\d{1,3}(,\d{3})+(\.\d+)?$")
MAX_INTEGER_DIGITS = 15
MAX_DIGITS = 40


def q2(value: Decimal) -> Decimal:
    """Round half-up to cents."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def check_amount(value: Decimal) -> Decimal:
    """``value`` itself when it is a finite amount of at most :data:`MAX_INTEGER_DIGITS` integer
    digits; ValueError otherwise (NaN, infinity, ``1E+26``)."""
    if not value.is_finite():
        raise ValueError(f"not an amount: {value}")
    if value and value.adjusted() >= MAX_INTEGER_DIGITS:
        raise ValueError(
            f"amount {value:.6E} is out of range (more than {MAX_INTEGER_DIGITS} digits before the decimal point)"
        )
    return value


def parse_amount(text: object) -> Decimal:
    """Read an amount written like ``1,234.50``, ``1.234,50``, ``-12.3``, ``(12.30)`` or ``12.30 EUR``.

    Raises ValueError (callers wrap it in an InputError that names the field) for anything else,
    and for amounts out of range (:func:`check_amount`).
    """
    if isinstance(text, Decimal):
        return check_amount(text)
    if isinstance(text, bool) or text is None:
        raise ValueError(f"not an amount: {text!r}")
    if isinstance(text, int):
        if abs(text) >= 10**MAX_INTEGER_DIGITS:
            raise ValueError(
                f"amount out of range (more than {MAX_INTEGER_DIGITS} digits before the decimal point)"
            )
        return Decimal(text)
    if isinstance(text, float):
        # openpyxl gives floats for numeric cells; repr() is the shortest exact decimal form.
        return check_amount(Decimal(repr(text)))
    s = str(text).strip().replace("\u00a0", " ").replace("\u2212", "-")
    negative = s.startswith("(") and s.endswith(")")
    if negative:
        s = s[1:-1]
    s = re.sub(r"^[A-Z]{3}\s*|\s*[A-Z]{3}$|[€$£]", "", s).strip().replace(" ", "").replace("'", "")
    if s.endswith("-"):
        s, negative = s[:-1], not negative
    if _THOUSANDS_DOT.match(s):
        s = s.replace(".", "").replace(",", ".")
    elif _THOUSANDS_COMMA.match(s):
        s = s.replace(",", "")
    elif re.fullmatch(r"-?\d+,\d{1,2}", s):
        s = s.replace(",", ".")
    if not re.fullmatch(r"-?\d+(\.\d+)?", s):
        raise ValueError(f"not an amount: {text!r}")
    if len(s) > MAX_DIGITS + 2:
        raise ValueError(f"amount out of range (more than {MAX_DIGITS} digits)")
    try:
        value = Decimal(s)
    except InvalidOperation as exc:  # pragma: no cover - regex above guards it
        raise ValueError(f"not an amount: {text!r}") from exc
    return check_amount(-value if negative else value)


def money(text: object) -> Decimal:
    """parse_amount rounded to cents."""
    return q2(parse_amount(text))
