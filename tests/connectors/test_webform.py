"""connectors.webform driving the fixture ERP from its mapping, in real headless Chromium."""

from __future__ import annotations

import time
from datetime import date

import pytest

from backoffice.errors import ConfigError, TransientError
from bots.data_entry.models import DEFAULT_MAPPING
from connectors.object_repository import load_mapping
from connectors.web import Credentials, LoginFailed, WebSession
from connectors.webform import ElementMissing, FormRejected, WebForm
from fixtures.erp_app import DEFAULT_PASSWORD, DEFAULT_USER, ErpServer, start_in_thread

pytestmark = pytest.mark.browser
MAPPING = load_mapping(DEFAULT_MAPPING)
RESET = {
    "fail_rate": 0,
    "session_timeout": 0,
    "session_max_requests": 0,
    "changed_ids": False,
    "changed_labels": False,
    "login_status": 0,
    "truncate_description": 0,
}


@pytest.fixture(scope="module")
def erp_server(tmp_path_factory):
    server = start_in_thread(tmp_path_factory.mktemp("erp") / "erp.db", seed=3)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def session(erp_server: ErpServer):
    try:
        web = WebSession.open(erp_server.url, timeout_ms=2_000)
    except ConfigError as exc:
        pytest.skip(f"no Chromium: {exc}")
    yield web
    web.close()


@pytest.fixture
def app(session: WebSession, erp_server: ErpServer):
    erp_server.switch(**RESET)
    form = WebForm(session, MAPPING, Credentials.of(DEFAULT_USER, DEFAULT_PASSWORD))
    form.login()
    yield form
    erp_server.switch(**RESET)


_counter = iter(range(1, 10_000))


def invoice(**over: str) -> dict[str, str]:
    n = next(_counter)
    values = {
        "vendor_no": "V1002",
        "invoice_no": f"NP-{n}",
        "invoice_date": date(2026, 2, 1).isoformat(),
        "due_date": "2026-03-03",
        "currency": "SEK",
        "net_amount": "1000.00",
        "tax_amount": "250.00",
        "gross_amount": "1250.00",
        "po_number": "PO-4711",
        "description": "Kopieringspapper A4 – 80 g/m²",
        "external_ref": f"test-ref-{n}",
    }
    values.update(over)
    return values


def test_create_reads_back_every_field_and_opens_it_again(app: WebForm, erp_server: ErpServer) -> None:
    values = invoice()
    saved = app.create(values)
    assert saved.fields == values
    [row] = [r for r in erp_server.db.invoices() if str(r["id"]) == saved.id]
    assert row["description"] == "Kopieringspapper A4 – 80 g/m²" and row["gross_amount"] == "1250.00"
    assert app.open_record(saved.id).fields == saved.fields


def test_search_by_key_finds_only_that_record(app: WebForm) -> None:
    values = invoice()
    saved = app.create(values)
    assert [h.id for h in app.search(values["external_ref"])] == [saved.id]
    assert app.search("test-ref") == []  # the search matches more; only an equal key counts
    assert app.search("no-such-ref-anywhere") == []


def test_refused_form_names_the_fields(app: WebForm) -> None:
    with pytest.raises(FormRejected) as info:
        app.create(invoice(gross_amount="1250.01"))
    assert "gross_amount" in info.value.errors
    with pytest.raises(FormRejected) as info:
        app.create(invoice(vendor_no="V1005"))
    assert "blocked" in info.value.errors["vendor_no"]


def test_look_ups_from_the_mapping(app: WebForm) -> None:
    vendors = {r["key"]: r["blocked"] for r in app.lookup("vendors")}  # type: ignore[index]
    assert vendors["V1005"] == "1" and vendors["V1001"] == ""
    assert {"EUR", "SEK", "GBP"} <= set(app.lookup("currencies"))  # type: ignore[arg-type]


def test_expired_session_is_renewed_transparently(app: WebForm, erp_server: ErpServer) -> None:
    erp_server.switch(session_timeout=0.5)
    time.sleep(0.8)  # the login has run out: the next page is the login page
    before = erp_server.stats()["logins"]
    assert app.lookup("vendors")
    assert erp_server.stats()["logins"] == before + 1


def test_changed_ids_are_found_by_label_and_changed_labels_fail_fast(
    app: WebForm, erp_server: ErpServer
) -> None:
    erp_server.switch(changed_ids=True)
    assert app.create(invoice()).fields["vendor_no"] == "V1002"
    erp_server.switch(changed_labels=True)
    started = time.monotonic()
    with pytest.raises(ElementMissing, match="invoice_no not found") as info:
        app.create(invoice())
    assert time.monotonic() - started < 4.0  # not 4 tries x the 2 s action timeout: no retry at all
    assert info.value.what == "form step 1 field invoice_no"


def test_500_after_save_is_transient_but_the_record_exists(app: WebForm, erp_server: ErpServer) -> None:
    erp_server.switch(seed=1)
    for _ in range(40):
        values = invoice()
        erp_server.switch(fail_rate=0.5)
        try:
            app.create(values)
        except TransientError:
            erp_server.switch(fail_rate=0)
            hits = app.search(values["external_ref"])
            if hits:
                break
        finally:
            erp_server.switch(fail_rate=0)
    else:
        pytest.fail("no failure after saving seen in 40 tries")
    assert len(hits) == 1


def test_login_500_is_transient_and_a_refusal_is_login_failed(
    session: WebSession, erp_server: ErpServer
) -> None:
    erp_server.switch(login_status=500)
    try:
        with pytest.raises(TransientError, match="HTTP 500"):
            WebForm(session, MAPPING, Credentials.of(DEFAULT_USER, DEFAULT_PASSWORD)).login()
    finally:
        erp_server.switch(login_status=0)
    with pytest.raises(LoginFailed, match="refused"):
        WebForm(session, MAPPING, Credentials.of(DEFAULT_USER, "wrong-password-1")).login()
    assert "wrong-password-1" not in session.redact("wrong-password-1")


def test_screenshot_masks_the_iban(app: WebForm) -> None:
    app.create(invoice())
    png = app.screenshot()
    assert png.startswith(b"\x89PNG")
    assert (
        app.page.locator(".pii").inner_text().startswith("SE45")
    )  # still on the page, only hidden in the PNG
