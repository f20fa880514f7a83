"""``backoffice new bot NAME``: a new bot as an installable distribution of its own.

The files come from ``template/`` beside this module: a complete bot (pyproject.toml with the
``backoffice.bots`` entry point, the package with ``models.py``, ``rules.py`` and ``bot.py``, a
README listing its inputs and rule codes, and pytest tests using the backoffice plugin). The
template is real code, linted and type-checked with the core; writing it out replaces its
placeholder names, in file contents and paths:

=================  ===========================  =================================
placeholder        for ``demo-orders``          what
=================  ===========================  =================================
``scaffold_pkg``   ``demo_orders_bot``          the Python package
``scaffold-dist``  ``demo-orders-bot``          the distribution (pip) name
``scaffold-name``  ``demo-orders``              the bot's name (CLI, entry point)
``ScaffoldName``   ``DemoOrders``               prefix of its classes
``SCAFFOLD-CODE``  ``DEMO-ORDERS``              prefix of its rule codes
=================  ===========================  =================================

The package is ``<name>_bot`` so that it can never shadow a top-level package of backoffice's
own repository (``bots``, ``flows``, ``tests``...) once installed next to it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from backoffice.errors import ConflictError, UsageError

__all__ = ["RESERVED_PACKAGES", "BotNames", "bot_names", "create_bot", "template_files"]

RESERVED_PACKAGES = frozenset(
    {"backoffice", "bots", "flows", "connectors", "fixtures", "examples", "tests", "bench"}
)
"""Top-level packages of backoffice's repository: a bot's package must not be one of them."""

_NAME = re.compile(r"^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$")


@dataclass(frozen=True)
class BotNames:
    """Every name the scaffold derives from a bot name."""

    name: str  # demo-orders
    package: str  # demo_orders_bot
    dist: str  # demo-orders-bot
    classes: str  # DemoOrders
    code: str  # DEMO-ORDERS

    def replacements(self) -> list[tuple[str, str]]:
        return [
            ("scaffold_pkg", self.package),
            ("scaffold-dist", self.dist),
            ("scaffold-name", self.name),
            ("ScaffoldName", self.classes),
            ("SCAFFOLD-CODE", self.code),
        ]

    def fill(self, text: str) -> str:
        for placeholder, value in self.replacements():
            text = text.replace(placeholder, value)
        return text


def bot_names(name: str) -> BotNames:
    """The names for a bot called ``name``; raises UsageError for a bad name."""
    if not _NAME.fullmatch(name):
        raise UsageError(
            f"bot name {name!r}: use lower-case letters, digits and single dashes, starting with a "
            "letter (e.g. demo-orders)",
            field="name",
        )
    stem = name.replace("-", "_")
    package = stem if stem.endswith("_bot") else f"{stem}_bot"
    if package in RESERVED_PACKAGES:
        raise UsageError(
            f"bot name {name!r} gives the package {package!r}, which backoffice's own repository "
            f"uses (reserved: {', '.join(sorted(RESERVED_PACKAGES))})",
            field="name",
        )
    return BotNames(
        name=name,
        package=package,
        dist=package.replace("_", "-"),
        classes="".join(part.capitalize() for part in name.split("-")),
        code=name.upper(),
    )


def _walk(node: Traversable, prefix: str) -> list[tuple[str, Traversable]]:
    out: list[tuple[str, Traversable]] = []
    for child in sorted(node.iterdir(), key=lambda c: c.name):
        if child.name.startswith(".") or child.name == "__pycache__" or child.name.endswith(".pyc"):
            continue  # tool caches (.ruff_cache, .mypy_cache, bytecode) are not part of the template
        path = f"{prefix}{child.name}"
        if child.is_dir():
            out.extend(_walk(child, f"{path}/"))
        else:
            out.append((path, child))
    return out


def template_files(names: BotNames) -> dict[str, str]:
    """Relative path -> text of every file of the new bot's distribution."""
    root = resources.files(__name__) / "template"
    return {names.fill(path): names.fill(node.read_text(encoding="utf-8")) for path, node in _walk(root, "")}


def create_bot(name: str, parent: Path, *, installed: frozenset[str] = frozenset()) -> tuple[Path, list[str]]:
    """Write the distribution of a new bot to ``parent/name``; returns that directory and the files.

    Refuses a target directory that exists and is not empty, and the name of a bot in ``installed``
    (two entry points of one name would hide each other).
    """
    names = bot_names(name)
    if name in installed:
        raise ConflictError(f"a bot named {name!r} is installed already: choose another name")
    target = parent.expanduser().resolve() / name
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ConflictError(f"{target} exists and is not empty: choose another --dir or name")
    files = template_files(names)
    for rel, text in files.items():
        path = target / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return target, sorted(files)
