"""Evidence packs, purge with checkpoints and the access review on a real PostgreSQL."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from backoffice import audit, retention
from backoffice.access_review import access_review
from backoffice.evidence_pack import PackFilters, export_pack, verify_pack
from backoffice.settings import reset_settings
from backoffice.store import Store, utcnow
from backoffice.testing import TEST_USERS
from backoffice.users import add_user
from tests.compliance.conftest import build_scenario
from tests.scale.pgcluster import PgCluster, PgUnavailable

pytestmark = pytest.mark.slow
_names = itertools.count(1)


@pytest.fixture(scope="module")
def pg() -> Iterator[PgCluster]:
    try:
        cluster = PgCluster.start()
    except PgUnavailable as exc:
        pytest.skip(f"no PostgreSQL for the backend tests: {exc}")
    yield cluster
    Store.close_all()
    cluster.stop()


@pytest.fixture
def pg_store(pg: PgCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    url = pg.create_database(f"bo_compliance_{os.getpid()}_{next(_names)}")
    monkeypatch.setenv("BACKOFFICE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("BACKOFFICE_DATABASE_URL", url)
    reset_settings()
    Store.close_all()
    yield Store.open()
    Store.close_all()
    reset_settings()


def test_pack_purge_and_review_on_postgresql(pg_store: Store, tmp_path: Path) -> None:
    s = pg_store
    assert not s.is_sqlite
    for name, role in TEST_USERS.items():
        add_user(s, name, role, password=f"{name}-password")
    sc = build_scenario(s)

    pack = tmp_path / "pg.zip"
    export_pack(s, pack, user="compliance", filters=PackFilters(bot="invoice-matching", sample=5, seed=7))
    assert verify_pack(pack).ok

    codes = {c["code"] for c in access_review(s)["conflicts"]}
    assert codes == {"SOD-MAKER-CHECKER", "SOD-BANK-CHANGE-APPROVAL"}

    retention.place_hold(s, f"item:{sc.invoice_b}", "litigation", by="compliance")
    result = retention.purge(s, by="compliance", as_of=utcnow() + timedelta(days=20 * 365))
    assert result.checkpoint is not None and result.items_held == 1 and result.items_purged >= 2
    check = audit.verify(s)
    assert check.ok and check.start_seq == result.through_seq + 1
    after = tmp_path / "after.zip"
    export_pack(s, after, user="compliance")
    assert verify_pack(after).ok
