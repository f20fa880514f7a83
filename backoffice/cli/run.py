"""``backoffice run BOT [OPTIONS]``: the options are generated from the bot's ``Inputs``.

Each field becomes ``--field-name`` with the field's description as help: a path field takes a
path, a ``bool`` is a ``--x/--no-x`` flag, a list is a repeatable option, a ``dict`` a
repeatable ``KEY=VALUE``; everything else is passed as text and typed by the model, whose
errors name the option. The run is one flow run of the bot's Prefect flow.
"""

from __future__ import annotations

import types
import typing
from enum import Enum
from pathlib import PurePath
from typing import Any, Literal, Union

import click

from backoffice.cli._common import parse_pairs, print_json
from backoffice.cli.runs import print_run_summary, quiet_prefect
from backoffice.contract import Bot

__all__ = ["run_command"]


def _unwrap(annotation: Any) -> tuple[Any, bool]:
    """The annotation without Annotated/Optional, and whether None was allowed."""
    optional = False
    while True:
        origin = typing.get_origin(annotation)
        if origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            optional = optional or len(args) < len(typing.get_args(annotation))
            if len(args) != 1:
                return annotation, optional
            annotation = args[0]
        else:
            return annotation, optional


def _click_type(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, PurePath):
        return click.Path(path_type=None)
    if typing.get_origin(annotation) is Literal:
        return click.Choice([str(a) for a in typing.get_args(annotation)])
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return click.Choice([str(m.value) for m in annotation])
    return click.STRING


def _option(name: str, info: Any) -> click.Option:
    annotation, _ = _unwrap(info.annotation)
    flag = "--" + name.replace("_", "-")
    help_ = (info.description or "").strip()
    origin = typing.get_origin(annotation)
    if annotation is bool:
        default = bool(info.get_default()) if not info.is_required() else False
        return click.Option([f"{flag}/--no-{name.replace('_', '-')}", name], default=default, help=help_)
    if origin in (list, tuple, set, frozenset):
        args = typing.get_args(annotation)
        inner = _click_type(_unwrap(args[0])[0]) if args else click.STRING
        return click.Option([flag, name], multiple=True, type=inner, help=f"{help_} (repeatable)")
    if origin is dict:
        return click.Option([flag, name], multiple=True, metavar="KEY=VALUE", help=f"{help_} (repeatable)")
    required = info.is_required()
    return click.Option(
        [flag, name],
        type=_click_type(annotation),
        required=required,
        default=None,
        show_default=False,
        help=help_ + ("" if required else f"  [default: {info.get_default()}]" if info.get_default() else ""),
    )


def _values(bot: Bot[Any, Any], given: dict[str, Any]) -> dict[str, Any]:
    """CLI values as the flow takes them: unset options left out, lists and pairs converted."""
    out: dict[str, Any] = {}
    for name, info in bot.Inputs.model_fields.items():
        value = given.get(name)
        origin = typing.get_origin(_unwrap(info.annotation)[0])
        if origin is dict:
            value = parse_pairs(value or (), "--" + name.replace("_", "-"), "KEY=VALUE") or None
        elif origin in (list, tuple, set, frozenset):
            value = list(value) if value else None
        if value is not None:
            out[name] = value
    return out


def _change_control(bot: Bot[Any, Any], overrides: dict[str, str]) -> None:
    """Before Prefect starts: production refuses an unapproved rule-set version (exit 1, audited);
    development says loudly that it runs one. ``overrides`` (``--set``) are typed here first, so a
    param the bot does not have is one usage line (exit 2)."""
    from backoffice.change_control import check_start, development_notice, running_bot
    from backoffice.cli._common import err_console, store

    s = store()
    running = running_bot(s, bot, overrides)
    check_start(s, running)
    notice = development_notice(s, running)
    if notice:
        err_console.print(f"[bold yellow]{notice}[/]")


def run_command(bot: Bot[Any, Any]) -> click.Command:
    """The ``backoffice run NAME`` command of ``bot``."""
    params: list[click.Parameter] = [_option(n, f) for n, f in bot.Inputs.model_fields.items()]
    params.append(click.Option(["--json", "json_"], is_flag=True, help="Print the run summary as JSON."))
    params.append(click.Option(["--batch-size"], type=click.IntRange(min=1), help="Items per Prefect task."))
    params.append(
        click.Option(
            ["--set", "set_"],
            multiple=True,
            metavar="PARAM=VALUE",
            help="Run with this rule param changed (repeatable; the bot's README lists its params, "
            "none/null is no limit). Production runs it only when that rule-set version is approved.",
        )
    )

    def callback(json_: bool, batch_size: int | None, set_: tuple[str, ...], **given: Any) -> int:
        from backoffice.orchestration.flows import bot_flow

        values = _values(bot, given)
        bot.parse_inputs(values)  # one clear line naming the option, before Prefect starts
        overrides = parse_pairs(set_, "--set", "PARAM=VALUE")
        _change_control(bot, overrides)
        from backoffice.store import current_engagement

        with quiet_prefect():
            summary = bot_flow(bot)(
                **values,
                batch_size=batch_size,
                engagement=current_engagement(),
                rule_params=overrides or None,
            )
        if json_:
            print_json(summary)
        else:
            print_run_summary(summary, bot=bot.name, labels=bot.summary_labels)
        return bot.exit_code(summary)

    doc = (bot.description or f"Run the {bot.name} bot.").strip()
    return click.Command(
        name=bot.name, params=params, callback=callback, help=doc, short_help=doc.split("\n")[0]
    )
