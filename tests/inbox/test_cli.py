"""``backoffice inbox`` serves the app with uvicorn (a real process on a free loopback port)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_backoffice_inbox_serves_until_stopped(tmp_path: Path) -> None:
    port = _free_port()
    env = {**os.environ, "BACKOFFICE_HOME": str(tmp_path / "home"), "BACKOFFICE_INBOX_PORT": str(port)}
    env.pop("BACKOFFICE_DATABASE_URL", None)
    proc = subprocess.Popen(
        [str(Path(sys.executable).with_name("backoffice")), "inbox"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        while True:
            try:
                r = httpx.get(f"{base}/healthz", timeout=2)
                if r.status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                out = proc.stdout.read() if proc.stdout else ""
                raise AssertionError(f"the inbox did not start (exit {proc.returncode}):\n{out}")
            time.sleep(0.2)
        assert r.json() == {"ok": True}
        r = httpx.get(f"{base}/queue", follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/login")
        assert "csrf_token" in httpx.get(f"{base}/login").text
        assert (tmp_path / "home" / "session.key").exists()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout:
            proc.stdout.close()
