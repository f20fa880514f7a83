"""Page objects for the fixture ERP (``fixtures/erp_app``): login, vendors, invoices, search.

    with WebSession.open(url) as web:
        erp = ErpApp(web, Credentials.of("clerk", password))
        erp.login()
        hits = erp.find_invoices(ref)                  # search before create
        saved = erp.create_invoice(InvoiceForm(...))   # type, submit, read back
        png = erp.record_screenshot()                  # IBAN masked

Every method that navigates notices an expired session (the app sends us to ``/login``), logs in
again once and repeats the step. A form the app refuses raises :class:`FormRejected` naming the
fields; a 5xx, timeout or missing element raises ``TransientError``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import partial
from typing import Any, TypeVar
from urllib.parse import quote

import lxml.html

from backoffice.errors import TerminalError, TransientError
from connectors.web import Credentials, LoginFailed, SessionExpired, WebSession

__all__ = [
    "INVOICE_READBACK_FIELDS",
    "ErpApp",
    "ErpHttp",
    "FormRejected",
    "InvoiceForm",
    "SavedRecord",
    "SearchHit",
    "VendorRow",
]

T = TypeVar("T")

#: Fields of the invoice record page the bot compares after saving.
INVOICE_READBACK_FIELDS = (
    "external_ref",
    "vendor_no",
    "invoice_no",
    "invoice_date",
    "due_date",
    "currency",
    "net_amount",
    "tax_amount",
    "gross_amount",
    "po_number",
    "description",
)
PII_SELECTORS = (".pii",)
_RECORD_URL = re.compile(r"/invoices/(\d+)(?:\?|$)")


class FormRejected(TerminalError):
    """The app's server-side validation refused the form; ``errors`` maps field -> message."""

    def __init__(self, errors: dict[str, str]) -> None:
        self.errors = errors
        super().__init__("form refused: " + "; ".join(f"{k}: {v}" for k, v in errors.items()))


@dataclass(frozen=True)
class InvoiceForm:
    """What is typed into "New invoice"."""

    vendor_no: str
    invoice_no: str
    invoice_date: date
    currency: str
    net_amount: Decimal
    tax_amount: Decimal
    gross_amount: Decimal
    due_date: date | None = None
    po_number: str | None = None
    description: str | None = None
    external_ref: str | None = None

    def as_text(self) -> dict[str, str]:
        """Field -> the text typed (and expected back on the record page)."""

        def txt(v: object) -> str:
            if v is None:
                return ""
            if isinstance(v, date):
                return v.isoformat()
            if isinstance(v, Decimal):
                return f"{v:.2f}"
            return str(v)

        return {k: txt(getattr(self, k)) for k in INVOICE_READBACK_FIELDS}


@dataclass(frozen=True)
class SearchHit:
    id: int
    external_ref: str


@dataclass(frozen=True)
class VendorRow:
    vendor_no: str
    name: str
    blocked: bool


@dataclass
class SavedRecord:
    """A record page as read back: its id, URL and field texts."""

    id: int
    url: str
    fields: dict[str, str] = field(default_factory=dict)


