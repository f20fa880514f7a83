"""Find or install a Chromium for Playwright, and the options to launch it.

Two places a Chromium can come from, tried in this order:

1. Playwright's own build (``playwright install chromium``), found in Playwright's browser
   cache (``PLAYWRIGHT_BROWSERS_PATH`` or the per-user default). This is what a developer's
   laptop usually has.
2. A system Chromium (``/usr/bin/chromium`` on Debian/Ubuntu, or ``BACKOFFICE_CHROMIUM``
   pointing at any Chromium/Chrome binary). Used where Playwright cannot download its
   browsers, e.g. behind a proxy that only lets package registries through.

``python -m backoffice.browser install`` makes sure one of them exists (the Makefile calls it),
``python -m backoffice.browser check`` prints what will be used and starts it once.

``launch_options()`` returns keyword arguments for ``playwright.chromium.launch(**opts)``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from backoffice.errors import ConfigError

__all__ = [
    "BASE_ARGS",
    "BrowserChoice",
    "choose",
    "install",
    "launch_options",
    "main",
    "playwright_chromium_dirs",
    "system_chromium",
]

#: Flags that keep Chromium quiet and working in containers and CI.
BASE_ARGS: tuple[str, ...] = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)

ENV_CHROMIUM = "BACKOFFICE_CHROMIUM"
APT_PACKAGES = ("chromium", "chromium-browser")

_SYSTEM_CANDIDATES = (
    "/usr/lib/chromium/chromium",  # Debian's real binary (/usr/bin/chromium is a shell wrapper)
    "/usr/bin/chromium",
    "/usr/bin/chromium-browser",
    "/snap/bin/chromium",
    "/usr/bin/google-chrome",
    "/usr/bin/google-chrome-stable",
    "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome",
    "/Applications/Chromium.app/Contents/MacOS/Chromium",
)


@dataclass(frozen=True)
class BrowserChoice:
    """Which Chromium will be launched, and how."""

    source: str  # "playwright", "playwright-full" or "system"
    path: Path | None  # the binary (system) or Playwright's browser directory
    options: dict[str, Any]

    def describe(self) -> str:
        if self.source == "system":
            return f"system Chromium at {self.path}"
        return f"Playwright's Chromium in {self.path}"


def _browsers_root() -> Path:
    """Playwright's browser cache directory, as Playwright itself computes it."""
    env = os.environ.get("PLAYWRIGHT_BROWSERS_PATH")
    if env == "0":
        import playwright

        return Path(playwright.__file__).parent / "driver" / "package" / ".local-browsers"
    if env:
        return Path(env).expanduser()
    system = platform.system()
    if system == "Darwin":
        return Path.home() / "Library" / "Caches" / "ms-playwright"
    if system == "Windows":
        local = os.environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
        return Path(local) / "ms-playwright"
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "ms-playwright"


@lru_cache(maxsize=1)
def _revisions() -> dict[str, str]:
    """Browser name -> revision that the installed Playwright package expects."""
    try:
        import playwright
    except ImportError:  # pragma: no cover - playwright is a hard dependency
        return {}
    manifest = Path(playwright.__file__).parent / "driver" / "package" / "browsers.json"
    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {str(b["name"]): str(b["revision"]) for b in data.get("browsers", [])}


def _complete(directory: Path) -> bool:
    return directory.is_dir() and (directory / "INSTALLATION_COMPLETE").exists()


def playwright_chromium_dirs() -> tuple[Path | None, Path | None]:
    """(full Chromium dir, headless shell dir) of Playwright's own build, None when not installed."""
    revs = _revisions()
    root = _browsers_root()
    full = shell = None
    if "chromium" in revs:
        d = root / f"chromium-{revs['chromium']}"
        full = d if _complete(d) else None
    if "chromium-headless-shell" in revs:
        d = root / f"chromium_headless_shell-{revs['chromium-headless-shell']}"
        shell = d if _complete(d) else None
    return full, shell


def system_chromium() -> Path | None:
    """A Chromium/Chrome binary installed outside Playwright (``BACKOFFICE_CHROMIUM`` first)."""
    env = os.environ.get(ENV_CHROMIUM)
    if env:
        p = Path(env).expanduser()
        if p.is_file() and os.access(p, os.X_OK):
            return p
        raise ConfigError(f"{ENV_CHROMIUM}={env!r} is not an executable file")
    for cand in _SYSTEM_CANDIDATES:
        p = Path(cand)
        if p.is_file() and os.access(p, os.X_OK):
            return p
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return Path(found)
    return None


def choose(headless: bool = True) -> BrowserChoice | None:
    """The Chromium ``launch_options`` would use, or None when there is none."""
    if os.environ.get(ENV_CHROMIUM):
        exe = system_chromium()
        return BrowserChoice("system", exe, {"executable_path": str(exe)})
    full, shell = playwright_chromium_dirs()
    if headless and shell is not None:
        return BrowserChoice("playwright", shell, {})
    if full is not None:
        # The "chromium" channel runs the full build, headless too (new headless mode).
        return BrowserChoice("playwright-full", full, {"channel": "chromium"})
    exe = system_chromium()
    if exe is not None:
        return BrowserChoice("system", exe, {"executable_path": str(exe)})
    return None


