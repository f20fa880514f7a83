"""Notifications (issue 13): SLA at risk and breach, escalation and failed runs, by e-mail to a real
local SMTP server (aiosmtpd) and by a signed webhook to a real HTTP receiver on loopback; sent
once; no personal values; a down server or HTTP 500 is retried, logged and audited and never
breaks the action."""

from __future__ import annotations

import email
import hmac
import json
import socket
import threading
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select, update

from backoffice import audit
from backoffice.errors import ConnectorError
from backoffice.items import Item, SourceRef
from backoffice.notify import SIGNATURE_HEADER, item_notice, notify, sign
from backoffice.plugins import use_bots
from backoffice.queue import Queue
from backoffice.rules import Violation
from backoffice.runner import run_bot
from backoffice.schema import items, notices
from backoffice.settings import reset_settings
from backoffice.store import Store, utcnow
from backoffice.testing import open_store, queue_items
from backoffice.users import add_user
from tests.core.toybot import RULES, ToyBot, ToyInputs, ToyState
from tests.core.toybot import bot as toy_bot

SECRET = "webhook-key"
IBAN = "DE89370400440532013000"


# ------------------------------------------------------------------------------ local servers


class _Mailbox:
    def __init__(self) -> None:
        self.messages: list[email.message.Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[_Mailbox, int]]:
    box = _Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=_free_port())
    controller.start()
    yield box, controller.port
    controller.stop()


class _Receiver:
    def __init__(self) -> None:
        self.posts: list[tuple[dict[str, str], bytes]] = []
        self.status = 200


