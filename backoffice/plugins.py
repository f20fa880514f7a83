"""The plugin registry: bots found through entry points, so the core never imports a bot.

- group ``backoffice.bots``: one entry per bot, ``name = "package.module:bot"`` naming the
  :class:`~backoffice.contract.Bot` object. Everything else the core needs about a bot (its
  inputs, run command, flow, extra commands and flows, data classes) comes from that object.
- group ``backoffice.commands``: extra top-level CLI commands that are not a bot's (the demo),
  ``name = "module:typer_app_or_function"``.

Tests inject bots without installing anything: ``with use_bots([MyBot()]): ...``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from importlib.metadata import entry_points
from typing import Any

from backoffice.contract import Bot
from backoffice.errors import ConfigError, NotFound

__all__ = [
    "Installed",
    "Registry",
    "command_names",
    "installed",
    "load_command",
    "registry",
    "use_bots",
    "using",
]

BOTS_GROUP = "backoffice.bots"
COMMANDS_GROUP = "backoffice.commands"


class Registry:
    """Installed bots by name: from entry points, or from the list a test gives."""

    def __init__(self, bots: Iterable[Bot[Any, Any]] | None = None) -> None:
        self._given = {b.name: b for b in bots} if bots is not None else None

    def names(self) -> list[str]:
        if self._given is not None:
            return sorted(self._given)
        return sorted({ep.name for ep in entry_points(group=BOTS_GROUP)})

    def get(self, name: str) -> Bot[Any, Any]:
        if self._given is not None:
            if name in self._given:
                return self._given[name]
        else:
            for ep in entry_points(group=BOTS_GROUP):
                if ep.name == name:
                    return _checked(ep.name, ep.value, ep.load())
        raise NotFound(f"no bot {name!r}; installed bots: {', '.join(self.names()) or 'none'}")

    def find(self, name: str) -> Bot[Any, Any] | None:
        """The bot, or None when it is not installed (an item of an uninstalled bot)."""
        try:
            return self.get(name)
        except NotFound:
            return None

    def bots(self) -> list[Bot[Any, Any]]:
        return [self.get(n) for n in self.names()]


class Installed(Registry):
    """The installed bots as their entry points stood when it was made: the entry points are read
    once and each bot is loaded on its first look-up. For a long-running process (the inbox, which
    looks bots up on every page) that otherwise scans every installed distribution's metadata per
    look-up; it holds what the process found, so a bot installed later needs a restart."""

    def __init__(self) -> None:
        super().__init__()
        self._points = {ep.name: ep for ep in entry_points(group=BOTS_GROUP)}
        self._loaded: dict[str, Bot[Any, Any]] = {}
        self._lock = threading.Lock()

    def names(self) -> list[str]:
        return sorted(self._points)

    def get(self, name: str) -> Bot[Any, Any]:
        bot = self._loaded.get(name)
        if bot is not None:
            return bot
        ep = self._points.get(name)
        if ep is None:
            raise NotFound(f"no bot {name!r}; installed bots: {', '.join(self.names()) or 'none'}")
        with self._lock:
            if name not in self._loaded:
                self._loaded[name] = _checked(ep.name, ep.value, ep.load())
        return self._loaded[name]


def _checked(name: str, value: str, obj: Any) -> Bot[Any, Any]:
    if not isinstance(obj, Bot):
        raise ConfigError(f"entry point {name} = {value} is not a backoffice Bot (got {type(obj).__name__})")
    if obj.name != name:
        raise ConfigError(f"entry point {name} = {value} names a bot called {obj.name!r}")
    return obj


_current: ContextVar[Registry | None] = ContextVar("backoffice_registry", default=None)


def registry() -> Registry:
    """The registry in force: an injected one (tests) or the installed entry points."""
    return _current.get() or Registry()


def installed() -> Registry:
    """The registry in force if one was injected (tests), else an :class:`Installed` snapshot."""
    return _current.get() or Installed()


@contextmanager
def using(reg: Registry) -> Iterator[Registry]:
    """Within the block, ``reg`` is the registry in force."""
    token = _current.set(reg)
    try:
        yield reg
    finally:
        _current.reset(token)


@contextmanager
def use_bots(bots: Iterable[Bot[Any, Any]]) -> Iterator[Registry]:
    """Within the block, exactly these bots are installed."""
    with using(Registry(bots)) as reg:
        yield reg


def command_names() -> list[str]:
    return sorted({ep.name for ep in entry_points(group=COMMANDS_GROUP)})


def load_command(name: str) -> Any:
    for ep in entry_points(group=COMMANDS_GROUP):
        if ep.name == name:
            return ep.load()
    raise NotFound(f"no command {name!r}")
