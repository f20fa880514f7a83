"""jsonable: one walk that gives exactly what the canonical() round trip gives, errors included."""

from __future__ import annotations

import json
import math
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum, IntEnum
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from pydantic import BaseModel

from backoffice.jsonutil import canonical, jsonable


class Colour(str, Enum):  # noqa: UP042 - a str subclass that is not a StrEnum, on purpose
    RED = "red"


class Level(IntEnum):
    HIGH = 3


class Rate(Enum):
    HALF = Decimal("0.5")


class Ref(BaseModel):
    file: str
    at: date


def round_trip(obj: Any) -> Any:
    return json.loads(canonical(obj))


CASES: list[Any] = [
    {"b": 1, "a": [1, 2.5, None, True, "x"], "c": {"z": Decimal("1.10"), "y": date(2024, 1, 2)}},
    (1, 2, (3, [4, (5,)])),
    {1: "int key", 2.5: "float key"},
    {None: 1},
    {True: 2, False: 1},
    {"k": Colour.RED, "i": Level.HIGH, "e": Rate.HALF},
    {Colour.RED: "a str-enum key"},
    {"p": Path("/x/y"), "u": UUID(int=1), "d": datetime(2024, 1, 1, 12, tzinfo=UTC)},
    {"s": {3, 1, 2}, "f": frozenset({"b", "a"})},
    {"m": Ref(file="a.csv", at=date(2024, 2, 29))},
    [float("inf"), -0.0, 10**20, "ü€", "", [], {}],
    {"employee": {"employee_id": "E1", "net": "1.00", "row": 2, "bank_account": None}},
]


@pytest.mark.parametrize("obj", CASES, ids=range(len(CASES)))
def test_jsonable_is_the_round_trip(obj: Any) -> None:
    got, want = jsonable(obj), round_trip(obj)
    assert got == want
    assert canonical(got) == canonical(want)
    assert json.dumps(got) == json.dumps(want)  # same key order too (sorted), same types


def test_jsonable_copies_containers() -> None:
    inner = {"x": [1, 2]}
    out = jsonable({"inner": inner})
    out["inner"]["x"].append(3)
    assert inner == {"x": [1, 2]}


def test_nan_survives_as_nan() -> None:
    assert math.isnan(jsonable({"n": float("nan")})["n"])


@pytest.mark.parametrize(
    "obj",
    [
        {"a": object()},  # not serialisable
        {(1, 2): 1},  # a key json refuses
        {1: 1, "a": 2},  # keys json.dumps cannot sort
    ],
    ids=["object", "tuple-key", "mixed-keys"],
)
def test_jsonable_raises_what_the_round_trip_raises(obj: Any) -> None:
    with pytest.raises(TypeError) as want:
        round_trip(obj)
    with pytest.raises(TypeError) as got:
        jsonable(obj)
    assert str(got.value) == str(want.value)


def test_a_reference_cycle_is_the_round_trips_error() -> None:
    cycle: list[Any] = []
    cycle.append(cycle)
    with pytest.raises(ValueError, match="Circular reference detected"):
        jsonable(cycle)
