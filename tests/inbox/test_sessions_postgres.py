"""The login throttle, sessions and tokens on PostgreSQL (row locks instead of SQLite's write lock)."""

from __future__ import annotations

import threading

import pytest

from backoffice.errors import PermissionDenied
from backoffice.inbox import throttle
from backoffice.store import Store
from backoffice.testing import TEST_USERS
from backoffice.users import add_user, authenticate_token, create_token, deactivate_user

pytestmark = pytest.mark.slow


def test_throttle_slots_tokens_and_deactivation_on_postgresql(pg_url: str) -> None:
    store = Store.open()
    assert not store.is_sqlite
    for name, role in TEST_USERS.items():
        add_user(store, name, role, password=f"{name}-password")
    results: list[bool] = []
    lock = threading.Lock()

    def guess() -> None:
        allowed = throttle.begin(store, "approver", "10.1.1.1").allowed
        with lock:
            results.append(allowed)

    threads = [threading.Thread(target=guess) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(True) == throttle.POLICIES["pair"].free
    _, secret = create_token(store, "associate", "pg", days=1, auth="password")
    assert authenticate_token(store, secret).name == "associate"
    deactivate_user(store, "associate", by="admin")
    with pytest.raises(PermissionDenied):
        authenticate_token(store, secret)
