"""Violation.field has one path syntax: payload keys joined by dots, list positions as numbers."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import BaseModel, ValidationError

from backoffice.queue.maker_checker import set_path
from backoffice.rules import Violation, field_path


class Line(BaseModel):
    quantity: Decimal


class Doc(BaseModel):
    lines: list[Line]
    ref: int | str | list[int]
    extra: dict[int, int] = {}
    either: Line | int = 0


@pytest.mark.parametrize("path", ["amount", "lines.0.quantity", "employee.gross", "Gross Amount"])
def test_dotted_paths_are_accepted(path: str) -> None:
    assert Violation(code="X", message="m", field=path).field == path


@pytest.mark.parametrize("path", ["lines[0].quantity", "lines..quantity", ".amount", "amount.", " amount"])
def test_other_syntaxes_are_refused(path: str) -> None:
    with pytest.raises(ValidationError, match=r"lines\.0\.quantity"):
        Violation(code="X", message="m", field=path)


def _paths(data: dict) -> list[str | None]:
    with pytest.raises(ValidationError) as err:
        Doc.model_validate(data)
    return [field_path(e["loc"], data, missing=e["type"] == "missing") for e in err.value.errors()]


def test_pydantic_locations_become_payload_paths() -> None:
    data = {
        "lines": [{"quantity": "1"}, {"quantity": "x"}, {}],
        "ref": [1.5],
        "extra": {"k": "v"},
        "either": {"quantity": "n"},
    }
    paths = _paths(data)
    # type tags (union members, list[int], [key]) are not payload keys and are left out
    expected = {
        "lines.1.quantity",
        "lines.2.quantity",
        "ref",
        "ref.0",
        "extra.k",
        "either",
        "either.quantity",
    }
    assert set(paths) == expected
    for p in paths:
        Violation(code="INPUT", message="m", field=p)  # all valid paths
    assert _paths({"ref": 1}) == ["lines"]  # a missing top-level field


def test_a_path_names_the_value_that_queue_resolve_set_changes() -> None:
    payload = {"lines": [{"quantity": "1"}, {"quantity": "x"}]}
    with pytest.raises(ValidationError) as err:
        Doc.model_validate({**payload, "ref": 1})
    path = field_path(err.value.errors()[0]["loc"], payload)
    assert path == "lines.1.quantity"
    assert set_path(payload, path, "2") == "x" and payload["lines"][1]["quantity"] == "2"
