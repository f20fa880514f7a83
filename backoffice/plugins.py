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

__all__ = ["bot_names", "load_bot", "load_bots", "run_commands"]


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


def run_commands() -> dict[str, Callable[..., Any]]:
    out: dict[str, Callable[..., Any]] = {}
    for ep in entry_points(group="backoffice.run"):
        try:
            out[ep.name] = ep.load()
        except (ImportError, AttributeError):
            continue  # a bot whose module is not installed: `backoffice run` lists what loads
    return out
