"""Bots are plugins found through entry points, so the core never imports a bot.

- group ``backoffice.bots``: name -> the bot object (implements backoffice.runner.Bot)
- group ``backoffice.run``: name -> a typer-style command function for ``backoffice run NAME``
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import entry_points
from typing import Any

from backoffice.errors import NotFound
from backoffice.runner import Bot

__all__ = ["bot_names", "load_bot", "load_bots", "load_run_command", "run_command_names"]


def bot_names() -> list[str]:
    return sorted(ep.name for ep in entry_points(group="backoffice.bots"))


def load_bot(name: str) -> Bot:
    for ep in entry_points(group="backoffice.bots"):
        if ep.name == name:
            bot = ep.load()
            if not isinstance(bot, Bot):
                raise TypeError(f"entry point {ep.value} is not a backoffice Bot")
            return bot
    raise NotFound(f"no bot {name!r}; installed bots: {', '.join(bot_names()) or 'none'}")


def load_bots() -> list[Bot]:
    return [load_bot(n) for n in bot_names()]


def run_command_names() -> list[str]:
    return sorted(ep.name for ep in entry_points(group="backoffice.run"))


def load_run_command(name: str) -> Callable[..., Any]:
    """The ``backoffice run NAME`` command, imported only when it is used."""
    for ep in entry_points(group="backoffice.run"):
        if ep.name == name:
            command: Callable[..., Any] = ep.load()
            return command
    raise NotFound(f"no run command {name!r}; installed: {', '.join(run_command_names()) or 'none'}")
