"""The store: one SQLAlchemy engine, schema migrated by alembic on open.

SQLite (WAL) under ``BACKOFFICE_HOME`` by default; any SQLAlchemy URL through
``BACKOFFICE_DATABASE_URL`` (PostgreSQL via psycopg 3).

Writes go through :meth:`Store.write`, a transaction that on SQLite starts with
``BEGIN IMMEDIATE`` (so two processes never deadlock upgrading a read lock) and on
PostgreSQL is a normal transaction in which claims use ``FOR UPDATE SKIP LOCKED``.
"""

from __future__ import annotations

import contextlib
import fcntl
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.exc import OperationalError

from backoffice.errors import ConfigError
from backoffice.settings import Settings, get_settings

__all__ = ["Store", "utcnow"]

_MIGRATIONS = Path(__file__).with_name("migrations")
_open_stores: dict[str, Store] = {}
_open_lock = threading.Lock()


def utcnow() -> datetime:
    return datetime.now(UTC)


def _alembic_config(connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


class Store:
    """A handle on the database and the home directory (evidence files, reports)."""

    def __init__(self, url: str, home: Path, settings: Settings) -> None:
        self.url = url
        self.home = home
        self.settings = settings
        self.is_sqlite = url.startswith("sqlite")
        self.engine: Engine = self._make_engine(url)
        # SQLite has one writer at a time. Threads of this process that want to write wait for
        # each other here (woken at once when the writer commits) rather than in SQLite's busy
        # handler, which polls with growing sleeps (up to 100 ms): only the thread holding this
        # lock competes, in BEGIN IMMEDIATE, with writers in other processes.
        self._writer = threading.RLock() if self.is_sqlite else None

    # -- construction -------------------------------------------------------------------------
    @classmethod
    def open(cls, url: str | None = None, *, settings: Settings | None = None, migrate: bool = True) -> Store:
        """Open (and migrate) the store named by ``url`` or the settings. Cached per URL in a process."""
        settings = settings or get_settings()
        url = url or settings.db_url
        with _open_lock:
            store = _open_stores.get(url)
            if store is None:
                home = settings.home
                if url.startswith("sqlite"):
                    db_path = url.split("///", 1)[-1]
                    if db_path and db_path != ":memory:":
                        Path(db_path).parent.mkdir(parents=True, exist_ok=True)
                home.mkdir(parents=True, exist_ok=True)
                store = cls(url, home, settings)
                if migrate:
                    store.migrate()
                _open_stores[url] = store
        return store

    @staticmethod
    def close_all() -> None:
        with _open_lock:
            for store in _open_stores.values():
                store.engine.dispose()
            _open_stores.clear()

    def _make_engine(self, url: str) -> Engine:
        if url.startswith("sqlite"):
            engine = create_engine(url, connect_args={"timeout": 60, "check_same_thread": False})

            @event.listens_for(engine, "connect")
            def _sqlite_connect(dbapi_conn: Any, _record: Any) -> None:
                dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
                cur = dbapi_conn.cursor()
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA synchronous=NORMAL")
                cur.execute("PRAGMA foreign_keys=ON")
                cur.execute("PRAGMA busy_timeout=60000")
                cur.close()

            @event.listens_for(engine, "begin")
            def _sqlite_begin(conn: Connection) -> None:
                if conn.get_execution_options().get("immediate"):
                    conn.exec_driver_sql("BEGIN IMMEDIATE")
                else:
                    conn.exec_driver_sql("BEGIN")

            return engine
        if url.startswith("postgresql"):
            return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)
        try:
            return create_engine(url)
        except Exception as exc:  # bad URL or missing driver
            raise ConfigError(f"BACKOFFICE_DATABASE_URL is not usable: {exc}") from exc

    # -- migrations ---------------------------------------------------------------------------
    def migrate(self) -> None:
        """Bring the schema to the newest revision (idempotent, safe with many processes)."""
        head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
        with self._migration_lock():
            try:
                with self.engine.connect() as conn:
                    current = MigrationContext.configure(conn).get_current_revision()
                    if conn.in_transaction():
                        conn.rollback()
                if current == head:
                    return
                with self.engine.connect() as conn, conn.execution_options(immediate=True).begin():
                    if not self.is_sqlite:
                        conn.exec_driver_sql("SELECT pg_advisory_xact_lock(733061)")
                    command.upgrade(_alembic_config(conn), "head")
            except OperationalError as exc:
                raise ConfigError(f"cannot open the store at {self.safe_url}: {exc.orig}") from exc

    @contextlib.contextmanager
    def _migration_lock(self) -> Iterator[None]:
        if not self.is_sqlite:
            yield
            return
        lock_path = self.home / ".migrate.lock"
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        with open(lock_path, "w") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    # -- transactions -------------------------------------------------------------------------
    @contextlib.contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction (BEGIN IMMEDIATE on SQLite). Commits on success, rolls back on error."""
        with self._writer or contextlib.nullcontext(), self.engine.connect() as conn:
            conn = conn.execution_options(immediate=True)
            with conn.begin():
                yield conn

    @contextlib.contextmanager
    def read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn, conn.begin():
            yield conn

    @property
    def safe_url(self) -> str:
        """The URL with any password hidden."""
        return self.engine.url.render_as_string(hide_password=True)

    @property
    def evidence_dir(self) -> Path:
        return self.home / "evidence"
