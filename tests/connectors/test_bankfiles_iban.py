"""The one IBAN check (PAY-IBAN is a control: false accepts matter), on every country schwifty knows."""

from __future__ import annotations

import itertools
import random
import string
import warnings

import pytest
from schwifty import IBAN
from schwifty.exceptions import InvalidCountryCode
from schwifty.registry import IBANSpec, get_iban_spec

from connectors.bankfiles import iban_check_digits, iban_problem


def specs() -> list[IBANSpec]:
    out = []
    for a, b in itertools.product(string.ascii_uppercase, repeat=2):
        try:
            out.append(get_iban_spec(a + b))
        except InvalidCountryCode:
            continue
    return out


def with_check_digits(country: str, bban: str) -> str:
    return f"{country}{iban_check_digits(country, bban)}{bban}"


def random_iban(spec: IBANSpec, rng: random.Random) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return str(IBAN.random(country_code=spec.country, random=rng))


@pytest.mark.parametrize(
    ("iban", "why"),
    [
        ("US84123456789012345678", "US is not a country that uses IBANs"),
        ("DE00370400440532013000", "check digits"),
        ("DE01370400440532013000", "check digits"),
        ("DE99370400440532013000", "check digits"),
        ("BE41539007547035", "national check digits"),  # mod-97 right, Belgian mod-97 of the BBAN wrong
        ("FR8420041010050500013M02607", "national check digits"),  # the RIB key
        ("IT33X0542811101000000123457", "national check digits"),  # the CIN letter
        ("ES6421000418450200051333", "national check digits"),
        ("NL08ABNA041716430", "NL IBANs have 18 characters"),
        ("GB88WEST1234569876543", "GB IBANs have 22 characters"),
        ("NL57ABN10417164300", "structure"),  # a digit where the bank code has letters
        ("MA64011519000001205000534921", "not in the SWIFT IBAN registry"),
    ],
)
def test_the_issues_cases_are_refused(iban: str, why: str) -> None:
    problem = iban_problem(iban)
    assert problem is not None and why in problem, problem


def test_every_registry_country_structure_and_length() -> None:
    rng = random.Random(12)
    broken = refused = 0
    for spec in specs():
        good = random_iban(spec, rng)
        expected = None if not spec.aspirational else iban_problem(good)
        assert iban_problem(good) == expected, good
        bban = good[4:]
        # a letter where the registry says digits (or a digit where it says letters), check digits recomputed
        for i, ch in enumerate(bban):
            cand = bban[:i] + ("A" if ch.isdigit() else "1") + bban[i + 1 :]
            if not spec.regex.fullmatch(cand):
                broken += 1
                refused += iban_problem(with_check_digits(spec.country, cand)) is not None
                break
        # one character short or long, check digits recomputed: the registry length decides
        for cand in (bban[:-1], bban + "0"):
            assert iban_problem(with_check_digits(spec.country, cand)) is not None, (spec.country, cand)
    assert len(specs()) >= 100 and broken >= 100 and refused == broken


def test_valid_real_world_ibans_stay_valid() -> None:
    for iban in (
        "DE89 3704 0044 0532 0130 00",
        "GB29NWBK60161331926819",
        "FR7630006000011234567890189",
        "NL91ABNA0417164300",
        "BE68539007547034",
        "ES9121000418450200051332",
        "IT60X0542811101000000123456",
        "CH9300762011623852957",
    ):
        assert iban_problem(iban) is None, iban
