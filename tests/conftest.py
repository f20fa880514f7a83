"""Suite-wide set-up: Prefect offline in a temp home, one Prefect harness per session.

Fixtures from the ``backoffice.testing`` plugin: ``bo_store``, ``bo_users``.

``make test`` runs the suite on two pytest-xdist workers, whole files to a worker
(``--dist loadfile --no-loadscope-reorder``): each worker has its own Prefect home and harness,
PostgreSQL cluster and temp dirs. The heaviest files are handed out first (``HEAVY_FIRST``) so
that the two workers finish together instead of one running the scale-out test alone at the end.
"""

from __future__ import annotations

import itertools
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

# Files of more than ~40 s each (a full serial run's --durations), longest first. A file missing
# here only costs balance, never correctness.
HEAVY_FIRST = (
    "tests/scale/test_multiworker.py",
    "tests/bots/data_entry/test_data_entry_bot.py",
    "tests/plugins/test_third_party_bot.py",
    "tests/core/test_postgres.py",
    "tests/plugins/test_scaffold.py",
    "tests/core/test_engagements.py",
    "tests/scale/test_split.py",
    "tests/load/test_load_smoke.py",
    "tests/bots/data_entry/test_data_entry_mapping.py",
    "tests/flows/test_data_entry_flow.py",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Heavy files first, everything else in collection order (the sort is stable)."""
    rank = {path: i for i, path in enumerate(HEAVY_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::", 1)[0], len(rank)))


_PREFECT_HOME = tempfile.mkdtemp(prefix="bo-prefect-")
os.environ["PREFECT_HOME"] = _PREFECT_HOME
os.environ.pop("PREFECT_API_URL", None)
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ["DO_NOT_TRACK"] = "1"
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
os.environ.setdefault("PREFECT_SERVER_LOGGING_LEVEL", "WARNING")

REPO = Path(__file__).resolve().parents[1]
REALDATA = REPO.parent / "shared" / "realdata"
ARTIFACTS = REPO / "test-artifacts"


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """Prefect's test harness, started once per test session (request it in flow tests)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture(scope="session")
def realdata() -> Path:
    if not REALDATA.is_dir():
        pytest.skip(f"real data not found at {REALDATA} (see the brief: ../shared/realdata)")
    return REALDATA


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


_pg_names = itertools.count(1)


@pytest.fixture(scope="session")
def pg():
    """One throwaway PostgreSQL cluster on 127.0.0.1 for the whole session (installed if missing)."""
    from backoffice.store import Store
    from tests.scale.pgcluster import PgCluster, PgUnavailable

    try:
        cluster = PgCluster.start()
    except PgUnavailable as exc:
        pytest.skip(f"no PostgreSQL for the backend tests: {exc}")
    yield cluster
    Store.close_all()
    cluster.stop()


@pytest.fixture
def pg_url(pg, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh, empty database; BACKOFFICE_DATABASE_URL and BACKOFFICE_HOME point at it."""
    from backoffice.settings import reset_settings
    from backoffice.store import Store

    url = pg.create_database(f"bo_test_{os.getpid()}_{next(_pg_names)}")
    monkeypatch.setenv("BACKOFFICE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("BACKOFFICE_DATABASE_URL", url)
    reset_settings()
    Store.close_all()
    yield url
    Store.close_all()
    reset_settings()
