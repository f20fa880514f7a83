"""A throwaway PostgreSQL cluster for tests and benches: temp dir, 127.0.0.1, a free port.

    with PgCluster.start() as pg:
        url = pg.create_database("backoffice")   # postgresql+psycopg://postgres@127.0.0.1:PORT/backoffice

Finds ``initdb``/``pg_ctl`` on PATH, in /usr/local/bin or /usr/lib/postgresql/*/bin; if they
are missing and we are root, installs Debian's ``postgresql`` with apt-get. initdb refuses to
run as root, so as root the cluster runs as the ``postgres`` user (``runuser``) in a
directory chowned to it. Raises :class:`PgUnavailable` (tests turn it into a skip) when no
server can be had. fsync is off: the cluster is disposable.
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

__all__ = ["PgCluster", "PgUnavailable", "find_pg_bin", "free_port"]


class PgUnavailable(RuntimeError):
    """No PostgreSQL binaries and no way to install them."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _candidates() -> list[Path]:
    dirs: list[Path] = []
    on_path = shutil.which("initdb")
    if on_path:
        dirs.append(Path(on_path).resolve().parent)
    dirs.append(Path("/usr/local/bin"))
    dirs += [Path(p) for p in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)]
    return [d for d in dirs if (d / "initdb").exists() and (d / "pg_ctl").exists()]


def find_pg_bin(install: bool = True) -> Path:
    """The directory holding initdb and pg_ctl; installs PostgreSQL (apt-get) if allowed and needed."""
    found = _candidates()
    if found:
        return found[0]
    if not install:
        raise PgUnavailable("PostgreSQL (initdb, pg_ctl) is not installed")
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise PgUnavailable("PostgreSQL is not installed and apt-get as root is not available to install it")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    # Test workers (pytest-xdist) start at once: one installs, the others wait and then find it.
    with open(os.path.join(tempfile.gettempdir(), "bo-pg-install.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        found = _candidates()
        if found:
            return found[0]
        for cmd in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", "postgresql"]):
            res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900, check=False)
            if res.returncode != 0:
                raise PgUnavailable(f"{' '.join(cmd)} failed: {res.stderr.strip()[-500:]}")
    found = _candidates()
    if not found:
        raise PgUnavailable("apt-get installed postgresql but initdb/pg_ctl were not found")
    return found[0]


class PgCluster:
    """A running cluster. Superuser ``postgres``, trust authentication on 127.0.0.1 only."""

    def __init__(self, bindir: Path, root: Path, port: int, run_as: str | None) -> None:
        self.bindir = bindir
        self.root = root
        self.data = root / "data"
        self.port = port
        self.run_as = run_as
        self.log = root / "postgres.log"

    # -- life cycle ---------------------------------------------------------------------------
    @classmethod
    def start(cls, *, max_connections: int = 300, install: bool = True) -> PgCluster:
        bindir = find_pg_bin(install=install)
        run_as = None
        root = Path(tempfile.mkdtemp(prefix="bo-pg-"))
        if os.geteuid() == 0:
            try:
                pw = pwd.getpwnam("postgres")
            except KeyError as exc:
                shutil.rmtree(root, ignore_errors=True)
                raise PgUnavailable("running as root and there is no 'postgres' user to run initdb") from exc
            os.chown(root, pw.pw_uid, pw.pw_gid)
            root.chmod(0o700)
            run_as = "postgres"
        cluster = cls(bindir, root, free_port(), run_as)
        try:
            cluster._initdb()
            cluster._pg_ctl_start(max_connections)
        except BaseException:
            cluster.stop()
            raise
        return cluster

    def _cmd(self, *args: str) -> list[str]:
        if self.run_as:
            return ["runuser", "-u", self.run_as, "--", *args]
        return list(args)

    def _run(self, *args: str, timeout: float = 120) -> None:
        res = subprocess.run(
            self._cmd(*args), capture_output=True, text=True, timeout=timeout, check=False, cwd=self.root
        )
        if res.returncode != 0:
            log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise PgUnavailable(
                f"{Path(args[0]).name} failed ({res.returncode}): {res.stderr.strip()[-1500:]}\n{log}"
            )

    def _initdb(self) -> None:
        self._run(
            str(self.bindir / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
        )

    def _pg_ctl_start(self, max_connections: int) -> None:
        opts = (
            f"-p {self.port} -h 127.0.0.1 -k {self.root} -c fsync=off -c synchronous_commit=off "
            f"-c full_page_writes=off -c max_connections={max_connections} -c shared_buffers=64MB"
        )
        self._run(
            str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o", opts, "-w", "start"
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return
            time.sleep(0.2)
        raise PgUnavailable(f"PostgreSQL did not listen on port {self.port}")

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            with contextlib.suppress(Exception):
                self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> PgCluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- databases ----------------------------------------------------------------------------
    def url(self, dbname: str = "postgres", driver: str = "psycopg") -> str:
        return f"postgresql+{driver}://postgres@127.0.0.1:{self.port}/{dbname}"

    def create_database(self, name: str, driver: str = "psycopg") -> str:
        """Create database ``name`` (dropping an old one) and return its SQLAlchemy URL."""
        import psycopg

        with psycopg.connect(host="127.0.0.1", port=self.port, user="postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name, driver)
