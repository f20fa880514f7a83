"""Fixtures for the inbox tests: the toy bot as an installed plugin, an app, logged-in clients, data."""

from __future__ import annotations

import re
import sys
import warnings
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from backoffice.audit import put_evidence
from backoffice.items import Item, SourceRef
from backoffice.queue import Queue
from backoffice.rules import Violation
from backoffice.runner import run_bot
from backoffice.store import Store
from backoffice.testing import queue_items
from tests.core.toybot import RULES, write_orders
from tests.core.toybot import bot as toy_bot

with warnings.catch_warnings():
    # starlette warns that it prefers httpx2 over httpx; the client works the same
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

HOSTILE = "<script>alert(1)</script>"
IBAN = "DE89370400440532013000"


@pytest.fixture(scope="session")
def _toy_dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    site = tmp_path_factory.mktemp("site")
    dist = site / "backoffice_inbox_toy-0.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: backoffice-inbox-toy\nVersion: 0.0\n")
    (dist / "entry_points.txt").write_text("[backoffice.bots]\ntoy = tests.core.toybot:bot\n")
    return site


@pytest.fixture(autouse=True)
def toy_plugin(_toy_dist: Path) -> Iterator[None]:
    """Register tests.core.toybot as the installed bot ``toy`` (a real entry point, as pip would),
    for the duration of each inbox test only."""
    sys.path.insert(0, str(_toy_dist))
    yield
    sys.path.remove(str(_toy_dist))


def make_client(store: Store) -> TestClient:
    from backoffice.inbox import create_app

    return TestClient(create_app(store, count_staleness=0), follow_redirects=False)


def csrf_of(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, "no CSRF token in the page"
    return m.group(1)


def login(client: TestClient, name: str, password: str | None = None) -> str:
    """Log ``name`` in; returns the session's CSRF token."""
    page = client.get("/login")
    r = client.post(
        "/login",
        data={"csrf_token": csrf_of(page.text), "username": name, "password": password or f"{name}-password"},
    )
    assert r.status_code == 303, r.text
    return csrf_of(client.get("/queue" if name != "admin" else "/").text)


def post(client: TestClient, url: str, token: str, **data: Any) -> Any:
    return client.post(url, data={"csrf_token": token, **data})


@pytest.fixture
def toy_run(bo_store: Store, tmp_path: Path) -> dict[str, Any]:
    """A real toy-bot run: 20 orders, rows 3 and 7 above the limit (queued), row 5 unreadable."""
    orders = write_orders(tmp_path / "orders.csv", 20, bad_rows=[5], big=[3, 7])
    inputs = {"orders": str(orders), "ledger": str(tmp_path / "ledger.jsonl")}
    summary = run_bot(toy_bot, inputs, store=bo_store)
    queued = Queue(bo_store).list(status="queued", bot="toy", sort="id", limit=None)
    return {"summary": summary, "ids": [q.id for q in queued], "ledger": tmp_path / "ledger.jsonl"}


PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00\x90wS\xde"
    b"\x00\x00\x00\x0cIDATx\x9cc\xf8\xcf\xc0\x00\x00\x03\x01\x01\x00\xc9\xfe\x92\xef\x00\x00\x00\x00IEND\xaeB`\x82"
)


@pytest.fixture
def rich_item(bo_store: Store, tmp_path: Path) -> int:
    """A queued item with a hostile vendor name, a bank account, lines and three evidence files."""
    from reportlab.pdfgen import canvas

    pdf = tmp_path / "invoice.pdf"
    c = canvas.Canvas(str(pdf))
    c.drawString(72, 720, "INVOICE 4711 - ACME")
    c.showPage()
    c.save()
    ev = [
        put_evidence(bo_store, pdf, "invoice.pdf", "application/pdf"),
        # a screenshot its bot took with personal data masked: shown to everyone
        put_evidence(bo_store, PNG, "screenshot.png", "image/png").model_copy(update={"redacted": True}),
        put_evidence(
            bo_store,
            b'{"po_lines": [{"line": 1, "item": "bolts", "qty": 10, "unit_price": "2.00"}],'
            b' "receipt_lines": [{"line": 1, "qty_received": 8}]}',
            "matched-lines.json",
            "application/json",
        ),
    ]
    item = Item(
        bot="toy",
        key="rich-1",
        payload={
            "order_id": "O-4711",
            "customer": HOSTILE,
            "amount": "5000.00",
            "iban": IBAN,
            "lines": [{"item": "bolts", "qty": 10, "unit_price": "2.50"}],
        },
        source=SourceRef(file="invoice.pdf", locator="page 1", sha256="ab" * 32),
        amount=Decimal("5000.00"),
        currency="EUR",
        evidence=ev,
        violations=[
            Violation(
                code="TOY-LIMIT",
                message="amount above limit",
                field="amount",
                expected="1000",
                actual="5000.00",
            ),
            Violation(
                code="TOY-PRICE",
                message=f"price {HOSTILE}",
                field="lines.0.unit_price",
                expected="2.00",
                actual="2.50",
            ),
            Violation(
                code="TOY-BANK",
                message=f"bank account {IBAN} differs from the vendor master",
                field="iban",
                expected="DE00123",
                actual=IBAN,
            ),
        ],
    )
    return queue_items(bo_store, [item], ruleset=RULES)[0]
