"""A bot's inputs: the :class:`Inputs` base and the path types whose existence is checked.

From one ``Inputs`` model the core derives ``backoffice run BOT`` options and help, the Prefect
flow's parameters and the deployment's parameter schema; :func:`parse_inputs` validates values
with it and turns the first problem into one :class:`~backoffice.errors.InputError` line.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, DirectoryPath, FilePath, ValidationError

from backoffice.errors import InputError, UsageError

__all__ = ["InputDir", "InputFile", "Inputs", "OutputFile", "parse_inputs"]


def _absolute(path: Path) -> Path:
    return path.resolve()


InputFile = Annotated[FilePath, AfterValidator(_absolute)]
"""A path to an existing file (made absolute)."""
InputDir = Annotated[DirectoryPath, AfterValidator(_absolute)]
"""A path to an existing directory (made absolute)."""
OutputFile = Annotated[Path, AfterValidator(_absolute)]
"""A path the bot writes (made absolute; need not exist)."""


class Inputs(BaseModel):
    """Base of a bot's inputs. Every field becomes a ``--option`` (underscores as dashes), a flow
    parameter and a deployment parameter; its ``description`` is the help text."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    def rates_to_company(self) -> Mapping[str, Decimal]:
        """Rates from other currencies to the company currency that this run uses
        (``{"USD": Decimal("0.92")}``), if its inputs carry any. The runner records each item's
        rate with the item, and the queue compares its amount with the delegated limit in the
        company currency; an item in a currency without a rate needs an approver. Default: none."""
        return {}


InputsT = TypeVar("InputsT", bound=Inputs)


def parse_inputs(model: type[InputsT], values: Mapping[str, Any]) -> InputsT:
    """``values`` validated by ``model``; the first problem as an :class:`InputError` naming the
    option (``--bank-file: file not found: pay.xml``), so the CLI prints one line. A missing or
    malformed option is a usage error (exit 2); a missing file is bad input (exit 1)."""
    try:
        return model.model_validate(dict(values))
    except ValidationError as exc:
        first = exc.errors()[0]
        name = ".".join(str(p) for p in first["loc"]) or "inputs"
        option = "--" + name.replace("_", "-")
        given = first.get("input")
        kind = first["type"]
        if kind in ("path_not_file", "path_not_directory"):
            what = "file not found" if kind == "path_not_file" else "directory not found"
            raise InputError(f"{option}: {what}: {given}") from None
        if kind == "missing":
            raise UsageError(f"{option} is required") from None
        if kind == "extra_forbidden":
            raise UsageError(f"{option}: unknown input") from None
        message = str(first["msg"]).removeprefix("Value error, ")
        raise UsageError(f"{option}: {message}") from None
