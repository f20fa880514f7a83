"""Playwright session helpers: launch Chromium, log in, retry with backoff, capture failures.

    with WebSession.open("http://127.0.0.1:8000", artifacts_dir=tmp) as web:
        web.goto("/login")
        ...
        shot = web.capture("row-12")          # screenshot + HTML, also written to artifacts_dir

Rules kept here so every web bot gets them for free:

- Chromium is launched per :mod:`backoffice.browser` (Playwright's build, else the system one).
- Navigation answering HTTP 5xx, Playwright timeouts and dropped connections raise
  :class:`~backoffice.errors.TransientError` (worth retrying); :func:`retry` retries them with
  exponential backoff (it is :func:`backoffice.retry.retry`, the one retry policy, re-exported
  here with :class:`~backoffice.retry.RetryPolicy` for web bots).
- Secrets given to the session (passwords) are redacted from every error message, log line and
  HTML snapshot the session produces; they are only ever passed to ``fill`` on password fields.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydantic import SecretStr

from backoffice.browser import launch_options
from backoffice.errors import ConfigError, ConnectorError, TargetDown, TransientError
from backoffice.retry import RetryPolicy, retry

__all__ = [
    "Capture",
    "Credentials",
    "LoginFailed",
    "RetryPolicy",
    "SessionExpired",
    "WebSession",
    "redact",
    "retry",
]

log = logging.getLogger("backoffice.web")
T = TypeVar("T")
REDACTED = "[redacted]"


class SessionExpired(TransientError):
    """The target sent us back to its login page; log in again and retry."""


class LoginFailed(TargetDown):
    """The target refused the credentials (retrying with the same ones will not help): a
    :class:`~backoffice.errors.TargetDown`, so the runner stops the run instead of trying each item."""


@dataclass(frozen=True)
class Credentials:
    """A user name and a password that never shows in ``repr``, logs or tracebacks."""

    user: str
    password: SecretStr

    @classmethod
    def of(cls, user: str, password: str | SecretStr) -> Credentials:
        return cls(user, password if isinstance(password, SecretStr) else SecretStr(password))

    @classmethod
    def from_env(cls, prefix: str) -> Credentials | None:
        """``{prefix}_USER`` and ``{prefix}_PASSWORD`` from the environment, None if either is unset."""
        user, password = os.environ.get(f"{prefix}_USER"), os.environ.get(f"{prefix}_PASSWORD")
        if not user or not password:
            return None
        return cls.of(user, password)

    def __repr__(self) -> str:
        return f"Credentials(user={self.user!r}, password='**********')"


def redact(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every non-empty secret replaced by ``[redacted]``."""
    for s in secrets:
        if s:
            text = text.replace(s, REDACTED)
    return text


@dataclass
class Capture:
    """What the page looked like when something happened."""

    label: str
    url: str
    screenshot: bytes | None
    html: str
    files: list[Path] = field(default_factory=list)


_SAFE = re.compile(r"[^A-Za-z0-9._-]+")
_ADD_STYLE = """css => { const s = document.createElement('style'); s.id = '__bo_mask'; s.textContent = css;
  document.documentElement.appendChild(s); }"""
_REMOVE_STYLE = "() => document.getElementById('__bo_mask')?.remove()"


