"""connectors.erp.ErpHttp: the look-ups the data-entry bot makes without a browser."""

from __future__ import annotations

import pytest

from backoffice.errors import TransientError
from connectors.erp import ErpHttp
from connectors.web import Credentials, LoginFailed
from fixtures.erp_app import DEFAULT_PASSWORD, DEFAULT_USER, start_in_thread


@pytest.fixture
def erp(tmp_path):
    server = start_in_thread(tmp_path / "erp.db", seed=9)
    yield server
    server.stop()


def creds(password: str = DEFAULT_PASSWORD) -> Credentials:
    return Credentials.of(DEFAULT_USER, password)


def test_vendors_currencies_and_search(erp) -> None:
    erp.db.add_invoice(
        {
            "external_ref": "key-1",
            "vendor_no": "V1001",
            "invoice_no": "A-1",
            "invoice_date": "2024-01-08",
            "due_date": None,
            "currency": "EUR",
            "net_amount": "10.00",
            "tax_amount": "1.90",
            "gross_amount": "11.90",
            "po_number": None,
            "description": None,
            "created_by": "seed",
        }
    )
    with ErpHttp(erp.url, creds()) as http:
        vendors = http.vendors()
        assert vendors["V1001"] is False and vendors["V1005"] is True
        assert {"EUR", "SEK", "GBP"} <= http.currencies()
        [hit] = http.find_invoices("key-1")
        assert hit.external_ref == "key-1" and hit.id == erp.db.invoices()[0]["id"]
        assert http.find_invoices("key-2") == []


def test_refused_login_names_the_user_not_the_password(erp) -> None:
    with ErpHttp(erp.url, creds("bad-password-9")) as http, pytest.raises(LoginFailed) as info:
        http.vendors()
    assert DEFAULT_USER in str(info.value) and "bad-password-9" not in str(info.value)


def test_server_errors_are_transient_and_expired_sessions_renewed(erp) -> None:
    with ErpHttp(erp.url, creds()) as http:
        http.vendors()
        erp.switch(session_max_requests=1)
        before = erp.stats()["logins"]
        assert "V1002" in http.vendors()  # expired, logged in again, answered
        assert erp.stats()["logins"] == before + 1
        erp.switch(session_max_requests=0, fail_rate=1.0)
        with pytest.raises(TransientError, match="HTTP 500"):
            http.find_invoices("x")


def test_unreachable_target_is_transient(tmp_path) -> None:
    with ErpHttp("http://127.0.0.1:9", creds(), timeout=2) as http, pytest.raises(TransientError) as err:
        http.vendors()
    # the message names the URL it tried and what to check, not just "ConnectError"
    assert "GET http://127.0.0.1:9/vendors: ConnectError" in str(err.value)
    assert "check that the target application is running there" in str(err.value)
