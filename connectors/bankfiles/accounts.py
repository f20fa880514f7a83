"""Bank accounts: the one IBAN check (on ``schwifty``), account compaction, masking, ABA routing numbers.

    iban_problem("DE89 3704 0044 0532 0130 00")   # None: valid
    iban_problem("US12345678901234")              # "US is not a country that uses IBANs"
    mask_account("DE89370400440532013000")        # the core's mask (backoffice.pii), last 4 shown

An IBAN is valid when its country uses IBANs, its length is that country's, its account part
(BBAN) has that country's structure and its check digits are right (ISO 7064 mod-97-10).
National check digits inside the BBAN and bank codes are not looked up: synthetic test
accounts with made-up bank codes stay valid.
"""

from __future__ import annotations

import re

from schwifty import IBAN
from schwifty.exceptions import (
    InvalidChecksumDigits,
    InvalidCountryCode,
    InvalidLength,
    InvalidStructure,
    SchwiftyException,
)
from schwifty.registry import get_iban_spec

from backoffice.pii import mask_account

__all__ = [
    "compact_account",
    "iban_check_digits",
    "iban_length",
    "iban_problem",
    "is_valid_iban",
    "mask_account",
    "routing_number_valid",
]

_SPACE_OR_DASH = re.compile(r"[\s-]")
_IBAN_SHAPE = re.compile(r"[A-Z]{2}\d{2}[A-Z0-9]{1,30}")


def compact_account(account: str | None) -> str:
    """``de89 3704-0044`` -> ``DE8937040044`` (accounts compare without spaces or dashes)."""
    if not account:
        return ""
    if " " in account or "-" in account or "\t" in account or "\u00a0" in account:
        account = _SPACE_OR_DASH.sub("", account)
    return account.upper()


def iban_length(country: str) -> int | None:
    """How many characters ``country``'s IBANs have, or None if it does not use IBANs."""
    try:
        return get_iban_spec(country).iban_length
    except InvalidCountryCode:
        return None


def iban_problem(iban: str) -> str | None:
    """Why ``iban`` is not a valid IBAN (country, length, account structure, check digits), or None."""
    s = compact_account(iban)
    if not s:
        return "empty IBAN"
    if not _IBAN_SHAPE.fullmatch(s):
        return "not an IBAN (expected 2 letters, 2 check digits, then letters/digits)"
    country = s[:2]
    candidate = IBAN(s, allow_invalid=True)
    try:
        candidate.validate()
    except InvalidCountryCode:
        return f"{country} is not a country that uses IBANs"
    except InvalidLength:
        return f"{country} IBANs have {candidate.spec.iban_length} characters, this one has {len(s)}"
    except InvalidStructure:
        return f"the account part does not have the {country} structure ({candidate.spec.bban_spec})"
    except InvalidChecksumDigits:
        return "check digits wrong (mod-97)"
    except SchwiftyException as exc:  # pragma: no cover - validate() raises only the four above
        return f"not a valid IBAN: {exc}"
    return None


def is_valid_iban(iban: str) -> bool:
    return iban_problem(iban) is None


def iban_check_digits(country: str, bban: str) -> str:
    """Check digits that make ``country + cd + bban`` pass mod-97 (for generating test data)."""
    digits = "".join(str(int(ch, 36)) for ch in (bban + country + "00").upper())
    return f"{98 - int(digits) % 97:02d}"


def routing_number_valid(routing: str) -> bool:
    """ABA routing number checksum: 3-7-1 weights over 9 digits, sum divisible by 10."""
    if not re.fullmatch(r"\d{9}", routing or ""):
        return False
    d = [int(c) for c in routing]
    return (3 * (d[0] + d[3] + d[6]) + 7 * (d[1] + d[4] + d[7]) + (d[2] + d[5] + d[8])) % 10 == 0
