"""``backoffice inbox --workers 2``: two processes on one port share the sessions (server-side,
one signing key in the home): after one login, requests on fresh connections (which either
worker may accept) are all logged in."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx

from backoffice.settings import Settings
from backoffice.store import Store
from backoffice.users import add_user
from bench.load_inbox import _cpu_seconds, _free_port, _stop

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def test_two_workers_serve_one_port_and_share_the_sessions(tmp_path: Path) -> None:
    home = tmp_path / "home"
    settings = Settings(home=home)
    store = Store.open(settings.db_url, settings=settings)
    add_user(store, "lead", "team_lead", password="lead-password")
    Store.close_all()
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("BACKOFFICE_")}
    env["BACKOFFICE_HOME"] = str(home)
    cmd = [str(Path(sys.executable).with_name("backoffice")), "inbox", "--port", str(port), "--workers", "2"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "the inbox did not start"
            time.sleep(0.3)
        workers = [p for p in Path("/proc").glob("[0-9]*/stat") if _parent(p) == proc.pid]
        assert len(workers) >= 2, "uvicorn started fewer than two worker processes"
        headers = {"Origin": base}
        with httpx.Client(base_url=base, headers=headers, follow_redirects=False) as c:
            token = CSRF.search(c.get("/login").text)
            assert token
            r = c.post(
                "/login", data={"csrf_token": token.group(1), "username": "lead", "password": "lead-password"}
            )
            assert r.status_code == 303
            # new connections each time: the kernel spreads them over both workers
            for _ in range(12):
                with httpx.Client(base_url=base, cookies=c.cookies, follow_redirects=False) as fresh:
                    page = fresh.get("/queue")
                    assert page.status_code == 200 and "lead" in page.text
        assert _cpu_seconds(proc.pid) > 0
    finally:
        _stop(proc)


def _parent(stat: Path) -> int:
    try:
        return int(stat.read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return -1
