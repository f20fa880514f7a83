"""Drive any web form from its object repository (:mod:`connectors.object_repository`).

    mapping = load_mapping("fixtures/erp_app/mapping.toml")
    with WebSession.open(url) as web:
        app = WebForm(web, mapping, Credentials.of("clerk", password))
        app.login()
        hits = app.search(key)                          # a record entered before?
        saved = app.create({"vendor_no": "V1001", ...}) # every step, the confirmation, submit, read back
        png = app.screenshot()                          # the mapping's mask blacked out

Finding an element tries the locator's strategies in order (role, label, placeholder, text, css)
and takes the first that matches exactly one element. An element that is not there fails fast
with :class:`ElementMissing` (terminal: a locator that matches nothing will not match on a retry);
the first element of a page is given the action timeout to appear, the others a short grace once
the page is there. HTTP 5xx, timeouts and dropped connections are TransientError; landing on the
login page means the session expired: the step is repeated once after logging in again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar
from urllib.parse import quote

from backoffice.errors import TerminalError, TransientError
from connectors.object_repository import KEY_SOURCE, Locator, Mapping, Part, Step
from connectors.web import Credentials, LoginFailed, SessionExpired, WebSession

__all__ = ["CheckLine", "ElementMissing", "FormRejected", "Hit", "SavedRecord", "WebForm"]

T = TypeVar("T")
GRACE_MS = 1000  # how long a further element of a page that is there already may take to appear


class ElementMissing(TerminalError):
    """No strategy of a locator found the element (the app changed, or the mapping is wrong)."""

    def __init__(self, what: str, locator: Locator, url: str) -> None:
        self.what = what
        self.locator = locator
        super().__init__(f"{what} not found ({locator.describe()}) on {url}")


class FormRejected(TerminalError):
    """The app's own validation refused the form; ``errors`` maps field -> message."""

    def __init__(self, errors: dict[str, str]) -> None:
        self.errors = errors
        super().__init__("form refused: " + "; ".join(f"{k}: {v}" for k, v in errors.items()))


@dataclass(frozen=True)
class Hit:
    """A search result: the key it shows and the id of its record."""

    id: str
    key: str


@dataclass
class SavedRecord:
    """A record page as read back: its id, URL and field texts."""

    id: str
    url: str
    fields: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class CheckLine:
    """One element of a mapping as ``--check-mapping`` found it (or not)."""

    name: str
    found: bool
    how: str


_PART_JS = """(el, [css, attr]) => { const e = css ? el.querySelector(css) : el; if (!e) return null;
  return attr ? e.getAttribute(attr) : (e.textContent || '').trim(); }"""
_HITS_JS = """(els, [k, i]) => els.map(el => { const get = ([css, attr]) => { const e = css ? el.querySelector(css) : el;
  if (!e) return null; return attr ? e.getAttribute(attr) : (e.textContent || '').trim(); };
  return [get(k), get(i)]; })"""
_FETCH_JS = """async ([url, sel, k, i]) => { const r = await fetch(url, {credentials: 'same-origin'});
  const text = await r.text(); const doc = new DOMParser().parseFromString(text, 'text/html');
  const get = (el, [css, attr]) => { const e = css ? el.querySelector(css) : el; if (!e) return null;
    return attr ? e.getAttribute(attr) : (e.textContent || '').trim(); };
  return {status: r.status, url: r.url, hits: [...doc.querySelectorAll(sel)].map(el => [get(el, k), get(el, i)])}; }"""
_READ_JS = """(specs) => { const out = {};
  for (const [name, label, css, attr] of specs) {
    let el = null;
    if (label) {
      const q = `//*[self::dt or self::th or self::label][normalize-space(.)=${JSON.stringify(label)}]/following-sibling::*[1]`;
      const r = document.evaluate(q, document, null, XPathResult.ORDERED_NODE_SNAPSHOT_TYPE, null);
      if (r.snapshotLength === 1) el = r.snapshotItem(0);
    }
    if (!el && css) { const all = document.querySelectorAll(css); if (all.length === 1) el = all[0]; }
    out[name] = el ? (attr ? el.getAttribute(attr) : (el.textContent || '').trim()) : null;
  }
  return out; }"""
_KIND_JS = "e => e.tagName.toLowerCase() + ':' + ((e.getAttribute('type') || '').toLowerCase())"
_OPTIONS_JS = "s => [...s.options].map(o => (o.value || o.textContent || '').trim()).filter(v => v)"


