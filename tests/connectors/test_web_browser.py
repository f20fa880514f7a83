"""backoffice.browser: which Chromium is chosen, on this machine and on a laptop with Playwright's own."""

from __future__ import annotations

from pathlib import Path

import pytest

from backoffice import browser
from backoffice.errors import ConfigError


def fake_playwright_cache(root: Path, *names: str) -> None:
    revs = browser._revisions()
    for name in names:
        d = root / f"{name.replace('-', '_') if name != 'chromium' else name}-{revs[name]}"
        d.mkdir(parents=True)
        (d / "INSTALLATION_COMPLETE").write_text("")


def test_launch_options_always_carry_the_quiet_container_flags() -> None:
    try:
        opts = browser.launch_options()
    except ConfigError as exc:
        pytest.skip(f"no Chromium here: {exc}")
    assert opts["headless"] is True
    for flag in (
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
    ):
        assert flag in opts["args"]


def test_laptop_with_playwrights_headless_shell_needs_no_executable_path(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("PLAYWRIGHT_BROWSERS_PATH", str(tmp_path))
    monkeypatch.delenv(browser.ENV_CHROMIUM, raising=False)
    fake_playwright_cache(tmp_path, "chromium", "chromium-headless-shell")
    opts = browser.launch_options(headless=True)
    assert "executable_path" not in opts and "channel" not in opts
    headed = browser.launch_options(headless=False)
    assert headed["channel"] == "chromium" and headed["headless"] is False


def test_full_playwright_chromium_without_headless_shell_uses_the_chromium_channel(
    tmp_path, monkeypatch
) -> None:
    monkeypatch.setenv("PLAYWRIGHT_BROWSERS_PATH", str(tmp_path))
    monkeypatch.delenv(browser.ENV_CHROMIUM, raising=False)
    fake_playwright_cache(tmp_path, "chromium")
    assert browser.launch_options()["channel"] == "chromium"


def test_incomplete_playwright_download_is_ignored(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("PLAYWRIGHT_BROWSERS_PATH", str(tmp_path))
    (tmp_path / f"chromium_headless_shell-{browser._revisions()['chromium-headless-shell']}").mkdir()
    assert browser.playwright_chromium_dirs() == (None, None)


def test_system_chromium_is_used_through_executable_path(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("PLAYWRIGHT_BROWSERS_PATH", str(tmp_path))  # empty: no Playwright build
    monkeypatch.delenv(browser.ENV_CHROMIUM, raising=False)
    exe = browser.system_chromium()
    if exe is None:
        pytest.skip("no system Chromium on this machine")
    assert browser.launch_options()["executable_path"] == str(exe)


def test_env_override_and_a_bad_one(tmp_path, monkeypatch) -> None:
    fake = tmp_path / "my-chrome"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    monkeypatch.setenv(browser.ENV_CHROMIUM, str(fake))
    assert browser.launch_options()["executable_path"] == str(fake)
    monkeypatch.setenv(browser.ENV_CHROMIUM, str(tmp_path / "missing"))
    with pytest.raises(ConfigError, match="not an executable"):
        browser.launch_options()


def test_no_browser_anywhere_is_a_clear_config_error(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("PLAYWRIGHT_BROWSERS_PATH", str(tmp_path))
    monkeypatch.delenv(browser.ENV_CHROMIUM, raising=False)
    monkeypatch.setattr(browser, "_SYSTEM_CANDIDATES", ())
    monkeypatch.setenv("PATH", str(tmp_path))  # no apt-get, no sudo, no chromium on PATH
    with pytest.raises(ConfigError, match=r"backoffice\.browser install"):
        browser.launch_options()
    assert browser._can_apt() is None
    assert browser.main(["install", "--no-playwright"]) == 1
    assert "no Chromium could be installed" in capsys.readouterr().err


def test_install_reports_an_existing_playwright_build(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("PLAYWRIGHT_BROWSERS_PATH", str(tmp_path))
    monkeypatch.delenv(browser.ENV_CHROMIUM, raising=False)
    fake_playwright_cache(tmp_path, "chromium", "chromium-headless-shell")
    assert browser.main(["install"]) == 0
    assert "already installed" in capsys.readouterr().out


def test_apt_fallback_updates_once_then_tries_the_ubuntu_package(tmp_path, monkeypatch, capsys) -> None:
    """apt-get is faked (the system edge): Debian's `chromium` is missing, Ubuntu's name installs one."""
    exe = tmp_path / "bin" / "chromium-browser"
    monkeypatch.setenv("PLAYWRIGHT_BROWSERS_PATH", str(tmp_path / "pw"))
    monkeypatch.delenv(browser.ENV_CHROMIUM, raising=False)
    monkeypatch.setattr(browser, "_SYSTEM_CANDIDATES", (str(exe),))
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    calls: list[list[str]] = []

    class Done:
        def __init__(self, rc: int) -> None:
            self.returncode, self.stdout, self.stderr = rc, "", "E: Unable to locate package" if rc else ""

    def fake_run(cmd, **kw):
        calls.append(list(cmd))
        if cmd[-1] == "chromium-browser":
            exe.parent.mkdir(parents=True, exist_ok=True)
            exe.write_text("#!/bin/sh\n")
            exe.chmod(0o755)
            return Done(0)
        return Done(0 if cmd[-1] == "update" else 100)

    monkeypatch.setattr(browser.subprocess, "run", fake_run)
    monkeypatch.setattr(browser, "_can_apt", lambda: ["sudo", "-n"])
    choice = browser.install(try_playwright=False)
    assert choice.path == exe and browser.launch_options()["executable_path"] == str(exe)
    assert [c[-1] for c in calls] == ["chromium", "update", "chromium", "chromium-browser"]
    assert all(c[:2] == ["sudo", "-n"] for c in calls)
    assert "installed system Chromium" in capsys.readouterr().out
