"""A real ``prefect server start`` and ``prefect worker start`` processes on 127.0.0.1, for tests and benches.

    server = PrefectServer.start(tmp_dir, database_url="postgresql+asyncpg://...")  # or None: SQLite
    worker = server.worker("backoffice", "w1", env={...})
    ...
    worker.stop(); server.stop()

Every process gets its own session (process group), so stopping it also stops the flow-run
processes a worker started, and nothing else.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.scale.pgcluster import free_port

__all__ = ["PrefectServer", "Proc", "prefect_exe"]


def prefect_exe() -> str:
    exe = Path(sys.executable).with_name("prefect")
    return str(exe) if exe.exists() else "prefect"


def _base_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "BACKOFFICE_"))}
    env.update(
        PREFECT_HOME=str(home),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        DO_NOT_TRACK="1",
        PREFECT_LOGGING_LEVEL="INFO",
        PYTHONUNBUFFERED="1",
    )
    return env


class Proc:
    """A started process with its log file; ``stop`` ends its whole process group."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log: Path, cwd: Path) -> None:
        self.name = name
        self.log = log
        log.parent.mkdir(parents=True, exist_ok=True)
        self._fh = log.open("ab")
        self.popen = subprocess.Popen(
            args, env=env, stdout=self._fh, stderr=subprocess.STDOUT, cwd=cwd, start_new_session=True
        )

    def alive(self) -> bool:
        return self.popen.poll() is None

    def tail(self, n: int = 3000) -> str:
        with contextlib.suppress(OSError):
            return self.log.read_text(errors="replace")[-n:]
        return ""

    def stop(self, grace: float = 10) -> None:
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGINT)
            try:
                self.popen.wait(grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(10)
        else:  # the leader is gone; flow-run children of a worker may still be in its group
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.popen.pid, signal.SIGKILL)
        self._fh.close()


class PrefectServer:
    def __init__(self, root: Path, port: int, proc: Proc) -> None:
        self.root = root
        self.port = port
        self.proc = proc
        self.workers: list[Proc] = []

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    @classmethod
    def start(cls, root: Path, database_url: str | None = None, timeout: float = 120) -> PrefectServer:
        """Start a server with its own PREFECT_HOME under ``root``; its database is ``database_url``."""
        root.mkdir(parents=True, exist_ok=True)
        port = free_port()
        env = _base_env(root / "server-home")
        env.update(PREFECT_UI_ENABLED="false", PREFECT_SERVER_LOGGING_LEVEL="WARNING")
        if database_url:
            env["PREFECT_API_DATABASE_CONNECTION_URL"] = database_url
        args = [prefect_exe(), "server", "start", "--host", "127.0.0.1", "--port", str(port)]
        server = cls(root, port, Proc("prefect-server", args, env, root / "logs" / "server.log", root))
        try:
            server._wait_healthy(timeout)
        except BaseException:
            server.stop()
            raise
        return server

    def _wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.proc.alive():
                raise RuntimeError(f"prefect server exited:\n{self.proc.tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.api_url}/health", timeout=2).status_code == 200:
                    return
            time.sleep(0.5)
        raise RuntimeError(f"prefect server not healthy after {timeout:.0f}s:\n{self.proc.tail()}")

    def client_env(self, **extra: str) -> dict[str, str]:
        """Environment for a process that talks to this server (CLI, worker)."""
        env = _base_env(self.root / "client-home")
        env["PREFECT_API_URL"] = self.api_url
        env.update(extra)
        return env

    def worker(
        self, pool: str, name: str, *, env: dict[str, str] | None = None, limit: int | None = None
    ) -> Proc:
        """Start ``prefect worker start`` for ``pool`` (process type), polling every second."""
        wenv = self.client_env(PREFECT_WORKER_QUERY_SECONDS="1", PREFECT_WORKER_PREFETCH_SECONDS="2")
        wenv.update(env or {})
        args = [prefect_exe(), "worker", "start", "--pool", pool, "--name", name, "--type", "process"]
        if limit is not None:
            args += ["--limit", str(limit)]
        proc = Proc(name, args, wenv, self.root / "logs" / f"{name}.log", self.root)
        self.workers.append(proc)
        return proc

    def stop_workers(self) -> None:
        for w in self.workers:
            w.stop()
        self.workers.clear()

    def stop(self) -> None:
        self.stop_workers()
        self.proc.stop(grace=20)
