"""The bot author's API: ``backoffice.__all__`` pinned (as httpx pins its own), every name importable
and defined inside backoffice. A change here is a change of the public API: say so in the notes."""

from __future__ import annotations

import subprocess
import sys
import types
import typing
from pathlib import PurePath

import backoffice

PUBLIC_API = [
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

PATH_ALIASES = {"InputFile", "InputDir", "OutputFile"}  # Annotated[Path, ...]: typing objects


def test_all_is_pinned_and_sorted() -> None:
    assert backoffice.__all__ == PUBLIC_API
    assert sorted(backoffice.__all__) == backoffice.__all__
    assert len(set(backoffice.__all__)) == len(backoffice.__all__)


def test_every_name_is_importable() -> None:
    namespace: dict[str, object] = {}
    exec("from backoffice import *", namespace)
    assert sorted(k for k in namespace if k != "__builtins__") == PUBLIC_API
    for name in PUBLIC_API:
        assert getattr(backoffice, name) is namespace[name]


def test_every_exported_object_is_defined_inside_backoffice() -> None:
    for name in PUBLIC_API:
        obj = getattr(backoffice, name)
        if name in PATH_ALIASES:
            # A type alias has no module of its own (typing reports pathlib's): check what it is and
            # that a backoffice module exports it under that name.
            assert typing.get_origin(obj) is typing.Annotated, name
            assert issubclass(typing.get_args(obj)[0], PurePath), name
            homes = [
                m
                for m_name, m in list(sys.modules.items())
                if m_name.startswith("backoffice.") and name in getattr(m, "__all__", ())
            ]
            assert any(getattr(m, name) is obj for m in homes), name
            continue
        module = getattr(obj, "__module__", None)
        assert module is not None and module.split(".")[0] == "backoffice", (name, module)
        assert not module.split(".")[-1].startswith("test"), (name, module)


def test_nothing_public_is_left_out_of_all() -> None:
    """httpx-style: every public class or function reachable on the package is in ``__all__``
    (submodules and the package's own typing imports aside)."""
    for name in PUBLIC_API:
        getattr(backoffice, name)  # load them all
    leaked = sorted(
        name
        for name, value in vars(backoffice).items()
        if not name.startswith("_")
        and not isinstance(value, types.ModuleType)
        and str(getattr(value, "__module__", "")).split(".")[0] == "backoffice"
        and name not in PUBLIC_API
    )
    assert leaked == []
    assert dir(backoffice) == sorted([*PUBLIC_API, "__version__"])


def test_unknown_names_raise_attribute_error() -> None:
    try:
        backoffice.NoSuchThing  # type: ignore[attr-defined]  # noqa: B018
    except AttributeError as exc:
        assert "NoSuchThing" in str(exc)
    else:
        raise AssertionError("backoffice.NoSuchThing did not raise AttributeError")


def test_import_is_cheap() -> None:
    """``import backoffice`` loads no submodule (names load when first used), so a bot's CLI start
    and a worker's import stay fast; Prefect and SQLAlchemy come only with the names that need them."""
    code = (
        "import sys, backoffice\n"
        "print(sorted(m for m in sys.modules if m.startswith(('backoffice.', 'prefect', 'sqlalchemy'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
