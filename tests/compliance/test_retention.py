from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, select, update

from backoffice import audit, retention
from backoffice.audit import AuditEntry
from backoffice.audit.pack import export_pack, verify_pack
from backoffice.cli import main
from backoffice.errors import InputError, PermissionDenied
from backoffice.plugins import use_bots
from backoffice.runner import run_bot
from backoffice.schema import items
from backoffice.store import Store, utcnow
from backoffice.testing import open_store
from tests.compliance import databots
from tests.compliance.conftest import Scenario

DAY = timedelta(days=1)


def _old_entries(store: Store, n: int, age_days: int, **kw: str) -> None:
    at = utcnow() - age_days * DAY
    with store.write() as conn:
        for i in range(n):
            audit.append(
                conn,
                store,
                AuditEntry(
                    actor="bot-1",
                    action=kw.get("action", "run.note"),
                    at=at + i * DAY,
                    bot=kw.get("bot"),
                    subject=kw.get("subject"),
                    data={"i": i},
                ),
            )


class OpsBot(databots.PayrollBot):
    name = "test-ops"
    record_class = "operational"


class OddBot(databots.PayrollBot):
    name = "test-odd"
    record_class = "not-a-class"


def test_record_classes() -> None:
    assert retention.record_class("login.failed", None) == "security"
    assert retention.record_class("user.role_changed", None) == "security"
    assert retention.record_class("audit.exported", None) == "audit_access"
    assert retention.record_class("item.approved", "test-payroll") == "payroll"  # the bots' record_class
    assert retention.record_class("item.approved", "test-invoices") == "financial"
    assert retention.record_class("run.note", None) == "operational"
    with use_bots([OpsBot(), OddBot(), databots.payroll]):
        classes = retention.BotClasses()
        assert retention.record_class("item", "test-ops", classes) == "operational"
        assert retention.record_class("item", "test-payroll", classes) == "payroll"
        # unknown to retention, or not installed: the longest business class, nothing goes early
        assert retention.record_class("item", "test-odd", classes) == "financial"
        assert retention.record_class("item", "not-installed", classes) == "financial"
        assert retention.record_class("login.failed", "test-ops", classes) == "security"


def test_items_are_purged_by_their_bots_record_class(
    bo_store: Store, bo_users: dict[str, str], tmp_path: Path
) -> None:
    employee = {
        "employee_id": "E1",
        "name": "Ann",
        "national_id": "X1234567",
        "bank_account": "DE89370400440532013000",
        "gross": "5000.00",
        "net": "3000.00",
    }
    line = {"key": "E1", "payload": {"kind": "employee", "employee": employee}, "amount": "3000.00"}
    line["source"] = {"file": "pay.json", "locator": "E1"}
    with use_bots([databots.payroll, OpsBot()]) as reg:
        for bot in reg.bots():
            pay_lines = databots.write_items(tmp_path / f"{bot.name}.json", [line])
            run_bot(bot, {"pay_lines": pay_lines, "hr_gross": "5000.00"}, store=bo_store)  # done items
        result = retention.purge(bo_store, by="compliance", as_of=utcnow() + 3 * 365 * DAY)
    with bo_store.read() as conn:
        left = sorted(r.bot for r in conn.execute(select(items.c.bot)))
    assert result.items_purged == 1 and left == ["test-payroll"]  # payroll: 7 years; operational: 1
    assert audit.verify(bo_store).ok


def test_purge_keeps_the_chain_verifiable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    s2 = open_store(tmp_path / "home", monkeypatch)
    _old_entries(s2, 5, 800)  # operational, 1 year: expired
    _old_entries(s2, 3, 400, action="login.failed")  # security, 2 years: not yet
    _old_entries(s2, 2, 500)  # operational, expired but after a retained entry
    _old_entries(s2, 2, 1)
    from backoffice.users import add_user

    add_user(s2, "comp", "compliance")
    before = audit.verify(s2)
    assert before.ok and before.head_seq == 13

    dry = retention.purge(s2, by="comp", dry_run=True)
    assert dry.entries_purged == 5 and dry.through_seq == 5 and dry.stopped_at["class"] == "security"
    assert audit.verify(s2).head_seq == 13  # nothing changed

    result = retention.purge(s2, by="comp")
    assert result.entries_purged == 5 and result.checkpoint["seq"] == 5
    assert (
        result.checkpoint["hash"]
        == audit.entries(s2, action="retention.purged")[0]["data"]["checkpoint"]["hash"]
    )
    assert audit.entries(s2)[0]["seq"] == 6
    after = audit.verify(s2)
    assert after.ok and after.start_seq == 6 and after.head_seq == 14, after
    assert main(["audit", "verify"]) == 0

    # a pack exported after the purge still verifies
    pack = tmp_path / "after.zip"
    export_pack(s2, pack, user="comp")
    assert verify_pack(pack).ok

    # two years later the login failures and the later operational entries go too
    later = retention.purge(s2, by="comp", as_of=utcnow() + 400 * DAY)
    assert later.entries_purged == 7 and later.checkpoint["seq"] == 12
    assert audit.verify(s2).ok and len(retention.checkpoints(s2)) == 2


