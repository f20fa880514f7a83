"""The CLI process and the Prefect server it may start: no server outlives its ``backoffice``.

Prefect's embedded mode starts a local API server as a child process (``python -m uvicorn
--factory prefect.server.api.server:create_app`` with ``PREFECT__SERVER_EPHEMERAL=1`` in its
environment) and stops it when the flow's context exits. SIGINT unwinds that context; SIGTERM
(a service manager, ``docker stop``, ``kill``) used to end the process without it, and
``kill -9`` cannot be handled at all, so the server stayed behind.

- :func:`terminate_as_interrupt` makes SIGTERM unwind like SIGINT (a ``KeyboardInterrupt``), so
  every ``with``/``finally`` runs, the embedded server included;
- :func:`reap_orphaned_servers`, called at each CLI start, ends embedded servers of this
  ``PREFECT_HOME`` whose parent is gone (re-parented to init or a subreaper: not a Python
  process), which is what a ``kill -9`` leaves. A live run's server has its live parent and is
  never touched. Linux ``/proc`` only; elsewhere it does nothing.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from pathlib import Path
from types import FrameType

__all__ = ["orphaned_servers", "reap_orphaned_servers", "terminate_as_interrupt"]

_SERVER_MARK = b"prefect.server.api.server:create_app"


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def terminate_as_interrupt() -> None:
    """SIGTERM raises KeyboardInterrupt in the main thread (as SIGINT does)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _interrupt)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:
        return b""


def _environ(pid: int) -> dict[bytes, bytes]:
    out: dict[bytes, bytes] = {}
    for pair in _read(Path(f"/proc/{pid}/environ")).split(b"\0"):
        key, sep, value = pair.partition(b"=")
        if sep:
            out[key] = value
    return out


def _parent(pid: int) -> int | None:
    for line in _read(Path(f"/proc/{pid}/status")).splitlines():
        if line.startswith(b"PPid:"):
            return int(line.split()[1])
    return None


def _is_python(pid: int) -> bool:
    argv0 = _read(Path(f"/proc/{pid}/cmdline")).split(b"\0", 1)[0]
    return b"python" in Path(os.fsdecode(argv0)).name.encode()


def orphaned_servers(prefect_home: str | None) -> list[int]:
    """Pids of embedded Prefect servers of ``prefect_home`` (None: the default home) whose
    parent process is gone."""
    proc = Path("/proc")
    if not proc.is_dir():
        return []
    me, uid = os.getpid(), os.getuid()
    home = os.fsencode(prefect_home) if prefect_home else None
    found: list[int] = []
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        pid = int(entry.name)
        try:
            if entry.stat().st_uid != uid:
                continue
        except OSError:
            continue
        if _SERVER_MARK not in _read(entry / "cmdline"):
            continue
        env = _environ(pid)
        if env.get(b"PREFECT__SERVER_EPHEMERAL") != b"1" or env.get(b"PREFECT_HOME") != home:
            continue
        parent = _parent(pid)
        if parent is None or (parent != 1 and _is_python(parent)):
            continue  # its backoffice (or another Python parent) is alive
        found.append(pid)
    return found


def reap_orphaned_servers(prefect_home: str | None) -> list[int]:
    """SIGTERM to every orphaned embedded server of ``prefect_home``; the pids signalled."""
    reaped = []
    for pid in orphaned_servers(prefect_home):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGTERM)
            reaped.append(pid)
    return reaped
