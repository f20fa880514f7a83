"""The one-statement audit append of PostgreSQL (backoffice.audit.pg_append).

The server computes the entry's hash and the head's signature: the bytes it hashes must be
exactly those of :func:`backoffice.audit.chain.entry_hash` (checked here without a server, and
by ``audit.verify`` on a real cluster with awkward text); a keyed store never sends its key to the
server (it appends the usual way, and verifies the same); and the refusals of
the usual append (a tampered head, a changed anchor) must still happen after the process has
appended once the fast way.
"""

from __future__ import annotations

import hashlib
import threading

import pytest
from sqlalchemy import event, update

from backoffice import audit
from backoffice.audit import AuditEntry
from backoffice.audit.chain import entry_hash
from backoffice.audit.pg_append import entry_parts
from backoffice.errors import ConfigError, IntegrityError
from backoffice.schema import audit_anchor, audit_head
from backoffice.settings import reset_settings
from backoffice.store import Store

ODD = ["plain", 'quote " and \\ backslash', "new\nline\ttab\x01", "é ü € 漢字 \U0001f600", ""]


def _row(i: int, text: str) -> dict[str, object]:
    return {
        "at": f"2026-12-03T06:0{i % 10}:00.000001+00:00",
        "actor": text or "a",
        "role": None if i % 2 else text,
        "action": "x.y",
        "subject": f"item:{i}",
        "bot": None if i % 3 else "toy",
        "data": '{"k":"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"}',
        "ruleset_version": text,
        "evidence": "[]",
        "outcome": None,
    }


@pytest.mark.parametrize("i, text", list(enumerate(ODD)))
def test_the_parts_around_prev_and_seq_hash_as_entry_hash(i, text):
    row = _row(i, text)
    prev, seq = hashlib.sha256(text.encode()).hexdigest(), 1000 + i
    pre, mid, post = entry_parts(row)
    message = (prev + pre + prev + mid + str(seq) + post).encode()
    assert hashlib.sha256(message).hexdigest() == entry_hash({**row, "seq": seq, "prev_hash": prev}, None)


pg = pytest.mark.slow


def _statements(store: Store) -> list[str]:
    seen: list[str] = []
    event.listen(store.engine, "before_cursor_execute", lambda c, cur, sql, *a: seen.append(sql))
    return seen


@pg
@pytest.mark.parametrize("key", [None, "a key é"])
def test_entries_appended_by_the_server_verify(pg_url, monkeypatch, key):
    if key is not None:
        monkeypatch.setenv("BACKOFFICE_AUDIT_KEY", key)
    reset_settings()
    store = Store.open()
    audit.record(store, AuditEntry(actor="cli", action="first"))  # the usual way: head and anchor made
    audit.record(store, AuditEntry(actor="cli", action="second"))  # the usual way: anchor checked
    seen = _statements(store)
    for i, text in enumerate(ODD):
        audit.record(
            store,
            AuditEntry(
                actor=text or "a", role=text or None, action="x.y", subject=f"item:{i}", data={"t": text}
            ),
        )
    if key is None:  # one statement per append: no head read of its own
        assert not any("FROM audit_head" in s and "INSERT" not in s for s in seen), seen
    else:  # the key never goes to the server: no hash computed there, the usual locked read
        assert not any("sha256(" in s for s in seen), seen
        assert any("FROM audit_head" in s and "INSERT" not in s for s in seen), seen
    r = audit.verify(store)
    assert r.ok and r.checked == len(ODD) + 2, r


@pg
def test_threads_appending_at_once_leave_one_chain(pg_url):
    store = Store.open()
    audit.record(store, AuditEntry(actor="cli", action="first"))

    def write(n: int) -> None:
        for j in range(25):
            audit.record(store, AuditEntry(actor=f"t{n}", action="x.y", data={"j": j}))

    threads = [threading.Thread(target=write, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    r = audit.verify(store)
    assert r.ok and r.checked == 151 and r.head_seq == 151, r


@pg
def test_a_rewound_head_is_refused_after_fast_appends(pg_url):
    store = Store.open()
    for n in range(3):
        audit.record(store, AuditEntry(actor="cli", action=f"x.{n}"))
    with store.write() as conn:  # cut the last entry off and rewind the head, without the key
        conn.execute(update(audit_head).values(seq=2))
    with pytest.raises(IntegrityError, match="head"):
        audit.record(store, AuditEntry(actor="cli", action="x.after"))


@pg
def test_a_changed_anchor_is_refused_after_fast_appends(pg_url):
    store = Store.open()
    for n in range(2):
        audit.record(store, AuditEntry(actor="cli", action=f"x.{n}"))
    with store.write() as conn:
        conn.execute(update(audit_anchor).values(key_fp="f" + "0" * 31))
    with pytest.raises((ConfigError, IntegrityError)):
        audit.record(store, AuditEntry(actor="cli", action="x.after"))
