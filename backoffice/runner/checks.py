"""Checking one item: its payload validated by the bot's model (errors as ``INPUT`` violations
with :attr:`~backoffice.rules.Violation.field` paths), then every rule of the bot's rule set."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError

from backoffice.contract import Bot
from backoffice.items import Item
from backoffice.jsonutil import jsonable
from backoffice.rules import Violation, field_path

__all__ = ["check_item"]


def check_item(bot: Bot[Any, Any], it: Item, ctx: Any) -> tuple[BaseModel | None, list[Violation]]:
    if it.violations:
        return None, list(it.violations)
    try:
        model = bot.model.model_validate(it.payload)
    except ValidationError as exc:
        found = []
        for e in exc.errors():
            path = field_path(e["loc"], it.payload, missing=e["type"] == "missing")
            found.append(
                Violation(
                    code="INPUT",
                    message=f"{it.source}: {path or 'payload'}: {e['msg']}",
                    field=path,
                    actual=jsonable(e.get("input"))
                    if isinstance(e.get("input"), str | int | float | None)
                    else None,
                )
            )
        return None, found
    return model, bot.ruleset.check(model, ctx)
