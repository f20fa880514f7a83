"""No Prefect server outlives its backoffice: SIGTERM unwinds like SIGINT, and an embedded server
left by a ``kill -9`` (its parent gone) is reaped at the next CLI start."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from backoffice.cli.lifetime import orphaned_servers, reap_orphaned_servers

FAKE_SERVER = "import time; time.sleep(120)"  # argv carries Prefect's server mark


def spawn_orphan(home: str) -> int:
    """A stand-in for Prefect's embedded server whose parent exits at once (as after kill -9)."""
    parent = (
        "import subprocess, sys, os;"
        f"p = subprocess.Popen([sys.executable, '-c', {FAKE_SERVER!r}, 'prefect.server.api.server:create_app'],"
        f" env={{**os.environ, 'PREFECT__SERVER_EPHEMERAL': '1', 'PREFECT_HOME': {home!r}}},"
        " stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL);"
        "print(p.pid)"
    )
    out = subprocess.run([sys.executable, "-c", parent], capture_output=True, text=True, check=True)
    return int(out.stdout.strip())


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat").read_text() if Path(f"/proc/{pid}/stat").exists() else ""
    return ") Z " not in stat  # a zombie waiting for init is gone for our purpose


def test_orphaned_embedded_server_is_reaped_and_others_are_not(tmp_path: Path) -> None:
    home = str(tmp_path / "prefect")
    orphan = spawn_orphan(home)
    other_home = spawn_orphan(str(tmp_path / "another"))
    try:
        assert alive(orphan)
        assert orphan in orphaned_servers(home)
        assert other_home not in orphaned_servers(home)
        assert reap_orphaned_servers(home) == [orphan]
        deadline = time.monotonic() + 10
        while alive(orphan) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not alive(orphan)
        assert alive(other_home)
    finally:
        for pid in (orphan, other_home):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def test_a_server_with_a_live_parent_is_left_alone(tmp_path: Path) -> None:
    home = str(tmp_path / "prefect")
    child = subprocess.Popen(
        [sys.executable, "-c", FAKE_SERVER, "prefect.server.api.server:create_app"],
        env={**os.environ, "PREFECT__SERVER_EPHEMERAL": "1", "PREFECT_HOME": home},
    )
    try:
        assert child.pid not in orphaned_servers(home)
    finally:
        child.kill()
        child.wait()


def test_sigterm_unwinds_the_cli_like_sigint(tmp_path: Path) -> None:
    marker = tmp_path / "cleaned"
    script = (
        "import sys, time\n"
        "from backoffice.cli.lifetime import terminate_as_interrupt\n"
        "terminate_as_interrupt()\n"
        "try:\n"
        "    print('ready', flush=True)\n"  # inside the try: a signal right after it is caught too
        "    time.sleep(60)\n"
        "except KeyboardInterrupt:\n"
        "    sys.exit(130)\n"
        "finally:\n"
        f"    open({str(marker)!r}, 'w').write('yes')\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 130
    assert marker.read_text() == "yes"
