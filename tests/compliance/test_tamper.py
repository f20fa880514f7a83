"""Tampering with the audit log by someone who can write the database (issue 16), keyed and unkeyed.

A small store: four toy items through the queue (one rejected by its maker, one approved by a
checker, one claimed, one open), an evidence file named by an entry, and a digest file written
outside the database. Each test changes it the way an attacker with the database would and
checks that ``audit verify`` (with ``--digests`` where the database alone cannot tell) exits 1
naming what was done; or, where the log cannot know without its key, that the digests do.
"""

from __future__ import annotations

import json
import sqlite3
import zipfile
from decimal import Decimal
from pathlib import Path

import pytest

from backoffice import audit
from backoffice.audit import AuditEntry
from backoffice.audit.anchor import head_signature
from backoffice.audit.digests import digest_files, write_digest
from backoffice.audit.integrity import verify_store
from backoffice.cli import main
from backoffice.errors import ConfigError
from backoffice.items import Item, SourceRef
from backoffice.plugins import use_bots
from backoffice.queue import Queue
from backoffice.rules import Violation
from backoffice.store import Store
from backoffice.testing import TEST_USERS, open_store, queue_items
from backoffice.users import add_user
from tests.core.toybot import RULES
from tests.core.toybot import bot as toy_bot

KEY = "tamper-test-key"
MODES = ["keyed", "unkeyed"]


@pytest.fixture(autouse=True)
def _toy_installed():
    with use_bots([toy_bot]):
        yield


def _items(n: int) -> list[Item]:
    return [
        Item(
            bot="toy",
            key=f"k{i}",
            payload={
                "order_id": f"O{i}",
                "customer": "C1",
                "amount": "100.00",
                "iban": "DE89370400440532013000",
            },
            source=SourceRef(file="orders.csv", locator=f"row {i + 2}"),
            amount=Decimal("100.00"),
            currency="EUR",
            violations=[
                Violation(
                    code="TOY-LIMIT", message="amount above limit", field="amount", expected="1", actual="2"
                )
            ],
        )
        for i in range(n)
    ]


class Built:
    def __init__(self, store: Store, ids: list[int], evidence: str) -> None:
        self.store, self.ids, self.evidence = store, ids, evidence
        self.digests = store.settings.digest_dir

    def db(self) -> sqlite3.Connection:
        return sqlite3.connect(self.store.url.split("///", 1)[1])

    def key(self) -> bytes | None:
        k = self.store.settings.audit_key
        return k.get_secret_value().encode() if k is not None else None

    def head(self) -> int:
        with self.db() as db:
            return int(db.execute("select seq from audit_head").fetchone()[0])


@pytest.fixture(params=MODES)
def built(request, tmp_path, monkeypatch) -> Built:
    env = {"audit_key": KEY} if request.param == "keyed" else {}
    store = open_store(tmp_path / "home", monkeypatch, **env)
    for name, role in TEST_USERS.items():
        add_user(store, name, role)
    q = Queue(store)
    ids = queue_items(store, _items(4), ruleset=RULES)
    q.claim(ids[0], "associate")
    q.resolve(ids[0], "associate", "reject", "duplicate order")
    q.claim(ids[1], "associate")
    q.resolve(ids[1], "associate", "approve", "customer confirmed")
    q.resolve(ids[1], "team_lead", "approve", "checked")
    q.claim(ids[2], "associate2")
    ref = audit.put_evidence(store, b"%PDF-1.7 order O1", "o1.pdf", "application/pdf")
    audit.record(
        store,
        AuditEntry(
            actor="associate", action="item.attached", subject=f"item:{ids[1]}", evidence=[ref.sha256]
        ),
    )
    assert write_digest(store, force=True) is not None
    return Built(store, ids, ref.sha256)


def test_an_untouched_store_verifies_with_its_digests(built, capsys):
    r = verify_store(built.store, digests=built.digests)
    assert r.ok, r.reason
    assert r.head_seq == built.head()
    assert main(["audit", "verify", "--digests", str(built.digests)]) == 0
    assert "digests under" in capsys.readouterr().out


def _truncate(b: Built, n: int, *, resign: bool) -> int:
    """Delete the last ``n`` entries and point the head at the new last one (re-signing it as an
    attacker without the key can: plain SHA-256, or the HMAC recomputed only if they had the key)."""
    with b.db() as db:
        last = b.head() - n
        db.execute("delete from audit where seq > ?", (last,))
        (h,) = db.execute("select hash from audit where seq = ?", (last,)).fetchone()
        sig = head_signature(None, last, h) if resign else None
        db.execute(
            "update audit_head set seq = ?, hash = ?, signature = coalesce(?, signature)", (last, h, sig)
        )
    return last


@pytest.mark.parametrize("built", ["keyed"], indirect=True)
def test_truncation_keyed_is_caught_by_the_signed_head(built):
    last = _truncate(built, 5, resign=True)  # an attacker without the key can only sign with sha256
    r = audit.verify(built.store)
    assert not r.ok and r.first_bad_seq == last + 1 and "head" in r.reason
    assert main(["audit", "verify"]) == 1


