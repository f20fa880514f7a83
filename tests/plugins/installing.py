"""Installing a bot distribution from a source tree, offline, as a bot author would, and using it as
its users would: the ``backoffice`` command, the inbox, evidence packs.

``pip install --no-deps --no-build-isolation --target T SRC`` is what the tests try first: it
builds the wheel with the setuptools of this environment. A setuptools older than 70.1 cannot
build wheels without the separate ``wheel`` package (``invalid command 'bdist_wheel'``), and
without network access pip cannot fetch either; then setuptools itself writes the distribution's
metadata (``egg_info``, which reads the same pyproject.toml and needs no ``wheel``) into T and the
packages are copied beside it. Either way T holds the package and its entry points, and
``PYTHONPATH=T`` makes the distribution installed for a process, which is all backoffice's plugin
registry looks at.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
import warnings
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from backoffice import Store
from backoffice.testing import TEST_USERS, open_store
from backoffice.users import add_user

BIN = Path(sys.executable).parent


def pip_install(src: Path, target: Path) -> str:
    """Install the distribution in ``src`` into ``target``; returns how ("pip" or "egg_info")."""
    target.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation"]
    cmd += ["--no-index", "--disable-pip-version-check", "--target", str(target), str(src)]
    pip = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if pip.returncode == 0:
        return "pip"
    if "bdist_wheel" not in pip.stdout + pip.stderr:
        raise AssertionError(f"pip install failed:\n{pip.stdout}\n{pip.stderr}")
    meta = subprocess.run(
        [
            sys.executable,
            "-c",
            "from setuptools import setup; setup()",
            "egg_info",
            "--egg-base",
            str(target),
        ],
        cwd=src,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert meta.returncode == 0, f"setuptools egg_info failed:\n{meta.stdout}\n{meta.stderr}"
    for package in _packages(src):
        shutil.copytree(src / package, target / package, ignore=shutil.ignore_patterns("__pycache__"))
    return "egg_info"


def _packages(src: Path) -> list[str]:
    """Top-level packages of the distribution (``[tool.setuptools.packages.find] include``)."""
    config = tomllib.loads((src / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["packages"]["find"]["include"]
    roots = {p.rstrip("*").rstrip(".") for p in patterns}
    return sorted(r for r in roots if (src / r / "__init__.py").is_file())


def cli_env(target: Path, home: Path, **extra: str) -> dict[str, str]:
    """The environment of a ``backoffice`` process with the distribution in ``target`` installed."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BACKOFFICE_")}
    env["PYTHONPATH"] = os.pathsep.join([str(target), *filter(None, [os.environ.get("PYTHONPATH")])])
    env["BACKOFFICE_HOME"] = str(home)
    env["COLUMNS"] = "200"
    env.update(extra)
    return env


def backoffice(
    *args: str, env: dict[str, str], check: bool = True, **kw: Any
) -> subprocess.CompletedProcess[str]:
    """Run the ``backoffice`` command (the console script of this environment)."""
    script = BIN / "backoffice"
    cmd = (
        [str(script)]
        if script.exists()
        else [sys.executable, "-c", "import sys; from backoffice.cli import main; sys.exit(main())"]
    )
    result = subprocess.run([*cmd, *args], env=env, capture_output=True, text=True, timeout=600, **kw)
    if check:
        assert result.returncode == 0, (
            f"backoffice {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
        )
    return result


def user_args(command: tuple[str, ...], user: str, env: dict[str, str]) -> list[str]:
    """``["--user", user]`` when ``backoffice COMMAND --help`` offers the option, else nothing."""
    help_text = backoffice(*command, "--help", env=env).stdout
    return ["--user", user] if "--user" in help_text else []


def add_users(home: Path) -> None:
    """One user per role (``backoffice.testing.TEST_USERS``, password ``<name>-password``) in the
    store under ``home``."""
    with pytest.MonkeyPatch.context() as mp:
        store = open_store(home, mp)
        for user, role in TEST_USERS.items():
            add_user(store, user, role, password=f"{user}-password")
        Store.close_all()


@contextmanager
def installed_here(
    target: Path, home: Path, package: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Store]:
    """In this process too: ``target`` on sys.path (as PYTHONPATH does) and the store under ``home``."""
    monkeypatch.syspath_prepend(str(target))
    importlib.invalidate_caches()
    store = open_store(home, monkeypatch)
    try:
        yield store
    finally:
        Store.close_all()
        for mod in [m for m in sys.modules if m == package or m.startswith(f"{package}.")]:
            del sys.modules[mod]


def queue_list(env: dict[str, str], bot: str, *args: str) -> list[dict[str, Any]]:
    """``backoffice queue list --bot BOT --json`` as an associate."""
    extra = user_args(("queue", "list"), "associate", env)
    out = backoffice("queue", "list", "--bot", bot, *args, *extra, "--json", env=env)
    return list(json.loads(out.stdout))


def pack_texts(env: dict[str, str], bot: str, out: Path) -> dict[str, str]:
    """Every file of a (masked) evidence pack of ``bot``'s entries, exported by compliance, as text."""
    backoffice("audit", "export", "--out", str(out), "--bot", bot, "--user", "compliance", env=env)
    with zipfile.ZipFile(out) as zf:
        return {n: zf.read(n).decode("utf-8", "replace") for n in zf.namelist()}


def inbox_client(store: Store, user: str) -> Any:
    """A FastAPI TestClient of the inbox on ``store``, logged in as ``user``."""
    from backoffice.inbox import create_app

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # starlette prefers httpx2; the client works the same
        from fastapi.testclient import TestClient
    client = TestClient(create_app(store, count_staleness=0), follow_redirects=False)

    def token(html: str) -> str:
        m = re.search(r'name="csrf_token" value="([^"]+)"', html)
        assert m, "no CSRF token in the page"
        return m.group(1)

    form = {"csrf_token": token(client.get("/login").text), "username": user, "password": f"{user}-password"}
    r = client.post("/login", data=form)
    assert r.status_code == 303, r.text
    return client
