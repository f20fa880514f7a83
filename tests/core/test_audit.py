from __future__ import annotations

import sqlite3

import pytest

from backoffice import audit
from backoffice.audit import AuditEntry
from backoffice.audit.anchor import head_signature
from backoffice.cli import main
from backoffice.errors import IntegrityError
from backoffice.testing import open_store


def _fill(store, n=10):
    with store.write() as conn:
        audit.append_many(
            conn,
            store,
            [
                AuditEntry(
                    actor="tester", action="thing.done", subject=f"item:{i}", data={"i": i, "amount": "1.50"}
                )
                for i in range(n)
            ],
        )


def _db(store) -> sqlite3.Connection:
    return sqlite3.connect(store.url.split("///", 1)[1])


def test_intact_chain_verifies_and_names_head(bo_store):
    _fill(bo_store, 25)
    r = audit.verify(bo_store)
    assert r.ok and r.checked == 25 and r.head_seq == 25
    assert r.first_bad_seq is None


def test_edit_is_detected_at_that_entry(bo_store):
    _fill(bo_store)
    with _db(bo_store) as db:
        db.execute("UPDATE audit SET data = ? WHERE seq = 4", ('{"amount":"9.99","i":3}',))
    r = audit.verify(bo_store)
    assert not r.ok and r.first_bad_seq == 4 and "altered" in r.reason


def test_edit_of_actor_column_is_detected(bo_store):
    _fill(bo_store)
    with _db(bo_store) as db:
        db.execute("UPDATE audit SET actor = 'mallory' WHERE seq = 7")
    assert audit.verify(bo_store).first_bad_seq == 7


def test_deletion_is_detected(bo_store):
    _fill(bo_store)
    with _db(bo_store) as db:
        db.execute("DELETE FROM audit WHERE seq = 5")
    r = audit.verify(bo_store)
    assert not r.ok and r.first_bad_seq == 5 and "missing" in r.reason


def test_deleting_the_tail_is_detected_against_the_head(bo_store):
    _fill(bo_store)
    with _db(bo_store) as db:
        db.execute("DELETE FROM audit WHERE seq >= 9")
    r = audit.verify(bo_store)
    assert not r.ok and r.first_bad_seq == 9


def test_insertion_is_detected(bo_store):
    _fill(bo_store)
    with _db(bo_store) as db:
        # shift entries 6.. up by one and forge a new entry 6 that links to 5
        db.execute("UPDATE audit SET seq = seq + 1000 WHERE seq >= 6")
        db.execute("UPDATE audit SET seq = seq - 999 WHERE seq >= 1006")
        prev = db.execute("SELECT hash FROM audit WHERE seq = 5").fetchone()[0]
        row = {
            "seq": 6,
            "at": "2026-01-01T00:00:00.000000+00:00",
            "actor": "mallory",
            "role": None,
            "action": "forged",
            "subject": None,
            "bot": None,
            "data": "{}",
            "ruleset_version": None,
            "evidence": "[]",
            "outcome": None,
            "prev_hash": prev,
        }
        row["hash"] = audit.entry_hash(row, None)
        db.execute(
            "INSERT INTO audit (seq, at, actor, role, action, subject, bot, data, ruleset_version, evidence, outcome, prev_hash, hash)"
            " VALUES (:seq, :at, :actor, :role, :action, :subject, :bot, :data, :ruleset_version, :evidence, :outcome, :prev_hash, :hash)",
            row,
        )
    r = audit.verify(bo_store)
    assert not r.ok and r.first_bad_seq == 7  # the forged entry links, the one after it does not


def test_reordering_is_detected(bo_store):
    _fill(bo_store)
    with _db(bo_store) as db:
        db.execute("UPDATE audit SET seq = -1 WHERE seq = 3")
        db.execute("UPDATE audit SET seq = 3 WHERE seq = 4")
        db.execute("UPDATE audit SET seq = 4 WHERE seq = -1")
    r = audit.verify(bo_store)
    assert not r.ok and r.first_bad_seq == 3


def test_hmac_key_is_needed_to_verify(tmp_path, monkeypatch):
    store = open_store(tmp_path / "h", monkeypatch, audit_key="k3y-for-tests")
    _fill(store, 3)
    assert audit.verify(store).ok
    monkeypatch.delenv("BACKOFFICE_AUDIT_KEY")
    plain = open_store(tmp_path / "h", monkeypatch)
    r = audit.verify(plain)
    assert not r.ok and r.first_bad_seq == 1 and "AUDIT_KEY" in r.reason


def test_cli_verify_exit_codes(bo_store, capsys):
    _fill(bo_store, 5)
    assert main(["audit", "verify"]) == 0
    with _db(bo_store) as db:
        db.execute("UPDATE audit SET outcome = 'x' WHERE seq = 2")
    assert main(["audit", "verify"]) == 1
    assert "entry 2" in capsys.readouterr().err


def test_evidence_is_content_addressed_and_checked(bo_store):
    ref = audit.put_evidence(bo_store, b"%PDF-1.7 page", "inv.pdf", "application/pdf")
    again = audit.put_evidence(bo_store, b"%PDF-1.7 page", "copy.pdf", "application/pdf")
    assert ref.sha256 == again.sha256
    path = audit.evidence_path(bo_store, ref.sha256)
    assert path.read_bytes() == b"%PDF-1.7 page"
    audit.check_evidence(bo_store, ref.sha256)
    path.write_bytes(b"changed")
    with pytest.raises(IntegrityError):
        audit.check_evidence(bo_store, ref.sha256)


def test_the_head_is_signed_and_writers_refuse_a_rewound_head(tmp_path, monkeypatch):
    store = open_store(tmp_path / "h", monkeypatch, audit_key="k3y-for-tests")
    _fill(store, 6)
    with _db(store) as db:
        seq, h, sig = db.execute("select seq, hash, signature from audit_head").fetchone()
        assert seq == 6 and sig == head_signature(b"k3y-for-tests", 6, h)
        db.execute("delete from audit where seq > 4")
        (h4,) = db.execute("select hash from audit where seq = 4").fetchone()
        db.execute("update audit_head set seq = 4, hash = ?", (h4,))
    r = audit.verify(store)
    assert not r.ok and r.first_bad_seq == 5 and "head" in r.reason
    with pytest.raises(IntegrityError, match="head"):  # appending would sign the cut log
        audit.record(store, AuditEntry(actor="cli", action="x.y"))


def test_a_log_from_before_signed_heads_is_adopted_by_its_next_write(bo_store):
    _fill(bo_store, 3)
    with _db(bo_store) as db:
        db.execute("update audit_head set signature = null")
        db.execute("delete from audit_anchor")
    assert audit.verify(bo_store).ok
    audit.record(bo_store, AuditEntry(actor="cli", action="x.y"))
    with _db(bo_store) as db:
        assert db.execute("select signature from audit_head").fetchone()[0] is not None
        assert db.execute("select first_seq, key_fp from audit_anchor").fetchone() == (3, "none")
    assert audit.verify(bo_store).ok


def test_cli_verify_quick_skips_evidence(bo_store, capsys):
    ref = audit.put_evidence(bo_store, b"scan", "scan.pdf")
    audit.record(bo_store, AuditEntry(actor="cli", action="x.y", evidence=[ref.sha256]))
    audit.evidence_path(bo_store, ref.sha256).write_bytes(b"scam")
    assert main(["audit", "verify", "--quick"]) == 0
    assert main(["audit", "verify"]) == 1
    assert ref.sha256 in capsys.readouterr().err