def launch_options(headless: bool = True) -> dict[str, Any]:
    """Keyword arguments for ``p.chromium.launch(**launch_options())``.

    Uses Playwright's own Chromium when installed, else the system Chromium via
    ``executable_path``. Raises ConfigError when neither exists.
    """
    choice = choose(headless)
    if choice is None:
        raise ConfigError(
            "no Chromium found for Playwright: run `python -m backoffice.browser install` "
            f"(or set {ENV_CHROMIUM} to a Chromium binary)"
        )
    opts: dict[str, Any] = {"headless": headless, "args": list(BASE_ARGS)}
    opts.update(choice.options)
    return opts


def _can_apt() -> list[str] | None:
    """The command prefix to run apt-get as root, or None when we cannot."""
    if not shutil.which("apt-get"):
        return None
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return []
    if shutil.which("sudo"):
        ok = subprocess.run(["sudo", "-n", "true"], capture_output=True, check=False, timeout=20)
        if ok.returncode == 0:
            return ["sudo", "-n"]
    return None


def _tail(text: str, lines: int = 3) -> str:
    """The first error lines of a tool's output (else its last lines), indented."""
    all_lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    errors = [ln for ln in all_lines if ln.lower().startswith("error")]
    chosen = errors[:lines] if errors else all_lines[-lines:]
    return "\n".join("    " + ln for ln in chosen)


def _apt_install(prefix: list[str]) -> BrowserChoice | None:
    """``apt-get install chromium`` (Debian; ``chromium-browser`` on Ubuntu), updating lists once."""
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    updated = False
    out = ""
    for package in APT_PACKAGES:
        cmd = [*prefix, "apt-get", "install", "-y", "--no-install-recommends", package]
        for _ in range(2):
            print(f"browser: running `{' '.join(cmd)}` ...")
            res = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False, timeout=1800)
            out = (res.stdout or "") + (res.stderr or "")
            if res.returncode == 0 or updated:
                break
            print("browser: apt-get install failed, updating package lists and retrying ...")
            subprocess.run(
                [*prefix, "apt-get", "update"], capture_output=True, env=env, check=False, timeout=1800
            )
            updated = True
        choice = choose()
        if choice is not None:
            print(f"browser: installed {choice.describe()}")
            return choice
    print("browser: apt-get could not install a Chromium:\n" + _tail(out))
    return None


def install(*, try_playwright: bool = True, try_apt: bool = True) -> BrowserChoice:
    """Get a Chromium by any means available; print each step. Raises ConfigError if none."""
    choice = choose()
    if choice is not None and choice.source != "system":
        print(f"browser: {choice.describe()} is already installed")
        return choice
    if try_playwright:
        print("browser: running `playwright install chromium` ...")
        try:
            res = subprocess.run(
                [sys.executable, "-m", "playwright", "install", "chromium"],
                capture_output=True,
                text=True,
                timeout=900,
                check=False,
            )
            ok, out = res.returncode == 0, (res.stdout or "") + (res.stderr or "")
        except (OSError, subprocess.TimeoutExpired) as exc:
            ok, out = False, str(exc)
        _revisions.cache_clear()
        choice = choose()
        if ok and choice is not None and choice.source != "system":
            print(f"browser: installed {choice.describe()}")
            return choice
        print("browser: `playwright install chromium` failed:\n" + _tail(out))
    if choice is not None:
        print(f"browser: using {choice.describe()}")
        return choice
    prefix = _can_apt() if try_apt else None
    if prefix is not None:
        choice = _apt_install(prefix)
        if choice is not None:
            return choice
    raise ConfigError(
        "no Chromium could be installed: `playwright install chromium` failed and there is no "
        "system Chromium (install the `chromium` package as root, or set "
        f"{ENV_CHROMIUM} to a Chromium/Chrome binary)"
    )


def check(headless: bool = True) -> str:
    """Launch the chosen Chromium once, open a blank page, return its version."""
    from playwright.sync_api import sync_playwright

    opts = launch_options(headless)
    with sync_playwright() as p:
        browser = p.chromium.launch(**opts)
        try:
            page = browser.new_page()
            page.set_content("<p>ok</p>")
            return browser.version
        finally:
            browser.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m backoffice.browser", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    p_inst = sub.add_parser("install", help="get a Chromium (Playwright's, else the system one)")
    p_inst.add_argument("--no-playwright", action="store_true", help="skip `playwright install`")
    sub.add_parser("info", help="print the launch options as JSON")
    sub.add_parser("check", help="start the chosen Chromium once")
    args = parser.parse_args(argv)
    try:
        if args.cmd == "install":
            install(try_playwright=not args.no_playwright)
        elif args.cmd == "info":
            print(json.dumps(launch_options(), indent=2))
        else:
            print(f"browser: {check()} started and stopped cleanly")
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