@pytest.mark.parametrize("built", ["unkeyed"], indirect=True)
def test_truncation_unkeyed_passes_the_database_but_not_the_digests(built, capsys):
    last = _truncate(built, 5, resign=True)
    assert audit.verify(built.store).ok  # without a key the database alone cannot tell (README)
    r = verify_store(built.store, digests=built.digests)
    assert not r.ok and r.first_bad_seq == last + 1 and "truncated" in r.reason
    assert main(["audit", "verify", "--digests", str(built.digests)]) == 1
    assert f"entry {last + 1}" in capsys.readouterr().err


def test_truncation_is_caught_by_the_digests(built):
    last = _truncate(built, 5, resign=True)
    r = verify_store(built.store, digests=built.digests)
    assert not r.ok and r.first_bad_seq == last + 1


def test_wipe_of_entries_head_and_anchor_is_caught(built, capsys):
    with built.db() as db:
        db.execute("delete from audit")
        db.execute("delete from audit_head")
        db.execute("delete from audit_anchor")
    r = audit.verify(built.store)
    assert not r.ok and r.first_bad_seq == 1 and "wiped" in r.reason  # users and items remain
    assert main(["audit", "verify"]) == 1
    assert "wiped" in capsys.readouterr().err
    r = verify_store(built.store, digests=built.digests)
    assert not r.ok and "wiped" in r.reason


def test_wipe_of_entries_and_head_keeping_the_anchor_is_caught(built):
    with built.db() as db:
        db.execute("delete from audit")
        db.execute("delete from audit_head")
    r = audit.verify(built.store)
    assert not r.ok and "head was deleted" in r.reason
    with pytest.raises(Exception, match="head is missing"):  # and no writer extends the wiped log
        audit.record(built.store, AuditEntry(actor="cli", action="x.y"))


def test_wipe_of_the_whole_store_is_caught_only_by_the_digests(built):
    with built.db() as db:
        for table in ("audit", "audit_head", "audit_anchor", "comments", "items", "runs", "users"):
            db.execute(f"delete from {table}")
    assert audit.verify(built.store).ok  # an empty store, as far as the database knows
    r = verify_store(built.store, digests=built.digests)
    assert not r.ok and "wiped" in r.reason


def test_a_log_begun_again_after_a_wipe_is_caught(built):
    with built.db() as db:
        for table in ("audit", "audit_head", "audit_anchor"):
            db.execute(f"delete from {table}")
        db.execute("update users set created_at = '2020-01-01 00:00:00'")
    audit.record(built.store, AuditEntry(actor="cli", action="x.y"))  # a fresh anchor and chain
    r = audit.verify(built.store)
    assert not r.ok and "begun again" in r.reason
    r = verify_store(built.store, digests=built.digests)
    assert not r.ok and ("another store" in r.reason or "begun again" in r.reason)


@pytest.mark.parametrize("built", ["keyed"], indirect=True)
def test_a_write_without_the_key_is_refused_and_the_chain_stays_intact(built, monkeypatch, capsys):
    before = built.head()
    monkeypatch.delenv("BACKOFFICE_AUDIT_KEY")
    plain = open_store(built.store.settings.home, monkeypatch)
    with pytest.raises(ConfigError, match="BACKOFFICE_AUDIT_KEY is not set"):
        add_user(plain, "mallory", "associate")
    assert main(["users", "add", "mallory", "--role", "associate", "--by", "admin"]) != 0
    assert "BACKOFFICE_AUDIT_KEY" in capsys.readouterr().err
    monkeypatch.setenv("BACKOFFICE_AUDIT_KEY", "another-key")
    other = open_store(built.store.settings.home, monkeypatch)
    with pytest.raises(ConfigError, match="is not the key"):
        audit.record(other, AuditEntry(actor="cli", action="x.y"))
    monkeypatch.setenv("BACKOFFICE_AUDIT_KEY", KEY)
    keyed = open_store(built.store.settings.home, monkeypatch)
    assert built.head() == before
    assert verify_store(keyed).ok


@pytest.mark.parametrize("built", ["unkeyed"], indirect=True)
def test_a_keyed_write_into_an_unkeyed_log_is_refused(built, monkeypatch):
    keyed = open_store(built.store.settings.home, monkeypatch, audit_key=KEY)
    with pytest.raises(ConfigError, match="written without a key"):
        audit.record(keyed, AuditEntry(actor="cli", action="x.y"))
    monkeypatch.delenv("BACKOFFICE_AUDIT_KEY")
    assert verify_store(open_store(built.store.settings.home, monkeypatch)).ok


def test_an_edited_evidence_file_is_caught_and_quick_skips_it(built, capsys):
    path = audit.evidence_path(built.store, built.evidence)
    path.write_bytes(b"%PDF-1.7 order O1 (paid twice)")
    r = verify_store(built.store)
    assert not r.ok and built.evidence in r.reason and "altered" in r.reason
    assert r.first_bad_seq is not None  # the entry that named it
    assert main(["audit", "verify"]) == 1
    assert main(["audit", "verify", "--quick"]) == 0
    path.unlink()
    assert "missing" in (verify_store(built.store).reason or "")


