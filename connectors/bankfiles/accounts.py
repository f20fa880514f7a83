"""Bank accounts: the one IBAN check (on ``schwifty``), account compaction, masking, ABA routing numbers.

    iban_problem("DE89 3704 0044 0532 0130 00")   # None: valid
    iban_problem("US12345678901234")              # "US is not a country that uses IBANs"
    mask_account("DE89370400440532013000")        # the core's mask (backoffice.pii), last 4 shown

An IBAN is valid when its country uses IBANs (``US84...`` is not one), its length is that
country's (schwifty's registry), its account part (BBAN) has that country's structure, its check
digits are right (ISO 7064 mod-97-10) and not ``00``, ``01`` or ``99`` (never issued: ``01`` passes
mod-97 wherever ``98`` does), and the national check digits inside the BBAN are right where
schwifty knows the country's algorithm (BE, CZ, DE by bank code, EE, ES, FI, FR, IS, IT, NO, PL,
PT, SI, SK and a few more; the Dutch "elfproef" was retired with IBANnext). Where it has none, the
national digits are not checked. The check is a
control (PAY-IBAN): a false accept matters more than a false refusal.
"""

from __future__ import annotations

import re
import warnings

from schwifty import IBAN
from schwifty.exceptions import (
    InvalidBBANChecksum,
    InvalidChecksumDigits,
    InvalidCountryCode,
    InvalidLength,
    InvalidStructure,
    NationalChecksumNotVerified,
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
        with warnings.catch_warnings():
            # a country without a national algorithm: its national digits are simply not checked
            warnings.simplefilter("ignore", NationalChecksumNotVerified)
            candidate.validate(validate_bban=True)
    except InvalidCountryCode:
        return f"{country} is not a country that uses IBANs"
    except InvalidLength:
        return f"{country} IBANs have {candidate.spec.iban_length} characters, this one has {len(s)}"
    except InvalidStructure:
        return f"the account part does not have the {country} structure ({candidate.spec.bban_spec})"
    except InvalidChecksumDigits:
        return "check digits wrong (mod-97)"
    except InvalidBBANChecksum:
        return f"the national check digits of the {country} account part are wrong"
    except SchwiftyException as exc:  # pragma: no cover - validate() raises only the ones above
        return f"not a valid IBAN: {exc}"
    if candidate.spec.aspirational:
        return f"{country} is not in the SWIFT IBAN registry (a national IBAN-like format)"
    if s[2:4] in ("00", "01", "99"):
        return f"check digits {s[2:4]} are never issued (valid check digits are 02-98)"
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
