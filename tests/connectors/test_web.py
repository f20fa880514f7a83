"""connectors.web in real headless Chromium against the fixture ERP."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from backoffice.errors import ConfigError, TerminalError, TransientError
from connectors.web import Credentials, LoginFailed, RetryPolicy, WebSession, redact, retry
from fixtures.erp_app import DEFAULT_PASSWORD, DEFAULT_USER, ErpServer, start_in_thread

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def erp(tmp_path_factory):
    server = start_in_thread(tmp_path_factory.mktemp("erp") / "erp.db")
    yield server
    server.stop()


@pytest.fixture
def web(erp: ErpServer, tmp_path: Path):
    erp.switch(fail_rate=0, slow_ms=0, session_timeout=0)
    try:
        session = WebSession.open(erp.url, artifacts_dir=tmp_path / "artifacts", timeout_ms=2_000)
    except ConfigError as exc:
        pytest.skip(f"no Chromium: {exc}")
    yield session
    session.close()
    erp.switch(fail_rate=0, slow_ms=0, session_timeout=0)


def test_retry_backs_off_and_gives_up_with_the_last_error() -> None:
    waits: list[float] = []
    calls = {"n": 0}

    def flaky() -> str:
        calls["n"] += 1
        if calls["n"] < 3:
            raise TransientError(f"try {calls['n']}")
        return "ok"

    assert retry(flaky, RetryPolicy(attempts=4, backoff=0.1), sleep=waits.append) == "ok"
    assert waits == [0.1, 0.2]

    def always() -> None:
        raise TransientError("down")

    waits.clear()
    with pytest.raises(TransientError, match="down"):
        retry(always, RetryPolicy(attempts=3, backoff=1, max_delay=1.5), sleep=waits.append)
    assert waits == [1, 1.5]


def test_retry_does_not_retry_terminal_errors() -> None:
    calls = []

    def refused() -> None:
        calls.append(1)
        raise TerminalError("no")

    with pytest.raises(TerminalError):
        retry(refused, RetryPolicy(attempts=5, backoff=0), sleep=lambda s: None)
    assert len(calls) == 1


def test_credentials_never_show_the_password(monkeypatch) -> None:
    monkeypatch.setenv("X_ERP_USER", "clerk")
    monkeypatch.setenv("X_ERP_PASSWORD", "hunter2-secret")
    creds = Credentials.from_env("X_ERP")
    assert creds is not None and creds.user == "clerk"
    assert "hunter2" not in repr(creds) and "hunter2" not in str(creds)
    assert creds.password.get_secret_value() == "hunter2-secret"
    monkeypatch.delenv("X_ERP_PASSWORD")
    assert Credentials.from_env("X_ERP") is None
    assert redact("pw=hunter2-secret!", ["hunter2-secret", ""]) == "pw=[redacted]!"


def test_login_and_a_refused_login_that_leaks_nothing(web: WebSession, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    with pytest.raises(LoginFailed) as info:
        web.login(Credentials.of(DEFAULT_USER, "wrong-pass-123"), error_selector="#login-error")
    assert "wrong-pass-123" not in str(info.value)
    web.login(Credentials.of(DEFAULT_USER, DEFAULT_PASSWORD), error_selector="#login-error")
    assert "/login" not in web.page.url
    assert "wrong-pass-123" not in caplog.text and DEFAULT_PASSWORD not in caplog.text


def test_http_500_is_transient(web: WebSession, erp: ErpServer) -> None:
    erp.switch(fail_rate=1.0)
    with pytest.raises(TransientError, match="HTTP 500"):
        web.goto("/vendors")


def test_slow_page_times_out_as_transient(erp: ErpServer, tmp_path: Path) -> None:
    erp.switch(slow_ms=1500)
    try:
        session = WebSession.open(erp.url, navigation_timeout_ms=300)
    except ConfigError as exc:
        pytest.skip(f"no Chromium: {exc}")
    try:
        with pytest.raises(TransientError, match="opening /login"):
            session.goto("/login")
    finally:
        session.close()
        erp.switch(slow_ms=0)


def test_missing_element_is_transient_and_named(web: WebSession) -> None:
    web.goto("/login")
    web.page.set_default_timeout(200)
    with pytest.raises(TransientError, match="clicking the ghost"):
        web.call("clicking the ghost", lambda: web.page.click("#no-such-button"))


def test_capture_writes_screenshot_and_redacted_html(web: WebSession) -> None:
    web.add_secret("s3cret-value")
    web.page.set_content(
        "<html><body><h1>Oops</h1><p id='leak'>token s3cret-value</p><p class='pii'>DE89</p></body></html>"
    )
    cap = web.capture("row 12 / failed", mask=[".pii"])
    assert cap.screenshot is not None and cap.screenshot.startswith(b"\x89PNG")
    assert "s3cret-value" not in cap.html and "[redacted]" in cap.html
    names = sorted(p.name for p in cap.files)
    assert names == ["row_12_failed.html", "row_12_failed.png"]
    assert all(p.stat().st_size > 0 for p in cap.files)


def test_capture_survives_a_closed_page(web: WebSession) -> None:
    web.page.close()
    cap = web.capture("after close")
    assert cap.screenshot is None and "unavailable" in cap.html


def test_masked_screenshot_leaves_the_page_unchanged(web: WebSession) -> None:
    web.page.set_content("<p class='pii' style='color:#123456'>DE89370400440532013000</p>")
    plain = web.screenshot()
    masked = web.screenshot(mask=[".pii"])
    assert plain != masked and masked.startswith(b"\x89PNG")
    assert web.page.eval_on_selector(".pii", "e => getComputedStyle(e).color") == "rgb(18, 52, 86)"
    assert web.screenshot(jpeg_quality=70).startswith(b"\xff\xd8")
