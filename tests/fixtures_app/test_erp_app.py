"""The fixture ERP over plain HTTP: login, validation, search, record page and failure switches."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from fixtures.erp_app import DEFAULT_PASSWORD, DEFAULT_USER, ErpServer, start_in_thread
from fixtures.erp_app.app import iban_ok

GOOD = {
    "vendor_no": "V1001",
    "invoice_no": "INV-1",
    "invoice_date": "2026-03-01",
    "due_date": "2026-03-31",
    "currency": "EUR",
    "net_amount": "100.00",
    "tax_amount": "19.00",
    "gross_amount": "119.00",
    "po_number": "PO-77",
    "description": "Copy paper",
    "external_ref": "ref-1",
}


@pytest.fixture
def erp(tmp_path: Path):
    server = start_in_thread(tmp_path / "erp.db", seed=11)
    yield server
    server.stop()


def client(erp: ErpServer, *, login: bool = True) -> httpx.Client:
    c = httpx.Client(base_url=erp.url, follow_redirects=True, timeout=10)
    if login:
        r = c.post(
            "/login", data={"username": DEFAULT_USER, "password": DEFAULT_PASSWORD, "next": "/vendors"}
        )
        assert r.status_code == 200 and r.url.path == "/vendors"
    return c


def csrf(c: httpx.Client, path: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', c.get(path).text)
    assert m, "form has a csrf token"
    return m.group(1)


def post_invoice(c: httpx.Client, **over: str) -> httpx.Response:
    return c.post("/invoices/new", data={**GOOD, **over, "csrf": csrf(c, "/invoices/new")})


def error_fields(html: str) -> dict[str, str]:
    return dict(re.findall(r'<li data-field="([^"]+)">([^<]*)</li>', html))


def test_anonymous_is_sent_to_login_and_bad_password_is_refused(erp: ErpServer) -> None:
    c = client(erp, login=False)
    r = c.get("/invoices/new")
    assert r.url.path == "/login" and "next=/invoices/new" in str(r.url)
    r = c.post("/login", data={"username": DEFAULT_USER, "password": "wrong", "next": "/vendors"})
    assert r.status_code == 401 and 'id="login-error"' in r.text


def test_login_rejects_offsite_next(erp: ErpServer) -> None:
    c = client(erp, login=False)
    r = c.post(
        "/login", data={"username": DEFAULT_USER, "password": DEFAULT_PASSWORD, "next": "//evil.example"}
    )
    assert r.url.path == "/vendors"


def test_invoice_saved_and_shown_on_record_page(erp: ErpServer) -> None:
    c = client(erp)
    r = post_invoice(c)
    assert r.status_code == 200 and re.match(r"/invoices/\d+$", r.url.path)
    fields = dict(re.findall(r'data-field="([^"]+)">([^<]*)</dd>', r.text))
    assert fields["gross_amount"] == "119.00" and fields["external_ref"] == "ref-1"
    assert fields["invoice_date"] == "2026-03-01"
    [row] = erp.db.invoices()
    assert row["invoice_no"] == "INV-1" and row["created_by"] == DEFAULT_USER


@pytest.mark.parametrize(
    ("over", "field", "message"),
    [
        ({"gross_amount": "120.00"}, "gross_amount", "net plus tax"),
        ({"vendor_no": "V9999"}, "vendor_no", "Unknown vendor"),
        ({"vendor_no": "V1005"}, "vendor_no", "blocked"),
        ({"invoice_date": "01/03/2026"}, "invoice_date", "YYYY-MM-DD"),
        ({"due_date": "2026-01-01"}, "due_date", "before the invoice date"),
        ({"currency": "XXX"}, "currency", "currency"),
        ({"net_amount": "1.005"}, "net_amount", "2 decimals"),
        ({"invoice_no": ""}, "invoice_no", "required"),
        ({"description": "x" * 201}, "description", "longer than 200"),
    ],
)
def test_server_side_validation_names_the_field(
    erp: ErpServer, over: dict[str, str], field: str, message: str
) -> None:
    r = post_invoice(client(erp), **over)
    assert r.status_code == 422
    errors = error_fields(r.text)
    assert message in errors[field]
    assert erp.db.invoices() == []


def test_duplicates_are_refused(erp: ErpServer) -> None:
    c = client(erp)
    assert post_invoice(c).status_code == 200
    r = post_invoice(c, external_ref="ref-2")
    assert r.status_code == 422 and "already exists" in error_fields(r.text)["invoice_no"]
    r = post_invoice(c, invoice_no="INV-2")
    assert r.status_code == 422 and "already used" in error_fields(r.text)["external_ref"]
    assert len(erp.db.invoices()) == 1


def test_missing_csrf_token_is_refused(erp: ErpServer) -> None:
    r = client(erp).post("/invoices/new", data=GOOD)
    assert r.status_code == 400 and erp.db.invoices() == []


def test_vendor_form_checks_iban_and_lists_the_new_vendor(erp: ErpServer) -> None:
    c = client(erp)
    bad = {"vendor_no": "V2001", "name": "New Co", "iban": "DE89370400440532013001", "country": "de"}
    r = c.post("/vendors/new", data={**bad, "csrf": csrf(c, "/vendors/new")})
    assert r.status_code == 422 and "IBAN" in error_fields(r.text)["iban"]
    good = {**bad, "iban": "DE89 3704 0044 0532 0130 00"}
    r = c.post("/vendors/new", data={**good, "csrf": csrf(c, "/vendors/new")})
    assert r.status_code == 200 and 'data-vendor-no="V2001"' in r.text
    assert erp.db.vendor("V2001")["iban"] == "DE89370400440532013000"
    assert iban_ok("GB29NWBK60161331926819") and not iban_ok("GB29NWBK60161331926818")


def test_search_and_record_pages(erp: ErpServer) -> None:
    c = client(erp)
    post_invoice(c)
    r = c.get("/invoices/search", params={"q": "ref-1"})
    assert 'data-ref="ref-1"' in r.text
    r = c.get("/invoices/search", params={"q": "nothing-like-this"})
    assert 'id="no-results"' in r.text
    assert c.get("/invoices/999").status_code == 404


def test_fail_rate_gives_500s_and_some_invoice_posts_fail_after_saving(erp: ErpServer) -> None:
    c = client(erp)
    token = csrf(c, "/invoices/new")
    erp.switch(fail_rate=1.0, seed=5)
    assert c.get("/vendors").status_code == 500
    codes = [
        c.post(
            "/invoices/new", data={**GOOD, "invoice_no": f"F-{i}", "external_ref": f"f-{i}", "csrf": token}
        ).status_code
        for i in range(12)
    ]
    erp.switch(fail_rate=0)
    assert set(codes) == {500}
    stats = erp.stats()
    saved = erp.db.invoices()
    assert stats["failures_after_save"] == len(saved) > 0  # the dangerous case: saved, but answered 500
    assert len(saved) < 12


def test_session_timeout_sends_back_to_login(erp: ErpServer) -> None:
    c = client(erp)
    erp.switch(session_timeout=0.2)
    time.sleep(0.35)
    r = c.get("/vendors")
    assert r.url.path == "/login" and "expired=1" in str(r.url) and 'id="session-expired"' in r.text


def test_session_max_requests_expires_the_login_after_n_pages(erp: ErpServer) -> None:
    c = client(erp)
    erp.switch(session_max_requests=3)  # the page after login was the first
    assert c.get("/vendors").url.path == "/vendors"
    assert c.get("/vendors").url.path == "/vendors"
    r = c.get("/vendors")
    assert r.url.path == "/login" and "expired=1" in str(r.url)


def test_changed_ids_and_truncated_description(erp: ErpServer) -> None:
    c = client(erp)
    erp.switch(changed_ids=True, truncate_description=5)
    html = c.get("/invoices/new").text
    assert 'id="inv-number"' in html and 'id="invoice_no"' not in html and 'name="invoice_no"' in html
    assert post_invoice(c).status_code == 200
    assert erp.db.invoices()[0]["description"] == "Copy "


def test_changed_labels_and_a_500_at_the_login(erp: ErpServer) -> None:
    c = client(erp)
    erp.switch(changed_labels=True)
    html = c.get("/invoices/new").text
    assert ">Invoice no.</label>" in html and ">Total</label>" in html and ">Post</button>" in html
    assert ">Invoice number</label>" not in html
    erp.switch(changed_labels=False, login_status=500)
    r = client(erp, login=False).post("/login", data={"username": DEFAULT_USER, "password": DEFAULT_PASSWORD})
    assert r.status_code == 500 and "server-error" in r.text
    erp.switch(login_status=0)
    assert client(erp).get("/vendors").status_code == 200


def test_module_entry_point_serves_on_a_free_port(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen(
        [sys.executable, "-m", "fixtures.erp_app", "--port", "0", "--db", str(tmp_path / "e.db")],
        cwd=root,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        url = line.strip().split()[-1]
        assert url.startswith("http://127.0.0.1:")
        assert httpx.get(f"{url}/healthz").text == "ok"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        proc.stdout.close()
