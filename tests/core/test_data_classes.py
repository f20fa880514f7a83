"""Data classes declared on item models: every marked field, nested and optional ones included."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel

from backoffice.data_classes import DataClass, declared, path_pattern


class Line(BaseModel):
    description: str
    iban: Annotated[str, DataClass.BANK_ACCOUNT] | None = None


class Person(BaseModel):
    name: str
    national_id: Annotated[str, DataClass.NATIONAL_ID]
    email: Annotated[str | None, DataClass.CONTACT] = None


class Payslip(BaseModel):
    person: Person
    gross: Annotated[Decimal, DataClass.PAY]
    bonus: Annotated[Decimal, DataClass.PAY] | None = None  # marker inside the Optional
    lines: list[Line] = []
    by_code: dict[str, Line] = {}
    token: Annotated[str, DataClass.SECRET] = ""
    total: Decimal = Decimal(0)


def test_declared_finds_nested_optional_and_list_fields():
    assert declared(Payslip) == {
        "person.national_id": DataClass.NATIONAL_ID,
        "person.email": DataClass.CONTACT,
        "gross": DataClass.PAY,
        "bonus": DataClass.PAY,
        "lines.*.iban": DataClass.BANK_ACCOUNT,
        "by_code.*.iban": DataClass.BANK_ACCOUNT,
        "token": DataClass.SECRET,
    }


def test_unmarked_fields_are_not_declared():
    assert "total" not in declared(Payslip)
    assert "person.name" not in declared(Payslip)


def test_path_pattern_uses_the_violation_field_syntax():
    assert path_pattern("lines.0.iban") == "lines.*.iban"
    assert path_pattern("person.email") == "person.email"


def test_personal_and_secret_classes():
    assert DataClass.PAY.personal and DataClass.CONTACT.personal
    assert not DataClass.SECRET.personal