class ErpApp:
    """The fixture ERP seen through one :class:`WebSession`."""

    def __init__(self, web: WebSession, credentials: Credentials) -> None:
        self.web = web
        self.credentials = credentials
        web.add_secret(credentials.password)

    @property
    def page(self) -> Any:
        return self.web.page

    # session
    def login(self) -> None:
        self.web.login(
            self.credentials,
            error_selector="#login-error",
            submit_selector="#login-submit",
            success=lambda url: "/login" not in url,
        )

    def _on_login_page(self) -> bool:
        return "/login" in self.page.url

    def _logged_in(self, step: Callable[[], T]) -> T:
        """Run ``step``; if the session had expired, log in again and run it once more."""
        try:
            return step()
        except SessionExpired:
            self.login()
            return step()

    def _open(self, path: str) -> None:
        self.web.goto(path)
        if self._on_login_page():
            raise SessionExpired(f"session expired opening {path}")

    # vendors
    def vendors(self) -> list[VendorRow]:
        def step() -> list[VendorRow]:
            self._open("/vendors")
            rows = self.web.call(
                "reading the vendor list",
                lambda: self.page.eval_on_selector_all(
                    "#vendors tbody tr",
                    "rows => rows.map(r => [r.dataset.vendorNo, r.querySelector('.vendor-name').textContent,"
                    " r.dataset.blocked])",
                ),
            )
            return [VendorRow(str(no), str(name).strip(), blocked == "1") for no, name, blocked in rows]

        return self._logged_in(step)

    def create_vendor(self, values: dict[str, str]) -> None:
        def step() -> None:
            self._open("/vendors/new")
            for name, value in values.items():
                self.web.call(f"typing vendor {name}", partial(self.page.fill, f"#{name}", value))
            self._submit("#save", "saving the vendor")
            self._raise_form_errors()
            if "/vendors?created=" not in self.page.url:
                raise TransientError(f"saving the vendor ended on an unexpected page {self.page.url}")

        self._logged_in(step)

    # invoices
    def find_invoices(self, q: str) -> list[SearchHit]:
        """Search page hits for ``q`` (reference, invoice number, vendor), fetched in the page's session."""

        def step() -> list[SearchHit]:
            path = f"/invoices/search?q={quote(q)}"
            resp = self.web.call(f"searching {q!r}", lambda: self.page.request.get(self.web.url(path)))
            if resp.status >= 500:
                raise TransientError(f"searching {q!r}: HTTP {resp.status}")
            if "/login" in resp.url:
                raise SessionExpired("session expired while searching")
            doc = lxml.html.fromstring(resp.text())
            return [
                SearchHit(int(tr.get("data-id")), tr.get("data-ref") or "")
                for tr in doc.xpath("//table[@id='results']/tbody/tr")
            ]

        return self._logged_in(step)

    def search_ui(self, q: str) -> list[SearchHit]:
        """The same search typed into the search page, as a person would."""

        def step() -> list[SearchHit]:
            self._open("/invoices/search")
            self.web.call("typing the search", lambda: self.page.fill("#q", q))
            self._submit("#search-submit", f"searching {q!r}")
            rows = self.page.eval_on_selector_all(
                "#results tbody tr", "rows => rows.map(r => [r.dataset.id, r.dataset.ref])"
            )
            return [SearchHit(int(i), str(r)) for i, r in rows]

        return self._logged_in(step)

    def open_invoice(self, invoice_id: int) -> SavedRecord:
        def step() -> SavedRecord:
            self._open(f"/invoices/{invoice_id}")
            if self.page.locator("#not-found").count():
                raise TerminalError(f"invoice #{invoice_id} does not exist")
            return self.read_record()

        return self._logged_in(step)

    def read_record(self) -> SavedRecord:
        """The invoice record page now shown, as field texts."""
        m = _RECORD_URL.search(self.page.url)
        if m is None:
            raise TransientError(f"expected an invoice record page, got {self.page.url}")
        values: dict[str, str] = self.web.call(
            "reading the saved record",
            lambda: self.page.eval_on_selector_all(
                "#record [data-field]",
                "els => Object.fromEntries(els.map(e => [e.dataset.field, e.textContent.trim()]))",
            ),
        )
        return SavedRecord(int(m.group(1)), self.page.url, values)

    def create_invoice(self, form: InvoiceForm) -> SavedRecord:
        """Open "New invoice", type ``form``, save, and return the record page read back.

        Raises FormRejected when the app's validation refuses it, TransientError on 5xx, timeouts
        and missing elements, SessionExpired (after logging in again) when the session ran out.
        A 5xx on save may still have saved the record: search for ``external_ref`` before retrying.
        """
        self._open("/invoices/new")
        text = form.as_text()
        page = self.page
        for name in ("vendor_no", "currency"):
            self.web.call(f"choosing {name}", partial(page.select_option, f"#{name}", text[name]))
        for name in (
            "invoice_no",
            "invoice_date",
            "due_date",
            "net_amount",
            "tax_amount",
            "gross_amount",
            "po_number",
            "description",
            "external_ref",
        ):
            if text[name]:
                self.web.call(f"typing {name}", partial(page.fill, f"#{name}", text[name]))
        self._submit("#save", "saving the invoice")
        if self._on_login_page():
            self.login()
            raise SessionExpired("session expired while saving the invoice (not saved)")
        m = _RECORD_URL.search(page.url)
        if m is None:
            self._raise_form_errors()
            raise TransientError(f"saving the invoice ended on an unexpected page {page.url}")
        return self.read_record()

    def record_screenshot(self, *, jpeg_quality: int | None = None) -> bytes:
        """PNG (or JPEG) of the record page now shown, with PII (the vendor IBAN) blacked out."""
        return self.web.screenshot(mask=PII_SELECTORS, jpeg_quality=jpeg_quality)

    def _raise_form_errors(self) -> None:
        errors = self.page.eval_on_selector_all(
            "#form-errors li", "els => els.map(e => [e.dataset.field, e.textContent.trim()])"
        )
        if errors:
            raise FormRejected({str(k): str(v) for k, v in errors})

    def _submit(self, selector: str, doing: str) -> None:
        def click() -> Any:
            with self.page.expect_navigation(wait_until="domcontentloaded") as nav:
                self.page.click(selector)
            return nav.value

        response = self.web.call(doing, click)
        self.web.check_response(response, doing)