def _part(p: Part) -> list[str | None]:
    return [p.css, p.attribute]


class WebForm:
    """One target seen through one :class:`WebSession` and its mapping."""

    def __init__(self, web: WebSession, mapping: Mapping, credentials: Credentials) -> None:
        self.web = web
        self.mapping = mapping
        self.credentials = credentials
        web.add_secret(credentials.password)
        self._last_status: int | None = None
        self._found: dict[str, Any] = {}  # element name -> the locator that found it (this run's page)
        self._kinds: dict[str, str] = {}  # element name -> tag:type, e.g. "select:" or "input:date"
        web.page.on("response", self._on_response)

    @property
    def page(self) -> Any:
        return self.web.page

    def _on_response(self, response: Any) -> None:
        try:
            if response.request.resource_type == "document" and response.frame == self.page.main_frame:
                self._last_status = response.status
        except Exception:  # the page may be closing
            return

    # -- finding elements ---------------------------------------------------------------------------
    def _candidates(self, loc: Locator, scope: Any = None, *, record: bool = False) -> list[tuple[str, Any]]:
        root = scope or self.page
        out: list[tuple[str, Any]] = []
        if loc.role:
            kw: dict[str, Any] = {"name": loc.name, "exact": True} if loc.name else {}
            out.append(
                (
                    f"role {loc.role}" + (f" {loc.name!r}" if loc.name else ""),
                    root.get_by_role(loc.role, **kw),
                )
            )
        if loc.label:
            if record:  # a value shown after its term: <dt>Label</dt><dd>value</dd>, <th>..</th><td>..</td>
                text = loc.label.replace('"', '\\"')
                xpath = (
                    f'xpath=//*[self::dt or self::th or self::label][normalize-space(.)="{text}"]'
                    "/following-sibling::*[1]"
                )
                out.append((f"label {loc.label!r}", root.locator(xpath)))
            else:
                out.append((f"label {loc.label!r}", root.get_by_label(loc.label, exact=True)))
        if loc.placeholder:
            out.append(
                (f"placeholder {loc.placeholder!r}", root.get_by_placeholder(loc.placeholder, exact=True))
            )
        if loc.text:
            out.append((f"text {loc.text!r}", root.get_by_text(loc.text, exact=True)))
        if loc.css:
            out.append((f"css {loc.css!r}", root.locator(loc.css)))
        return out

    def find(
        self,
        what: str,
        loc: Locator,
        *,
        wait_ms: float | None = None,
        scope: Any = None,
        record: bool = False,
        visible: bool = True,
    ) -> tuple[Any, str]:
        """(Playwright locator, the strategy that found it); ElementMissing after ``wait_ms``
        (default: the session's action timeout)."""
        from playwright.sync_api import Error as PlaywrightError

        candidates = self._candidates(loc, scope, record=record)
        deadline = time.monotonic() + (self.web.timeout_ms if wait_ms is None else wait_ms) / 1000
        while True:
            for how, cand in candidates:
                try:
                    if cand.count() == 1 and (not visible or cand.is_visible()):
                        return cand, how
                except PlaywrightError:  # navigating: try again
                    break
            if time.monotonic() >= deadline:
                raise ElementMissing(what, loc, self.web.redact(self.page.url))
            time.sleep(0.05)

    def _fill(
        self, name: str, target: Any, value: str, *, kind: str | None = None, timeout: float | None = None
    ) -> str:
        """Type, choose or tick ``value`` as the element requires; returns the element's kind."""
        kw: dict[str, Any] = {} if timeout is None else {"timeout": timeout}
        kind = kind or self.web.call(f"reading {name}", lambda: target.evaluate(_KIND_JS))
        if kind.startswith("select:"):
            self.web.call(f"choosing {name}", lambda: target.select_option(value, **kw))
        elif kind in ("input:checkbox", "input:radio"):
            on = value.lower() in ("1", "true", "yes", "x")
            self.web.call(f"ticking {name}", lambda: target.set_checked(on, **kw))
        else:
            self.web.call(f"typing {name}", lambda: target.fill(value, **kw))
        return kind

    def _resolved(self, what: str, loc: Locator, *, wait_ms: float | None, scope: Any = None) -> Any:
        """The element, found once per run and then addressed by the strategy that found it;
        found again when that no longer works (the page changed)."""
        target, _ = self.find(what, loc, wait_ms=wait_ms, scope=scope)
        self._found[what] = target
        return target

    def _step(
        self, step: Step, values: dict[str, str], where: str, *, first_wait: float | None = None
    ) -> None:
        wait = first_wait
        for name, spec in step.fields.items():
            what = f"{where} field {name}"
            value = values.get(name, "")
            typed = bool(value) or where == "login"
            cached, kind = self._found.get(what), self._kinds.get(what)
            if cached is not None and kind is not None:
                if not typed:
                    wait = GRACE_MS
                    continue
                try:  # the quick way: one round trip, no search for the element
                    self._fill(
                        name,
                        cached,
                        value,
                        kind=kind,
                        timeout=self.web.timeout_ms if wait is None else GRACE_MS,
                    )
                    wait = GRACE_MS
                    continue
                except TransientError:
                    self._found.pop(what, None)
            target = self._resolved(what, spec, wait_ms=wait)
            wait = GRACE_MS
            if typed:
                self._kinds[what] = self._fill(name, target, value)

    def _click(self, what: str, loc: Locator, *, scope: Any = None) -> None:
        cached = self._found.get(what) if scope is None else None
        self._last_status = None
        if cached is not None:
            try:  # never clicked twice: a click that timed out may have been done (and navigated)
                self.web.call(f"clicking {what}", lambda: cached.click(timeout=self.web.timeout_ms))
                return
            except TransientError:
                self._found.pop(what, None)  # found afresh on the retry (which searches first)
                raise
        if scope is None:
            target = self._resolved(what, loc, wait_ms=GRACE_MS)
        else:
            target, _ = self.find(what, loc, scope=scope)
        self._last_status = None
        self.web.call(f"clicking {what}", lambda: target.click())

    def _wait_for(self, doing: str, outcomes: dict[str, Callable[[], bool]]) -> str:
        """Poll until one outcome holds (or the page answered 5xx); its name. TransientError on timeout."""
        from playwright.sync_api import Error as PlaywrightError

        deadline = time.monotonic() + self.web.navigation_timeout_ms / 1000
        while True:
            if self._last_status is not None and self._last_status >= 500:
                raise TransientError(
                    f"{doing}: HTTP {self._last_status} from {self.web.redact(self.page.url)}"
                )
            for name, test in outcomes.items():
                try:
                    if test():
                        return name
                except PlaywrightError:
                    pass  # navigating
            if time.monotonic() >= deadline:
                raise TransientError(f"{doing}: no answer in {self.web.navigation_timeout_ms:.0f} ms")
            time.sleep(0.05)

    def _shows(self, loc: Locator | None, *, scope: Any = None, record: bool = False) -> Callable[[], bool]:
        if loc is None:
            return lambda: False
        cands = [c for _, c in self._candidates(loc, scope, record=record)]
        return lambda: any(c.count() > 0 and c.first.is_visible() for c in cands)

    def _on_path(self, path: str) -> bool:
        from urllib.parse import urlsplit

        return urlsplit(self.page.url).path.startswith(path.split("?", 1)[0])

    # -- session --------------------------------------------------------------------------------------
    def login(self) -> None:
        """Every login step; LoginFailed when refused, TransientError on 5xx or timeouts."""
        spec = self.mapping.login
        self.web.goto(spec.path)  # always fresh: the page may show an error from the last attempt
        secrets = {"user": self.credentials.user, "password": self.credentials.password.get_secret_value()}
        for n, step in enumerate(spec.steps):
            values = {name: secrets[f.source or name] for name, f in step.fields.items()}
            self._step(step, values, "login")
            assert step.click is not None  # checked by the mapping model
            self._click(f"login step {n + 1} button", step.click)
            last = n == len(spec.steps) - 1
            outcomes: dict[str, Callable[[], bool]] = {"refused": self._shows(spec.refused)}
            if last:
                outcomes["in"] = lambda: not self._on_path(spec.path) and self._last_status is not None
            else:
                nxt = next(iter(spec.steps[n + 1].fields.values()), None)
                outcomes["next"] = self._shows(nxt)
            got = self._wait_for("logging in", outcomes)
            if got == "refused":
                raise LoginFailed(
                    f"login as {self.credentials.user!r} was refused at {self.web.url(spec.path)}"
                )

    def _expired(self) -> bool:
        return self._on_path(self.mapping.login.expired)

    def _logged_in(self, step: Callable[[], T]) -> T:
        """Run ``step``; if the session had expired, log in again and run it once more."""
        try:
            return step()
        except SessionExpired:
            self.login()
            return step()

    def open(self, path: str) -> None:
        self.web.goto(path)
        if self._expired():
            raise SessionExpired(f"session expired opening {path}")

    # -- search ---------------------------------------------------------------------------------------
    def search(self, key: str) -> list[Hit]:
        """The hits the target's search shows for ``key`` (only those whose key equals it)."""
        spec = self.mapping.search
        path = spec.path.replace("{key}", quote(key, safe=""))

        def fetched() -> list[Hit]:
            if not self.page.url.startswith(self.web.base_url):
                self.open("/")  # fetch() runs in the target's origin
            res = self.web.call(
                f"searching {key[:12]}",
                lambda: self.page.evaluate(
                    _FETCH_JS, [self.web.url(path), spec.results.css, _part(spec.hit_key), _part(spec.hit_id)]
                ),
            )
            if int(res["status"]) >= 500:
                raise TransientError(f"searching: HTTP {res['status']}")
            if self._on_path_url(str(res["url"]), self.mapping.login.expired):
                raise SessionExpired("session expired while searching")
            return [Hit(str(i), str(k or "")) for k, i in res["hits"] if i is not None]

        def typed() -> list[Hit]:
            self.open(path)
            if spec.field is not None:
                box, _ = self.find("search field", spec.field)
                self.web.call("typing the search", lambda: box.fill(key))
                if spec.submit is not None:
                    self._click("search button", spec.submit)
                else:
                    self.web.call("starting the search", lambda: box.press("Enter"))
            self._wait_for("searching", {"hits": self._shows(spec.results), "empty": self._shows(spec.empty)})
            if self._expired():
                raise SessionExpired("session expired while searching")
            rows = self._all(spec.results)
            found = self.web.call(
                "reading the hits",
                lambda: rows.evaluate_all(_HITS_JS, [_part(spec.hit_key), _part(spec.hit_id)]),
            )
            return [Hit(str(i), str(k or "")) for k, i in found if i is not None]

        hits = self._logged_in(fetched if spec.mode == "fetch" else typed)
        return [h for h in hits if h.key == key]

    @staticmethod
    def _on_path_url(url: str, path: str) -> bool:
        from urllib.parse import urlsplit

        return urlsplit(url).path.startswith(path)

    def _all(self, loc: Locator) -> Any:
        """All elements of the first strategy that matches any (result lists may be empty)."""
        cands = self._candidates(loc)
        for _, c in cands:
            if c.count():
                return c
        return cands[-1][1]

    # -- records --------------------------------------------------------------------------------------
    def open_record(self, record_id: str) -> SavedRecord:
        path = self.mapping.record.path.replace("{id}", quote(record_id, safe=""))

        def step() -> SavedRecord:
            self.open(path)
            return self.read_record()

        return self._logged_in(step)

    def record_id(self) -> str:
        spec = self.mapping.record
        if spec.id_pattern:
            import re

            m = re.search(spec.id_pattern, self.page.url)
            if m:
                return m.group(1)
            if spec.id is None:
                raise TransientError(f"expected a record page, got {self.web.redact(self.page.url)}")
        id_loc = spec.id
        assert id_loc is not None
        el, _ = self.find("record id", id_loc, visible=False)
        value = self.web.call(
            "reading the record id", lambda: el.evaluate(_PART_JS, [None, id_loc.attribute])
        )
        if not value:
            raise TransientError("the record page shows no id")
        return str(value).strip()

    def _read_fast(self) -> dict[str, str] | None:
        """Every read-back field in one round trip, when each is found by label or css alone
        (each strategy must match exactly one element, as in :meth:`find`); None otherwise."""
        specs = []
        for name, loc in self.mapping.record.fields.items():
            if loc.role or loc.placeholder or loc.text:
                return None
            specs.append([name, loc.label, loc.css, loc.attribute])
        got: dict[str, Any] = self.web.call(
            "reading the saved record", lambda: self.page.evaluate(_READ_JS, specs)
        )
        if any(v is None for v in got.values()):
            return None
        return {k: str(v) for k, v in got.items()}

    def read_record(self) -> SavedRecord:
        """The record page now shown: its id and every read-back field's text."""
        spec = self.mapping.record
        rid = self.record_id()
        fast = self._read_fast()
        if fast is not None:
            return SavedRecord(rid, self.page.url, fast)
        values: dict[str, str] = {}
        wait: float | None = None
        for name, loc in spec.fields.items():
            el, _ = self.find(f"record field {name}", loc, wait_ms=wait, record=True, visible=False)
            wait = GRACE_MS
            text: Any = self.web.call(
                f"reading {name}", partial(el.evaluate, _PART_JS, [None, loc.attribute])
            )
            values[name] = str(text or "")
        return SavedRecord(rid, self.page.url, values)

    def create(self, values: dict[str, str]) -> SavedRecord:
        """Open the form, fill every step, confirm, submit, and return the record read back.

        Raises FormRejected when the app's validation refuses it, ElementMissing when the mapping
        finds no element, TransientError on 5xx and timeouts, SessionExpired (after logging in
        again) when the session ran out. A 5xx on save may still have saved the record: search
        for the key before retrying."""
        spec, record = self.mapping.form, self.mapping.record
        self.open(spec.path)
        for n, step in enumerate(spec.steps):
            self._step(step, values, f"form step {n + 1}")
            assert step.click is not None
            last = n == len(spec.steps) - 1
            self._click(
                "save button" if last and spec.confirm is None else f"step {n + 1} button", step.click
            )
            if not last:
                nxt = next(iter(spec.steps[n + 1].fields.values()), None)
                if nxt is not None:
                    self._wait_for(
                        f"opening form step {n + 2}", {"next": self._shows(nxt), "errors": self._errors_shown}
                    )
                    self._raise_form_errors()
        if spec.confirm is not None:
            dialog, _ = self.find("confirmation dialog", spec.confirm.dialog)
            self._click("confirm button", spec.confirm.accept, scope=dialog)
        outcomes: dict[str, Callable[[], bool]] = {
            "saved": (lambda: bool(record.id_pattern) and self._matches_record_url())
            if record.id is None
            else self._shows(record.id),
            "errors": self._errors_shown,
            "login": self._expired,
        }
        got = self._wait_for("saving", outcomes)
        if got == "login":
            self.login()
            raise SessionExpired("session expired while saving (not saved)")
        if got == "errors":
            self._raise_form_errors()
        return self.read_record()

    def _matches_record_url(self) -> bool:
        import re

        pattern = self.mapping.record.id_pattern
        return bool(pattern and re.search(pattern, self.page.url))

    def _errors_shown(self) -> bool:
        errs = self.mapping.form.errors
        return errs is not None and self._shows(errs.messages)()

    def _raise_form_errors(self) -> None:
        errs = self.mapping.form.errors
        if errs is None or not self._errors_shown():
            return
        names = {f.error_key or n: n for n, f in self.mapping.form.fields.items()}
        found = self.web.call(
            "reading the form errors",
            lambda: self._all(errs.messages).evaluate_all(
                "(els, attr) => els.map(e => [attr ? e.getAttribute(attr) : null, (e.textContent || '').trim()])",
                errs.field_attribute,
            ),
        )
        if found:
            raise FormRejected({names.get(str(k), str(k or "form")): str(v) for k, v in found})

    def screenshot(self, *, jpeg_quality: int | None = None) -> bytes:
        """The page now shown, with the mapping's ``record.mask`` blacked out."""
        return self.web.screenshot(mask=self.mapping.record.mask, jpeg_quality=jpeg_quality)

    # -- look-ups -------------------------------------------------------------------------------------
    def lookup(self, name: str) -> list[dict[str, str]] | list[str]:
        """A look-up table of the mapping: option values (``options``) or rows of columns (``rows``)."""
        spec = self.mapping.lookups[name]

        def step() -> list[dict[str, str]] | list[str]:
            self.open(spec.path)
            if spec.options is not None:
                sel, _ = self.find(f"lookup {name}", spec.options, visible=False)
                return [str(v) for v in self.web.call(f"reading {name}", lambda: sel.evaluate(_OPTIONS_JS))]
            assert spec.rows is not None and spec.rows.css
            cols = list(spec.columns)
            parts = [_part(spec.columns[c]) for c in cols]
            rows_css = spec.rows.css
            rows: list[list[Any]] = self.web.call(
                f"reading {name}",
                lambda: self.page.eval_on_selector_all(
                    rows_css,
                    """(els, parts) => els.map(el => parts.map(([css, attr]) => {
                       const e = css ? el.querySelector(css) : el; if (!e) return null;
                       return attr ? e.getAttribute(attr) : (e.textContent || '').trim(); }))""",
                    parts,
                ),
            )
            out: list[dict[str, str]] = []
            for row in rows:
                rec = {c: ("" if v is None else str(v)) for c, v in zip(cols, row, strict=True)}
                for c, want in spec.equals.items():
                    rec[c] = "1" if rec.get(c) == want else ""
                out.append(rec)
            return out

        return self._logged_in(step)

    # -- checking a mapping ---------------------------------------------------------------------------
    def check(self, sample: dict[str, str]) -> list[CheckLine]:
        """Open every page of the mapping and find each element, without saving anything: the
        login (logs in), look-ups, search, every form step (filled with ``sample`` to reach the
        next one), the confirmation dialog (then its cancel, or the page is left), and, when
        ``check.record_id`` names one, the record page's fields."""
        lines: list[CheckLine] = []
        m = self.mapping

        def probe(name: str, loc: Locator | None, **kw: Any) -> Any:
            if loc is None:
                return None
            try:
                el, how = self.find(name, loc, **kw)
            except ElementMissing:
                lines.append(CheckLine(name, False, f"not found by {loc.describe()}"))
                return None
            fallback = (
                how.startswith("css") and loc.css and any((loc.role, loc.label, loc.placeholder, loc.text))
            )
            lines.append(
                CheckLine(name, True, f"by {how}" + (" (only the css fallback matched)" if fallback else ""))
            )
            return el

        self.web.goto(m.login.path)  # the first login page; later ones are checked by logging in
        for fname, spec in m.login.steps[0].fields.items():
            probe(f"login.steps[0].fields.{fname}", spec)
        probe("login.steps[0].click", m.login.steps[0].click, wait_ms=GRACE_MS)
        try:
            self.login()
            lines.append(CheckLine("login", True, f"logged in as {self.credentials.user!r}"))
        except (LoginFailed, TransientError, ElementMissing) as exc:
            lines.append(CheckLine("login", False, self.web.redact(str(exc))))
            return lines
        for name, lk in m.lookups.items():
            try:
                got = self.lookup(name)
                lines.append(CheckLine(f"lookups.{name}", bool(got), f"{len(got)} entries at {lk.path}"))
            except (ElementMissing, TransientError) as exc:
                lines.append(CheckLine(f"lookups.{name}", False, self.web.redact(str(exc))))
        s = m.search
        if s.mode == "page":
            self.open(s.path.replace("{key}", "check-mapping"))
            probe("search.field", s.field)
            probe("search.submit", s.submit, wait_ms=GRACE_MS)
        try:
            self.search("check-mapping-probe")
            lines.append(CheckLine("search", True, "searched for a key no record has: no hit"))
        except (ElementMissing, TransientError) as exc:
            lines.append(CheckLine("search", False, self.web.redact(str(exc))))
        self.open(m.form.path)
        for n, step in enumerate(m.form.steps):
            found_all = True
            for fname, spec in step.fields.items():
                el = probe(f"form.steps[{n}].fields.{fname}", spec)
                if el is None:
                    found_all = False
                elif sample.get(fname):
                    try:
                        self._fill(fname, el, sample[fname])
                    except TransientError as exc:
                        lines.append(
                            CheckLine(f"form.steps[{n}].fields.{fname}", False, f"cannot fill: {exc}")
                        )
            click = probe(f"form.steps[{n}].click", step.click, wait_ms=GRACE_MS)
            last = n == len(m.form.steps) - 1
            if click is None or not found_all or (last and m.form.confirm is None):
                break
            self.web.call("clicking", click.click)
            if last and m.form.confirm is not None:
                dialog = probe("form.confirm.dialog", m.form.confirm.dialog)
                if dialog is not None:
                    probe("form.confirm.accept", m.form.confirm.accept, scope=dialog)
                    cancel = probe("form.confirm.cancel", m.form.confirm.cancel, scope=dialog)
                    if cancel is not None:
                        self.web.call("cancelling", cancel.click)
        if m.check.record_id:
            try:
                self.open(m.record.path.replace("{id}", quote(m.check.record_id, safe="")))
                lines.append(CheckLine("record.id", True, f"record {self.record_id()}"))
            except (ElementMissing, TransientError) as exc:
                lines.append(CheckLine("record.id", False, self.web.redact(str(exc))))
            for fname, loc in m.record.fields.items():
                probe(f"record.fields.{fname}", loc, record=True, visible=False, wait_ms=GRACE_MS)
        else:
            lines.append(
                CheckLine(
                    "record.fields",
                    True,
                    "not checked: set check.record_id to an existing record to check them",
                )
            )
        return lines


def key_field(mapping: Mapping) -> str | None:
    """The form field the item's key is typed into, if any."""
    return next((n for n, f in mapping.form.fields.items() if f.source == KEY_SOURCE), None)