class WebSession:
    """One browser, one context, one page; a handle you pass around and close.

    Use :meth:`open` (starts Playwright and Chromium) or wrap an existing Playwright ``Page``.
    """

    def __init__(
        self,
        page: Any,
        base_url: str,
        *,
        artifacts_dir: Path | None = None,
        closers: list[Callable[[], None]] | None = None,
    ) -> None:
        self.page = page
        self.base_url = base_url.rstrip("/")
        self.artifacts_dir = artifacts_dir
        self._secrets: set[str] = set()
        self._closers = closers or []
        self._cdp: Any = None
        self._cdp_page: Any = None
        self.timeout_ms: float = 5_000  # the context's defaults, as set by open()
        self.navigation_timeout_ms: float = 15_000

    @classmethod
    def open(
        cls,
        base_url: str,
        *,
        headless: bool = True,
        artifacts_dir: Path | None = None,
        timeout_ms: float = 5_000,
        navigation_timeout_ms: float = 15_000,
        viewport: tuple[int, int] = (1100, 800),
    ) -> WebSession:
        """Start Playwright + Chromium (per backoffice.browser) and open one page."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            raise ConfigError(
                "WebSession uses Playwright's sync API; call it from a thread without an event loop"
            )
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright

        pw = sync_playwright().start()
        try:
            browser = pw.chromium.launch(**launch_options(headless=headless))
        except PlaywrightError as exc:
            pw.stop()
            raise ConfigError(f"could not start Chromium: {str(exc).splitlines()[0]}") from exc
        except BaseException:
            pw.stop()
            raise
        context = browser.new_context(
            viewport={"width": viewport[0], "height": viewport[1]},
            locale="en-US",
            timezone_id="UTC",
            service_workers="block",
        )
        context.set_default_timeout(timeout_ms)
        context.set_default_navigation_timeout(navigation_timeout_ms)
        page = context.new_page()
        session = cls(
            page, base_url, artifacts_dir=artifacts_dir, closers=[context.close, browser.close, pw.stop]
        )
        session.timeout_ms, session.navigation_timeout_ms = timeout_ms, navigation_timeout_ms
        return session

    def close(self) -> None:
        for close in self._closers:
            try:
                close()
            except Exception as exc:  # closing must not mask the error that got us here
                log.debug("closing browser: %s", exc)
        self._closers = []

    def __enter__(self) -> WebSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # secrets
    def add_secret(self, value: str | SecretStr) -> None:
        """Register a value that must never appear in errors, logs or snapshots."""
        raw = value.get_secret_value() if isinstance(value, SecretStr) else value
        if raw:
            self._secrets.add(raw)

    def redact(self, text: str) -> str:
        return redact(text, self._secrets)

    def url(self, path: str) -> str:
        return path if path.startswith("http") else f"{self.base_url}{path}"

    # navigation
    def goto(self, path: str, *, wait_until: str = "domcontentloaded") -> Any:
        """Open ``path``; HTTP 5xx, timeouts and connection errors raise TransientError."""
        from playwright.sync_api import Error as PlaywrightError

        try:
            response = self.page.goto(self.url(path), wait_until=wait_until)
        except PlaywrightError as exc:
            raise self.translate(exc, f"opening {path}") from exc
        self.check_response(response, f"opening {path}")
        return response

    def check_response(self, response: Any, doing: str) -> None:
        if response is not None and response.status >= 500:
            raise TransientError(f"{doing}: HTTP {response.status} from {self.redact(response.url)}")

    def translate(self, exc: BaseException, doing: str) -> ConnectorError:
        """A Playwright error as TransientError (timeouts, network) with the secrets redacted."""
        first = self.redact(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__)
        return TransientError(f"{doing}: {first}")

    def call(self, doing: str, fn: Callable[[], T]) -> T:
        """Run a Playwright action; its timeouts and errors become TransientError naming ``doing``."""
        from playwright.sync_api import Error as PlaywrightError

        try:
            return fn()
        except PlaywrightError as exc:
            raise self.translate(exc, doing) from exc

    def login(
        self,
        credentials: Credentials,
        *,
        path: str = "/login",
        user_selector: str = "#username",
        password_selector: str = "#password",  # noqa: S107 - a CSS selector, not a password
        submit_selector: str = "[type=submit]",
        error_selector: str | None = None,
        success: Callable[[str], bool] | None = None,
    ) -> None:
        """Fill a login form. Wrong credentials raise LoginFailed; a 5xx or timeout TransientError."""
        self.add_secret(credentials.password)
        self.goto(path)  # always fresh: the page may show an error from the last attempt

        def submit() -> Any:
            self.page.fill(user_selector, credentials.user)
            self.page.fill(password_selector, credentials.password.get_secret_value())
            with self.page.expect_navigation(wait_until="domcontentloaded") as nav:
                self.page.click(submit_selector)
            return nav.value

        response = self.call("logging in", submit)
        self.check_response(response, "logging in")
        refused = error_selector is not None and self.page.locator(error_selector).count() > 0
        ok = success(self.page.url) if success else not self.page.url.startswith(self.url(path))
        if refused or not ok:
            raise LoginFailed(f"login as {credentials.user!r} was refused at {self.url(path)}")
        log.info("logged in to %s as %s", self.base_url, credentials.user)

    # evidence
    def screenshot(
        self, *, mask: Iterable[str] = (), full_page: bool = False, jpeg_quality: int | None = None
    ) -> bytes:
        """The viewport as PNG (or JPEG when ``jpeg_quality`` is given).

        Elements matching the ``mask`` selectors are blacked out (PII) by a style that exists only
        while the picture is taken. On Chromium the picture comes straight from the DevTools
        protocol (``Page.captureScreenshot`` with ``optimizeForSpeed``), about twice as fast as
        Playwright's screenshot, which also waits for fonts and animations; elsewhere, or for a
        full-page picture, Playwright's own screenshot is used.
        """
        style = "".join(f"{sel} {{ background: #000 !important; color: #000 !important; }}" for sel in mask)
        if not full_page:
            fast = self._fast_screenshot(style, jpeg_quality)
            if fast is not None:
                return fast
        opts: dict[str, Any] = {"animations": "disabled", "caret": "hide", "full_page": full_page}
        if style:
            opts["style"] = style
        if jpeg_quality is not None:
            opts.update(type="jpeg", quality=jpeg_quality)
        else:
            opts["type"] = "png"
        data: bytes = self.call("taking a screenshot", lambda: self.page.screenshot(**opts))
        return data

    def _fast_screenshot(self, style: str, jpeg_quality: int | None) -> bytes | None:
        from playwright.sync_api import Error as PlaywrightError

        try:
            if self._cdp is None or self._cdp_page is not self.page:
                self._cdp = self.page.context.new_cdp_session(self.page)
                self._cdp_page = self.page
        except PlaywrightError:
            return None  # not Chromium
        params: dict[str, Any] = {"format": "png", "optimizeForSpeed": True}
        if jpeg_quality is not None:
            params = {"format": "jpeg", "quality": jpeg_quality, "optimizeForSpeed": True}

        def shoot() -> bytes:
            if style:
                self.page.evaluate(_ADD_STYLE, style)
            try:
                return base64.b64decode(self._cdp.send("Page.captureScreenshot", params)["data"])
            finally:
                if style:
                    self.page.evaluate(_REMOVE_STYLE)

        return self.call("taking a screenshot", shoot)

    def capture(self, label: str, *, mask: Iterable[str] = ()) -> Capture:
        """Screenshot + page HTML for a failure report; never raises (the page may be gone)."""
        url, html, shot = "", "", None
        try:
            url = self.redact(self.page.url)
            html = self.redact(self.page.content())
        except Exception as exc:
            html = f"<!-- page content unavailable: {self.redact(str(exc))[:200]} -->"
        try:
            style = "".join(
                f"{sel} {{ background: #000 !important; color: #000 !important; }}" for sel in mask
            )
            shot = self.page.screenshot(type="png", style=style or None, animations="disabled", timeout=5_000)
        except Exception as exc:
            log.debug("failure screenshot unavailable: %s", self.redact(str(exc))[:200])
        cap = Capture(label=label, url=url, screenshot=shot, html=html)
        if self.artifacts_dir is not None:
            self.artifacts_dir.mkdir(parents=True, exist_ok=True)
            stem = _SAFE.sub("_", label)[:80] or "capture"
            html_path = self.artifacts_dir / f"{stem}.html"
            html_path.write_text(html, encoding="utf-8")
            cap.files.append(html_path)
            if shot is not None:
                png_path = self.artifacts_dir / f"{stem}.png"
                png_path.write_bytes(shot)
                cap.files.append(png_path)
        return cap
