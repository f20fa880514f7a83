"""Issue 16, sessions and login: server-side sessions that end, the login throttle, Origin checks."""

from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy import select, update

from backoffice import audit
from backoffice.inbox import throttle
from backoffice.schema import login_throttle, sessions, users
from backoffice.store import utcnow
from backoffice.users import deactivate_user, set_password
from tests.inbox.conftest import csrf_of, login, make_client


def _actions(store, action):
    return list(audit.entries(store, action=action))


def _open_sessions(store, user):
    with store.read() as conn:
        return conn.execute(
            select(sessions).where(sessions.c.user == user, sessions.c.ended_at.is_(None))
        ).all()


def test_a_session_is_stored_server_side_and_logout_ends_it_for_a_copied_cookie(bo_store, bo_users):
    c = make_client(bo_store)
    token = login(c, "associate")
    stolen = dict(c.cookies)
    (row,) = _open_sessions(bo_store, "associate")
    assert row.auth == "password" and row.role == "associate"
    assert stolen["bo_session"] not in row.id  # the store keeps a hash, not the cookie's secret
    assert c.post("/logout", data={"csrf_token": token}).status_code == 303
    assert not _open_sessions(bo_store, "associate")
    replay = make_client(bo_store)
    replay.cookies.update(stolen)
    assert replay.get("/queue").status_code == 303  # the copied cookie no longer gets in
    logout = _actions(bo_store, "logout")
    assert [e["data"]["auth"] for e in logout] == ["session"]
    assert _actions(bo_store, "login")[0]["data"]["auth"] == "password"


def test_password_change_role_change_and_deactivation_end_sessions(bo_store, bo_users):
    clients = {}
    for name in ("associate", "team_lead", "qa"):
        clients[name] = make_client(bo_store)
        login(clients[name], name)
        assert clients[name].get("/queue").status_code == 200
    set_password(bo_store, "associate", "a-new-password")
    with (
        bo_store.write() as conn
    ):  # however the role changes (four-eyes in users.confirm_role), the session ends
        conn.execute(update(users).where(users.c.name == "team_lead").values(role="approver"))
    deactivate_user(bo_store, "qa", by="admin")
    for name, reason in (
        ("associate", "password_changed"),
        ("team_lead", "role_changed"),
        ("qa", "deactivated"),
    ):
        assert clients[name].get("/queue").status_code == 303, name
        with bo_store.read() as conn:
            reasons = [r.end_reason for r in conn.execute(select(sessions).where(sessions.c.user == name))]
        assert reasons == [reason]
    (entry,) = _actions(bo_store, "user.deactivated")
    assert entry["actor"] == "admin" and entry["subject"] == "user:qa"


def test_idle_and_absolute_timeouts(bo_store, bo_users):
    c = make_client(bo_store)
    login(c, "associate")
    idle = int(bo_store.settings.session_idle_minutes)
    with bo_store.write() as conn:
        conn.execute(update(sessions).values(last_seen_at=utcnow() - timedelta(minutes=idle, seconds=1)))
    assert c.get("/queue").status_code == 303
    c2 = make_client(bo_store)
    login(c2, "associate")
    assert c2.get("/queue").status_code == 200  # activity within the idle time keeps it
    with bo_store.write() as conn:
        conn.execute(update(sessions).where(sessions.c.ended_at.is_(None)).values(expires_at=utcnow()))
    assert c2.get("/queue").status_code == 303
    with bo_store.read() as conn:
        assert sorted(r.end_reason for r in conn.execute(select(sessions))) == ["expired", "idle"]


def test_a_foreign_origin_is_refused_even_with_a_valid_csrf_token(bo_store, bo_users, toy_run):
    c = make_client(bo_store)
    token = login(c, "associate")
    item = toy_run["ids"][0]
    for headers in (
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Referer": "https://evil.example/x"},
    ):
        r = c.post(f"/items/{item}/claim", data={"csrf_token": token}, headers=headers)
        assert r.status_code == 403, headers
    assert bo_store and c.get(f"/items/{item}").text.count("claimed by") == 0
    ok = c.post(f"/items/{item}/claim", data={"csrf_token": token}, headers={"Origin": "http://testserver"})
    assert ok.status_code == 303
    assert _actions(bo_store, "item.claimed")[-1]["data"]["auth"] == "session"


def test_login_failures_get_growing_delays_not_a_lock_and_a_bounded_audit(bo_store, bo_users):
    c = make_client(bo_store)
    token = csrf_of(c.get("/login").text)
    statuses = [
        c.post("/login", data={"csrf_token": token, "username": "approver", "password": "guess"}).status_code
        for _ in range(44)
    ]
    assert statuses[:5] == [401] * 5 and statuses[5] == 429  # the 6th waits (a delay, not evaluated)
    # the delays double (2 s, 4 s, 8 s ...): however slow this machine, few more guesses are evaluated
    assert statuses.count(401) <= 8 and set(statuses) == {401, 429}
    failed, locked = _actions(bo_store, "login.failed"), _actions(bo_store, "login.locked")
    assert 5 <= len(failed) <= statuses.count(401) and len(locked) <= 12  # audited at 1..5, 8, 16, 32
    # another client is not held up by this client's guesses
    other = make_client(bo_store)
    other_token = csrf_of(other.get("/login").text)
    r = other.post(
        "/login", data={"csrf_token": other_token, "username": "associate", "password": "associate-password"}
    )
    assert r.status_code == 303
    # the delay grows with each failure and is bounded
    p = throttle.POLICIES["pair"]
    assert p.delay(4) == timedelta(0) and p.delay(5) < p.delay(6) < p.delay(7)
    assert p.delay(100) == timedelta(seconds=p.cap_seconds)
    assert throttle.POLICIES["user"].cap_seconds <= 60  # a user name alone is never kept out for long


def test_after_the_delay_the_right_password_gets_in_and_resets_the_count(bo_store, bo_users):
    for _ in range(6):
        throttle.begin(bo_store, "approver", "10.0.0.1")
    assert not throttle.begin(bo_store, "approver", "10.0.0.1").allowed
    with bo_store.write() as conn:
        conn.execute(update(login_throttle).values(next_allowed_at=utcnow() - timedelta(seconds=1)))
    assert throttle.begin(bo_store, "approver", "10.0.0.1").allowed
    throttle.succeeded(bo_store, "approver", "10.0.0.1")
    with bo_store.read() as conn:
        keys = {r.key: r.failures for r in conn.execute(select(login_throttle))}
    assert keys == {"client:10.0.0.1": 5}  # 5 failures; the refusals and the success do not count


def test_concurrent_wrong_guesses_are_not_all_evaluated(bo_store, bo_users):
    results: list[bool] = []
    lock = threading.Lock()

    def guess() -> None:
        attempt = throttle.begin(bo_store, "approver", "10.9.9.9")
        with lock:
            results.append(attempt.allowed)

    threads = [threading.Thread(target=guess) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(True) == throttle.POLICIES["pair"].free  # each slot is taken atomically
    assert results.count(False) == 12 - results.count(True)
