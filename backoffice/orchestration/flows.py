"""A bot's Prefect flow, built from its ``Inputs``: one flow run per bot run.

``bot_flow(bot)`` returns a flow named after the bot whose parameters are the fields of the
bot's ``Inputs`` (paths as strings, so a deployment's parameter form takes plain text), plus
``batch_size``. Its description and each parameter's description come from the model, so the
Prefect UI and ``prefect deployment run --param`` show the same help as ``backoffice run BOT``.
The inputs are validated inside the flow by the bot's ``Inputs`` model, so a missing file is one
clear :class:`~backoffice.errors.InputError` naming the input.

Deployments load a bot's flow by module path: :mod:`backoffice.orchestration.bot_flows` resolves
``bot_flows.<name with underscores>`` through the plugin registry, so a third-party bot needs no
flow module of its own.
"""

from __future__ import annotations

import functools
import inspect
import operator
import types
import typing
from pathlib import PurePath
from typing import Any, Union

from backoffice.contract import Bot
from backoffice.errors import ConfigError
from backoffice.orchestration.tasks import run_bot_flow
from backoffice.store import use_engagement

__all__ = ["bot_flow", "flow_attr", "flow_type"]


def flow_attr(bot_name: str) -> str:
    """The attribute name of a bot's flow in :mod:`backoffice.orchestration.bot_flows`."""
    return bot_name.replace("-", "_").replace(".", "_")


def flow_type(annotation: Any) -> Any:
    """The parameter type a flow declares for an input: paths become ``str``, the rest stays."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return flow_type(typing.get_args(annotation)[0])
    if isinstance(annotation, type) and issubclass(annotation, PurePath):
        return str
    if origin in (Union, types.UnionType):
        return functools.reduce(operator.or_, [flow_type(a) for a in typing.get_args(annotation)])
    if origin in (list, tuple, set, frozenset):
        args = typing.get_args(annotation)
        return list.__class_getitem__(flow_type(args[0])) if args else list
    return annotation


def _docstring(bot: Bot[Any, Any]) -> str:
    lines = [bot.description or f"Run the {bot.name} bot (one flow run; one task per batch).", "", "Args:"]
    for name, info in bot.Inputs.model_fields.items():
        lines.append(f"    {name}: {(info.description or '').strip()}")
    lines.append("    batch_size: items per Prefect task (default: BACKOFFICE_BATCH_SIZE)")
    lines.append("    engagement: the engagement (client) it runs for (default: BACKOFFICE_ENGAGEMENT)")
    lines.append(
        "    rule_params: PARAM -> value overrides of the rule params in force for this run "
        "(production runs them only when that version is approved)"
    )
    return "\n".join(lines)


def bot_flow(bot: Bot[Any, Any]) -> Any:
    """The Prefect flow of ``bot`` (a new flow object on each call; cheap)."""
    from prefect import flow

    params = []
    taken = {"batch_size", "engagement", "rule_params"} & set(bot.Inputs.model_fields)
    if taken:
        raise ConfigError(
            f"bot {bot.name}: inputs may not be named {', '.join(sorted(taken))} (flow parameters)"
        )
    for name, info in bot.Inputs.model_fields.items():
        default = (
            inspect.Parameter.empty if info.is_required() else info.get_default(call_default_factory=True)
        )
        params.append(
            inspect.Parameter(
                name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=flow_type(info.annotation)
            )
        )
    params.append(
        inspect.Parameter("batch_size", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=int | None)
    )
    params.append(
        inspect.Parameter("engagement", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=str | None)
    )
    params.append(
        inspect.Parameter(
            "rule_params", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=dict[str, str] | None
        )
    )
    signature = inspect.Signature(params, return_annotation=dict[str, Any])

    def run(**values: Any) -> dict[str, Any]:
        batch_size = values.pop("batch_size", None)
        engagement = values.pop("engagement", None)
        rule_params = values.pop("rule_params", None)
        given = {k: v for k, v in values.items() if v is not None or bot.Inputs.model_fields[k].is_required()}
        with use_engagement(engagement):  # the store of the engagement it runs for (None: in force)
            return run_bot_flow(bot, bot.parse_inputs(given), batch_size=batch_size, rule_params=rule_params)

    attr = flow_attr(bot.name)
    run.__signature__ = signature  # type: ignore[attr-defined]
    run.__annotations__ = {p.name: p.annotation for p in params} | {"return": dict[str, Any]}
    run.__doc__ = _docstring(bot)
    run.__name__ = run.__qualname__ = attr
    run.__module__ = "backoffice.orchestration.bot_flows"
    # No Prefect parameter validation: it builds a pydantic model from the parameter names on every
    # call, and an input named like a BaseModel attribute (``register``, ``copy``, ``schema``) makes
    # pydantic warn each time. The body validates the values with the bot's Inputs instead.
    return flow(name=bot.name, description=run.__doc__.split("\n", 1)[0], validate_parameters=False)(run)