@pytest.mark.parametrize("which", [0, 2, 3])  # resolved by its maker, claimed, open
def test_an_item_decided_in_the_database_is_caught(built, which, capsys):
    item_id = built.ids[which]
    with built.db() as db:
        db.execute(
            "update items set status='resolved', decision='approve', checker='carol' where id = ?", (item_id,)
        )
    r = verify_store(built.store, quick=True)
    assert not r.ok and f"item {item_id}" in r.reason
    assert main(["audit", "verify"]) == 1
    assert f"item {item_id}" in capsys.readouterr().err


@pytest.mark.parametrize(
    "column, value", [("checker", "carol"), ("maker", "team_lead"), ("decision", "reject")]
)
def test_a_changed_decider_is_caught(built, column, value):
    with built.db() as db:
        db.execute(f"update items set {column} = ? where id = ?", (value, built.ids[1]))
    r = verify_store(built.store, quick=True)
    assert not r.ok and f"item {built.ids[1]}" in r.reason and column in r.reason


def test_a_changed_digest_file_or_a_removed_one_is_caught(built):
    n = len(list(digest_files(built.digests)))
    write_digest(built.store, force=True)
    write_digest(built.store, force=True)
    files = list(digest_files(built.digests))
    assert len(files) == n + 2
    original = files[0].read_bytes()
    doc = json.loads(original)
    doc["end_seq"] -= 1
    files[0].write_text(json.dumps(doc))
    r = verify_store(built.store, digests=built.digests)
    assert not r.ok and "altered" in r.reason and files[0].name in r.reason
    files[0].write_bytes(original)
    assert verify_store(built.store, digests=built.digests).ok
    files[2].unlink()  # one in the middle
    r = verify_store(built.store, digests=built.digests)
    assert not r.ok and "does not link" in r.reason
    assert files[3].name in r.reason.split(" does not link")[0]
    files[0].unlink()  # the oldest: the next one's predecessor is gone
    r = verify_store(built.store, digests=built.digests)
    assert not r.ok and files[1].name in r.reason.split(" does not link")[0]


def test_digests_are_written_once_per_period(built):
    n = len(list(digest_files(built.digests)))
    assert write_digest(built.store) is None  # one was written this period
    audit.record(built.store, AuditEntry(actor="cli", action="x.y"))
    assert len(list(digest_files(built.digests))) == n
    assert main(["audit", "digest", "--force"]) == 0
    assert len(list(digest_files(built.digests))) == n + 1
    assert verify_store(built.store, digests=built.digests).ok


def test_digest_dir_is_configurable(tmp_path, monkeypatch):
    where = tmp_path / "worm"
    store = open_store(tmp_path / "h", monkeypatch, audit_digest_dir=str(where), audit_key=KEY)
    audit.record(store, AuditEntry(actor="cli", action="x.y"))
    files = list(digest_files(where))
    assert len(files) == 1  # the first record of a period writes its digest
    doc = json.loads(files[0].read_text())
    assert doc["end_seq"] == 1 and doc["alg"] == "hmac-sha256" and doc["previous_sha256"] is None
    assert isinstance(Path(files[0]).relative_to(where), Path)


def test_the_compliance_scenario_verifies_in_full(scenario):
    """Maker-checker, a reopen, a bank-detail correction, payroll, evidence: no false alarm."""
    r = verify_store(scenario.store)
    assert r.ok, r.reason
    assert main(["audit", "verify"]) == 0


def test_evidence_packs_carry_the_digests_and_check_them(built, tmp_path):
    from backoffice.audit.pack import export_pack, verify_pack

    pack = tmp_path / "pack.zip"
    export_pack(built.store, pack, user="compliance")
    with zipfile.ZipFile(pack) as zf:
        names = [n for n in zf.namelist() if n.startswith("digests/")]
    assert len(names) == len(list(digest_files(built.digests))) >= 2
    report = verify_pack(pack, key=built.key())
    assert report.ok, report.problems
    forged = next(iter(digest_files(built.digests)))
    doc = json.loads(forged.read_text())
    doc["last_hash"] = "0" * 64
    forged.write_text(json.dumps(doc))
    export_pack(built.store, pack, user="compliance")
    report = verify_pack(pack, key=built.key())
    assert not report.ok and any(forged.name in f for f in report.bad_files)


def test_an_unwritable_digest_dir_is_a_clear_error(tmp_path, monkeypatch):
    blocked = tmp_path / "not-a-dir"
    blocked.write_text("a file where the digest directory should be")
    store = open_store(tmp_path / "h", monkeypatch, audit_digest_dir=str(blocked))
    with pytest.raises(ConfigError, match="BACKOFFICE_AUDIT_DIGEST_DIR"):
        audit.record(store, AuditEntry(actor="cli", action="x.y"))
