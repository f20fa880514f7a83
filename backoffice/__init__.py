"""backoffice: RPA for back-office work, with evidence.

This module is the bot author's API: everything a bot needs is importable from here, and
``__all__`` is pinned by a test (tests/core/test_public_api.py). Other modules are internals
that may change. A minimal bot::

    from backoffice import Bot, Inputs, InputFile, Item, Outcome, RuleSet, Violation, rule

See ``examples/minimal_bot.py`` for one that runs. Test helpers are in :mod:`backoffice.testing`
(also a pytest plugin).

Names are loaded when first used, so ``import backoffice`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    # the bot contract
    "Bot": "backoffice.contract",
    "Inputs": "backoffice.contract",
    "InputFile": "backoffice.contract",
    "InputDir": "backoffice.contract",
    "OutputFile": "backoffice.contract",
    "State": "backoffice.contract",
    "Outcome": "backoffice.contract",
    "Run": "backoffice.runner",
    "RunSummary": "backoffice.runner",
    "run_bot": "backoffice.runner",
    "Store": "backoffice.store",
    # items and rules
    "Item": "backoffice.items",
    "SourceRef": "backoffice.items",
    "EvidenceRef": "backoffice.items",
    "make_key": "backoffice.items",
    "file_sha256": "backoffice.items",
    "rule": "backoffice.rules",
    "RuleSet": "backoffice.rules",
    "RuleSpec": "backoffice.rules",
    "Violation": "backoffice.rules",
    "DataClass": "backoffice.data_classes",
    # money
    "parse_amount": "backoffice.money",
    "q2": "backoffice.money",
    # errors
    "BackofficeError": "backoffice.errors",
    "ConfigError": "backoffice.errors",
    "ConflictError": "backoffice.errors",
    "ConnectorError": "backoffice.errors",
    "InputError": "backoffice.errors",
    "NotFound": "backoffice.errors",
    "PermissionDenied": "backoffice.errors",
    "TerminalError": "backoffice.errors",
    "TransientError": "backoffice.errors",
    "Terminal": "backoffice.errors",
    "Transient": "backoffice.errors",
    "UsageError": "backoffice.errors",
}

__all__ = [
    "BackofficeError",
    "Bot",
    "ConfigError",
    "ConflictError",
    "ConnectorError",
    "DataClass",
    "EvidenceRef",
    "InputDir",
    "InputError",
    "InputFile",
    "Inputs",
    "Item",
    "NotFound",
    "Outcome",
    "OutputFile",
    "PermissionDenied",
    "RuleSet",
    "RuleSpec",
    "Run",
    "RunSummary",
    "SourceRef",
    "State",
    "Store",
    "Terminal",
    "TerminalError",
    "Transient",
    "TransientError",
    "UsageError",
    "Violation",
    "file_sha256",
    "make_key",
    "parse_amount",
    "q2",
    "rule",
    "run_bot",
]

if TYPE_CHECKING:
    from backoffice.contract import Bot, InputDir, InputFile, Inputs, Outcome, OutputFile, State
    from backoffice.data_classes import DataClass
    from backoffice.errors import (
        BackofficeError,
        ConfigError,
        ConflictError,
        ConnectorError,
        InputError,
        NotFound,
        PermissionDenied,
        Terminal,
        TerminalError,
        Transient,
        TransientError,
        UsageError,
    )
    from backoffice.items import EvidenceRef, Item, SourceRef, file_sha256, make_key
    from backoffice.money import parse_amount, q2
    from backoffice.rules import RuleSet, RuleSpec, Violation, rule
    from backoffice.runner import Run, RunSummary, run_bot
    from backoffice.store import Store


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'backoffice' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return [*__all__, "__version__"]
