"""Evidence packs, purge with checkpoints and the access review on a real PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from backoffice import audit, retention
from backoffice.access_review import access_review
from backoffice.audit.pack import PackFilters, export_pack, verify_pack
from backoffice.store import Store, utcnow
from backoffice.testing import TEST_USERS
from backoffice.users import add_user
from tests.compliance.conftest import build_scenario

pytestmark = pytest.mark.slow


@pytest.fixture
def pg_store(pg_url: str) -> Store:
    return Store.open()


def test_pack_purge_and_review_on_postgresql(pg_store: Store, tmp_path: Path) -> None:
    s = pg_store
    assert not s.is_sqlite
    for name, role in TEST_USERS.items():
        add_user(s, name, role, password=f"{name}-password")
    sc = build_scenario(s)

    pack = tmp_path / "pg.zip"
    export_pack(s, pack, user="compliance", filters=PackFilters(bot="test-invoices", sample=5, seed=7))
    assert verify_pack(pack).ok

    codes = {c["code"] for c in access_review(s)["conflicts"]}
    # the scenario's checker of one round making the next after a reopen is no conflict (issue 13)
    assert codes == {"SOD-BANK-CHANGE-APPROVAL"}

    retention.place_hold(s, f"item:{sc.invoice_b}", "litigation", by="compliance")
    result = retention.purge(s, by="compliance", as_of=utcnow() + timedelta(days=20 * 365))
    assert result.checkpoint is not None and result.items_held == 1 and result.items_purged >= 2
    check = audit.verify(s)
    assert check.ok and check.start_seq == result.through_seq + 1
    after = tmp_path / "after.zip"
    export_pack(s, after, user="compliance")
    assert verify_pack(after).ok
