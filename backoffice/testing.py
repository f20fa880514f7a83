"""Test helpers for bot authors (also a pytest plugin: ``pip install backoffice`` gives the fixtures).

Fixtures:
- ``bo_store``: a fresh store (SQLite file) under ``tmp_path`` with ``BACKOFFICE_HOME`` pointing there.
- ``bo_users``: one user per role (``associate``, ``team_lead``, ``approver``, ``qa``, ``compliance``,
  ``admin``, ``expert``, plus ``associate2``) in ``bo_store``.

Helpers:
- :class:`FakeLedger`: an idempotent target system with failure switches (``fail_rate``,
  ``fail_times``, ``slow_ms``) for testing a bot's ``act`` without the real system.
- :func:`queued`, :func:`done`: items of a bot by status.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from backoffice.errors import TransientError
from backoffice.queue import Queue, QueueItem
from backoffice.settings import reset_settings
from backoffice.store import Store
from backoffice.users import add_user

__all__ = ["FakeLedger", "bo_store", "bo_users", "done", "open_store", "queued"]

TEST_USERS = {
    "associate": "associate",
    "associate2": "associate",
    "team_lead": "team_lead",
    "approver": "approver",
    "qa": "qa_analyst",
    "compliance": "compliance",
    "admin": "admin",
    "expert": "rpa_expert",
}


def open_store(home: Path, monkeypatch: pytest.MonkeyPatch | None = None, **env: str) -> Store:
    """Point BACKOFFICE_HOME at ``home`` and open a fresh store there."""
    values = {"BACKOFFICE_HOME": str(home), **{f"BACKOFFICE_{k.upper()}": v for k, v in env.items()}}
    for k, v in values.items():
        if monkeypatch is not None:
            monkeypatch.setenv(k, v)
        else:
            import os

            os.environ[k] = v
    if monkeypatch is not None:
        monkeypatch.delenv("BACKOFFICE_DATABASE_URL", raising=False)
    reset_settings()
    Store.close_all()
    return Store.open()


@pytest.fixture
def bo_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    store = open_store(tmp_path / "home", monkeypatch)
    yield store
    Store.close_all()
    reset_settings()


@pytest.fixture
def bo_users(bo_store: Store) -> dict[str, str]:
    for name, role in TEST_USERS.items():
        add_user(bo_store, name, role, password=f"{name}-password")
    return dict(TEST_USERS)


def queued(store: Store, bot: str | None = None) -> list[QueueItem]:
    return Queue(store).list(status="queued", bot=bot, limit=None, sort="id")


def done(store: Store, bot: str | None = None) -> list[QueueItem]:
    return Queue(store).list(status="done", bot=bot, limit=None, sort="id")


class FakeLedger:
    """A JSON-lines ledger that refuses duplicates by key, with failure switches.

    ``fail_rate``: share of ``post`` calls that raise TransientError (seeded, repeatable);
    ``fail_times``: the first N calls fail; ``slow_ms``: delay per call.
    """

    def __init__(
        self, path: Path, *, fail_rate: float = 0.0, fail_times: int = 0, slow_ms: int = 0, seed: int = 7
    ) -> None:
        self.path = path
        self.fail_rate = fail_rate
        self.fail_times = fail_times
        self.slow_ms = slow_ms
        self.calls = 0
        self._rng = random.Random(seed)

    def keys(self) -> list[str]:
        if not self.path.exists():
            return []
        return [json.loads(line)["key"] for line in self.path.read_text().splitlines() if line.strip()]

    def post(self, key: str, record: dict[str, Any]) -> bool:
        """Append ``record`` unless ``key`` is there already; returns True if written."""
        self.calls += 1
        if self.slow_ms:
            time.sleep(self.slow_ms / 1000)
        if self.calls <= self.fail_times or self._rng.random() < self.fail_rate:
            raise TransientError(f"ledger unavailable (simulated, call {self.calls})")
        if key in set(self.keys()):
            return False
        with self.path.open("a") as fh:
            fh.write(json.dumps({"key": key, **record}) + "\n")
            fh.flush()
        return True