def _unreachable(url: str, base_url: str, exc: Exception) -> str:
    """What a failed request says: the URL, what went wrong, and what to check."""
    import httpx

    detail = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    what = f"{type(exc).__name__}" + (f": {detail}" if detail else "")
    if isinstance(exc, httpx.TimeoutException):
        hint = f"the target at {base_url} did not answer in time: check that it is up and not overloaded"
    elif isinstance(exc, httpx.ConnectError):
        hint = (
            f"nothing answers at {base_url}: check that the target application is running there, "
            "that the URL (--target) names the right host and port, and that no firewall or proxy blocks it"
        )
    else:
        hint = f"check the target URL (--target) {base_url} and the network between here and it"
    return f"GET {url}: {what} ({hint})"


class ErpHttp:
    """Look-ups over plain HTTP (no browser): vendor master, accepted currencies, search by reference."""

    def __init__(self, base_url: str, credentials: Credentials, *, timeout: float = 15.0) -> None:
        import httpx

        self.base_url = base_url.rstrip("/")
        self._client = httpx.Client(base_url=self.base_url, follow_redirects=True, timeout=timeout)
        self._credentials = credentials

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> ErpHttp:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _get(self, path: str) -> Any:
        import httpx

        try:
            r = self._client.get(path)
            if "/login" in r.url.path:
                r = self._login(path)  # the login form sends us on to ``path``
        except httpx.HTTPError as exc:
            raise TransientError(_unreachable(f"{self.base_url}{path}", self.base_url, exc)) from exc
        if r.status_code >= 500:
            raise TransientError(f"GET {path}: HTTP {r.status_code}")
        if r.status_code >= 400 or "/login" in r.url.path:
            raise TerminalError(f"GET {path}: HTTP {r.status_code} at {r.url.path}")
        return lxml.html.fromstring(r.text)

    def _login(self, next_path: str) -> Any:
        r = self._client.post(
            "/login",
            data={
                "username": self._credentials.user,
                "password": self._credentials.password.get_secret_value(),
                "next": next_path,
            },
        )
        if r.status_code >= 500:
            raise TransientError(f"logging in: HTTP {r.status_code}")
        if r.status_code == 401 or ("/login" in r.url.path and r.request.method == "POST"):
            raise LoginFailed(f"login as {self._credentials.user!r} was refused at {self.base_url}/login")
        return r

    def find_invoices(self, q: str) -> list[SearchHit]:
        """The search page's hits for ``q``, over this client's own session (no browser round trip)."""
        doc = self._get(f"/invoices/search?q={quote(q)}")
        return [
            SearchHit(int(tr.get("data-id")), tr.get("data-ref") or "")
            for tr in doc.xpath("//table[@id='results']/tbody/tr")
        ]

    def vendors(self) -> dict[str, bool]:
        """vendor_no -> blocked."""
        doc = self._get("/vendors")
        return {
            str(tr.get("data-vendor-no")): tr.get("data-blocked") == "1"
            for tr in doc.xpath("//table[@id='vendors']/tbody/tr")
        }

    def currencies(self) -> frozenset[str]:
        doc = self._get("/invoices/new")
        return frozenset(
            str(o.text_content()).strip() for o in doc.xpath("//select[@name='currency']/option")
        )