@pytest.fixture
def receiver() -> Iterator[tuple[_Receiver, str]]:
    got = _Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            got.posts.append((dict(self.headers), body))
            self.send_response(got.status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield got, f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()
    server.server_close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def store(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    smtp: tuple[_Mailbox, int],
    receiver: tuple[_Receiver, str],
) -> Iterator[Store]:
    _, port = smtp
    _, url = receiver
    s = open_store(
        tmp_path / "home",
        monkeypatch,
        notify_smtp_host="127.0.0.1",
        notify_smtp_port=str(port),
        notify_smtp_from="bot@example.test",
        notify_smtp_to="ops@example.test, lead@example.test",
        notify_webhook_urls=url,
        notify_webhook_secret=SECRET,
        notify_retries="2",
        notify_retry_backoff_seconds="0",
        notify_timeout_seconds="2",
    )
    for name, role in {"associate": "associate", "lead": "team_lead"}.items():
        add_user(s, name, role, password=f"{name}-password")
    with use_bots([toy_bot]):
        yield s
    Store.close_all()
    reset_settings()


def _queue(store: Store, n: int) -> list[int]:
    its = [
        Item(
            bot="toy",
            key=f"k{i}",
            payload={"order_id": f"O{i}", "customer": "C1", "amount": "4317.85", "iban": IBAN},
            source=SourceRef(file="orders.csv", locator=f"row {i + 2}"),
            amount=Decimal("4317.85"),
            currency="EUR",
            violations=[
                Violation(
                    code="TOY-LIMIT",
                    message="amount 4317.85 above limit",
                    field="amount",
                    expected="1000",
                    actual="4317.85",
                )
            ],
        )
        for i in range(n)
    ]
    return queue_items(store, its, ruleset=RULES)


def _no_personal_values(raw: str) -> None:
    assert "4317.85" not in raw and "4317,85" not in raw and IBAN not in raw and "O0" not in raw


def _webhook(got: _Receiver) -> list[dict[str, Any]]:
    out = []
    for headers, body in got.posts:
        assert hmac.compare_digest(headers[SIGNATURE_HEADER], sign(SECRET, body))
        out.append(json.loads(body))
    return out


# ---------------------------------------------------------------------------------------- tests


def test_overdue_and_at_risk_items_are_notified_once_then_escalated(
    store: Store, smtp: tuple[_Mailbox, int], receiver: tuple[_Receiver, str]
) -> None:
    box, _ = smtp
    got, _ = receiver
    ids = _queue(store, 3)
    now = utcnow()
    with store.write() as conn:  # item 0 overdue, item 1 at risk, item 2 fine
        conn.execute(
            update(items)
            .where(items.c.id == ids[0])
            .values(due_at=now - timedelta(minutes=1), at_risk_at=now - timedelta(hours=1))
        )
        conn.execute(
            update(items)
            .where(items.c.id == ids[1])
            .values(due_at=now + timedelta(hours=1), at_risk_at=now - timedelta(minutes=1))
        )
    assert Queue(store).escalate_overdue() == [ids[0]]
    events = sorted((n["event"], n["item_id"]) for n in _webhook(got))
    assert events == [("escalation", ids[0]), ("sla_at_risk", ids[1]), ("sla_breach", ids[0])]
    assert len(box.messages) == 3
    breach = next(m for m in box.messages if m["X-Backoffice-Event"] == "sla_breach")
    assert breach["To"] == "ops@example.test, lead@example.test"
    assert f"SLA breached: item {ids[0]} (toy; TOY-LIMIT)" in breach["Subject"]
    body = breach.get_payload()
    assert "codes: TOY-LIMIT" in body and "tier: associate" in body
    escalation = next(n for n in _webhook(got) if n["event"] == "escalation")
    assert escalation["tier"] == "team_lead" and escalation["codes"] == ["TOY-LIMIT"]
    for _headers, raw in got.posts:
        _no_personal_values(raw.decode())
    for message in box.messages:
        _no_personal_values(message.as_string())
    # the next maintenance run: nothing new, nothing sent again
    assert Queue(store).escalate_overdue() == []
    assert len(got.posts) == 3 and len(box.messages) == 3
    with store.read() as conn:
        assert {r.outcome for r in conn.execute(select(notices))} == {"sent"}


def test_a_manual_escalation_is_notified(store: Store, receiver: tuple[_Receiver, str]) -> None:
    got, _ = receiver
    [item_id] = _queue(store, 1)
    Queue(store).escalate(item_id, "associate", "needs a lead")
    [notice] = _webhook(got)
    assert notice["event"] == "escalation" and notice["item_id"] == item_id
    assert notice["title"].startswith(f"Escalated to team_lead: item {item_id}")


def test_a_notice_of_an_engagement_names_it(store: Store, receiver: tuple[_Receiver, str]) -> None:
    from backoffice.engagements import add_engagement

    got, _ = receiver
    add_user(store, "root", "admin")
    add_engagement(store, "acme", by="root")
    acme = Store.open(engagement="acme")
    add_user(acme, "associate", "associate", by="root")
    [item_id] = _queue(acme, 1)
    Queue(acme).escalate(item_id, "associate", "needs a lead")
    [notice] = _webhook(got)
    assert notice["engagement"] == "acme" and notice["title"].startswith("[acme] Escalated to team_lead")


class _FailingBot(ToyBot):
    def open(self, inputs: ToyInputs, run: Any) -> ToyState:
        raise ConnectorError(f"ledger refused the order of 4317.85 EUR to {IBAN}")


def test_a_failed_run_is_notified_with_its_error_masked(
    store: Store, tmp_path: Path, smtp: tuple[_Mailbox, int], receiver: tuple[_Receiver, str]
) -> None:
    box, _ = smtp
    got, _ = receiver
    orders = tmp_path / "orders.csv"
    orders.write_text("order_id,customer,amount\nO1,C1,10.00\n")
    bot = _FailingBot()
    with use_bots([bot]), pytest.raises(ConnectorError):
        run_bot(bot, {"orders": str(orders), "ledger": str(tmp_path / "ledger.jsonl")}, store=store)
    [notice] = _webhook(got)
    assert notice["event"] == "run_failed" and notice["bot"] == "toy" and notice["error"] == "ConnectorError"
    assert "ledger refused" in notice["message"] and IBAN[-4:] in notice["message"]
    _no_personal_values(json.dumps(notice))
    [message] = box.messages
    assert message["Subject"].startswith("[backoffice] Run failed: toy run ")
    _no_personal_values(message.as_string())


def test_a_down_server_and_http_500_are_retried_audited_and_never_break_the_action(
    store: Store, smtp: tuple[_Mailbox, int], receiver: tuple[_Receiver, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    box, _ = smtp
    got, _ = receiver
    got.status = 500
    monkeypatch.setenv("BACKOFFICE_NOTIFY_SMTP_PORT", str(_free_port()))  # nothing listens there
    reset_settings()
    Store.close_all()
    down = Store.open()
    [item_id] = _queue(down, 1)
    it = Queue(down).escalate(item_id, "associate", "needs a lead")  # the action itself succeeds
    assert it.row["tier"] == "team_lead"
    assert len(got.posts) == 3  # 1 try + notify_retries (2)
    assert box.messages == []
    [failure] = [e for e in audit.entries(down) if e["action"] == "notify.failed"]
    assert failure["subject"] == f"item:{item_id}" and failure["outcome"] == "failed"
    channels = failure["data"]["channels"]
    assert set(channels) == {"smtp:127.0.0.1:" + str(down.settings.notify_smtp_port), "webhook:127.0.0.1"}
    assert all(v.startswith("failed: ") for v in channels.values())
    assert "HTTP 500" in channels["webhook:127.0.0.1"]
    assert audit.verify(down).ok
    with down.read() as conn:
        assert [r.outcome for r in conn.execute(select(notices))] == ["failed"]


def test_events_switched_off_send_nothing(
    store: Store, receiver: tuple[_Receiver, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    got, _ = receiver
    monkeypatch.setenv("BACKOFFICE_NOTIFY_EVENTS", "run_failed")
    reset_settings()
    Store.close_all()
    only_runs = Store.open()
    [item_id] = _queue(only_runs, 1)
    Queue(only_runs).escalate(item_id, "associate", "needs a lead")
    with only_runs.write() as conn:
        conn.execute(
            update(items).where(items.c.id == item_id).values(due_at=utcnow() - timedelta(minutes=1))
        )
    Queue(only_runs).escalate_overdue()
    assert got.posts == []
    with only_runs.read() as conn:
        row = dict(conn.execute(select(items).where(items.c.id == item_id)).one()._mapping)
    notify(only_runs, [item_notice("run_failed", row)])  # a switched-on event still goes out
    assert len(got.posts) == 1