def test_tampering_with_a_checkpoint_is_detected(bo_store: Store, bo_users: dict[str, str]) -> None:
    s = bo_store
    _old_entries(s, 4, 30 * 365)
    assert retention.purge(s, by="compliance", as_of=utcnow() + 20 * 365 * DAY).checkpoint is not None
    assert audit.verify(s).ok and main(["audit", "verify"]) == 0
    cp = retention.checkpoints(s)[-1]
    table = retention.audit_checkpoints
    with s.write() as conn:
        conn.execute(update(table).where(table.c.seq == cp["seq"]).values(hash="f" * 64))
    bad = audit.verify(s)
    assert not bad.ok and bad.first_bad_seq == cp["seq"] and "checkpoint" in bad.reason
    assert main(["audit", "verify"]) == 1
    # restoring the hash but dropping the checkpoint: verification from genesis finds entry 1 gone
    with s.write() as conn:
        conn.execute(delete(table))
    bad = audit.verify(s)
    assert not bad.ok and bad.first_bad_seq == 1


def test_checkpoints_are_keyed_with_the_audit_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    s = open_store(tmp_path / "home", monkeypatch, audit_key="k" * 32)
    from backoffice.users import add_user

    add_user(s, "comp", "compliance")
    _old_entries(s, 3, 11 * 365)
    result = retention.purge(s, by="comp", as_of=utcnow() + 3 * 365 * DAY)
    assert result.checkpoint["alg"] == "hmac-sha256"
    assert audit.verify(s).ok
    other = open_store(tmp_path / "home", monkeypatch, audit_key="x" * 32)
    bad = audit.verify(other)
    assert not bad.ok and "BACKOFFICE_AUDIT_KEY" in bad.reason


def test_legal_hold_stops_the_purge(scenario: Scenario) -> None:
    s = scenario.store
    with pytest.raises(PermissionDenied):
        retention.place_hold(s, f"item:{scenario.invoice_b}", "litigation", by="admin")
    with pytest.raises(InputError):
        retention.place_hold(s, "nonsense", "x", by="compliance")
    hold = retention.place_hold(s, f"item:{scenario.invoice_b}", "litigation 2026-17", by="compliance")
    far = utcnow() + 20 * 365 * DAY  # every class has expired
    first_b = audit.entries(s, subject=f"item:{scenario.invoice_b}")[0]["seq"]
    result = retention.purge(s, by="compliance", as_of=far)
    assert result.through_seq == first_b - 1 and result.stopped_at["why"] == "legal hold"
    assert result.items_held == 1
    with s.read() as conn:
        left = {r.id for r in conn.execute(select(items.c.id))}
    assert scenario.invoice_b in left and scenario.invoice_c not in left  # finished and expired: gone
    assert audit.verify(s).ok

    retention.release_hold(s, hold.id, "case closed", by="compliance")
    result = retention.purge(s, by="compliance", as_of=far)
    assert result.entries_purged > 0 and result.items_purged >= 1
    assert audit.verify(s).ok
    assert not audit.evidence_path(s, scenario.evidence).exists()  # its item and entries are gone
    kinds = [e["action"] for e in audit.entries(s)]
    assert kinds.count("retention.purged") == 1  # the first purge's record was purged by the second


def test_policies_are_set_by_compliance_and_audited(scenario: Scenario) -> None:
    s = scenario.store
    retention.set_policy(s, "security", 365, by="compliance")
    retention.set_policy(s, "payroll", None, by="compliance")
    assert retention.policies(s)["security"] == 365 and retention.policies(s)["payroll"] is None
    with pytest.raises(PermissionDenied):
        retention.set_policy(s, "security", 1, by="admin")
    with pytest.raises(InputError):
        retention.set_policy(s, "nope", 1, by="compliance")
    entry = audit.entries(s, action="retention.policy_set")[0]
    assert entry["data"] == {"before": {"days": 730}, "after": {"days": 365}}
    assert main(["audit", "retention", "set", "operational", "forever", "-u", "compliance"]) == 0
    assert (
        main(["audit", "retention", "hold", "bot:test-invoices", "--reason", "audit", "-u", "compliance"])
        == 0
    )
    assert main(["audit", "purge", "-u", "compliance", "--dry-run", "--json"]) == 0
    assert main(["audit", "purge", "-u", "qa"]) == 3
    assert main(["audit", "purge", "-u", "compliance", "--as-of", "2099-01-01"]) == 2  # no purging the future
    assert main(["audit", "purge", "-u", "compliance", "--as-of", "2099-01-01", "--dry-run"]) == 0
