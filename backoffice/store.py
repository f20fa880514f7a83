"""The store: one SQLAlchemy engine, schema migrated by alembic on open.

SQLite (WAL) under ``BACKOFFICE_HOME`` by default; any SQLAlchemy URL through
``BACKOFFICE_DATABASE_URL`` (PostgreSQL via psycopg 3).

Engagements (clients) are kept apart here, in the store layer: each engagement has a store of its
own (on SQLite a database file under HOME/engagements/NAME, on PostgreSQL the same database with a
schema ``eng_NAME`` of its own first on the search path), so its runs, items, evidence files, audit
chain, users and reports are out of reach of every query made through another engagement's store.
``Store.open()`` opens the store of the engagement in force: the one given, else the one the CLI's
``--engagement`` set for this command (:func:`use_engagement`), else ``BACKOFFICE_ENGAGEMENT``, else
``default``, the provider's own store, which also lists the engagements.

Writes go through :meth:`Store.write`, a transaction that on SQLite starts with
``BEGIN IMMEDIATE`` (so two processes never deadlock upgrading a read lock) and on
PostgreSQL is a normal transaction in which claims use ``FOR UPDATE SKIP LOCKED``.
"""

from __future__ import annotations

import contextlib
import fcntl
import re
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.sql import ClauseElement, Executable

from backoffice.errors import ConfigError, InputError, NotFound
from backoffice.settings import DEFAULT_ENGAGEMENT, Settings, engagement_schema, get_settings

__all__ = [
    "DEFAULT_ENGAGEMENT",
    "Store",
    "check_engagement_name",
    "current_engagement",
    "executemany",
    "use_engagement",
    "utcnow",
]

_ENGAGEMENT_NAME = re.compile(r"[a-z][a-z0-9_-]{1,39}")
_current: ContextVar[str | None] = ContextVar("backoffice_engagement", default=None)


def check_engagement_name(name: str) -> str:
    """``name`` if it can name an engagement (2-40 of a-z, 0-9, - and _, a letter first)."""
    if not _ENGAGEMENT_NAME.fullmatch(name or ""):
        raise InputError(
            f"engagement name {name!r}: 2-40 characters of a-z, 0-9, '-' and '_', starting with a letter",
            field="engagement",
        )
    return name


def current_engagement(settings: Settings | None = None) -> str:
    """The engagement in force: set by :func:`use_engagement`, else BACKOFFICE_ENGAGEMENT."""
    return _current.get() or (settings or get_settings()).engagement


@contextlib.contextmanager
def use_engagement(name: str | None) -> Iterator[str]:
    """Work in engagement ``name`` (None: the one in force) until the block ends."""
    name = check_engagement_name(name) if name else current_engagement()
    token = _current.set(name)
    try:
        yield name
    finally:
        _current.reset(token)


_MIGRATIONS = Path(__file__).with_name("migrations")
_open_stores: dict[str, Store] = {}
_open_lock = threading.Lock()


def utcnow() -> datetime:
    return datetime.now(UTC)


# values whose bind processing may be done once per object in an executemany: immutable, so one
# object is one stored value (the rows of a batch share their times, flags and None)
_IMMUTABLE = frozenset((datetime, date, Decimal, bool, int, float, str, type(None)))


def executemany(conn: Connection, stmt: Executable, rows: Sequence[Mapping[str, Any]]) -> None:
    """``conn.execute(stmt, rows)``, the same statement and the same stored values, with less
    Python per row on SQLite: SQLAlchemy builds a parameter dict per row and runs every value
    through its column's bind processor; here the statement is compiled once as SQLAlchemy
    compiles it for these rows, each row becomes a tuple in the statement's parameter order, and
    a value object that repeats (a batch's shared time, a flag, None) is processed once. The
    processors are the compiled statement's own, so a value is stored exactly as through
    ``conn.execute``. Anything this does not cover (another backend, rows with other keys,
    Python-side column defaults or onupdates to fill in, expanding or literal parameters,
    RETURNING) goes through ``conn.execute``."""
    if not rows:
        return
    keys = sorted(rows[0])
    if conn.dialect.name != "sqlite" or len(rows) == 1 or any(len(r) != len(keys) for r in rows):
        conn.execute(stmt, list(rows))
        return
    compiled: Any = cast(ClauseElement, stmt).compile(
        dialect=conn.dialect, column_keys=keys, for_executemany=True
    )
    if (
        not compiled.positional
        or compiled.insert_prefetch
        or compiled.update_prefetch
        or compiled.returning
        or compiled.literal_execute_params
        or compiled.post_compile_params
        or compiled.escaped_bind_names
        or any(b.expanding for b in compiled.bind_names)
        or any(not all(k in r for k in keys) for r in rows)
    ):
        conn.execute(stmt, list(rows))
        return
    by_name = {name: bind for bind, name in compiled.bind_names.items()}
    processors: Mapping[str, Callable[[Any], Any]] = compiled._bind_processors
    given = set(keys)
    columns: list[tuple[str, Callable[[Any], Any] | None]] = []  # per position: the row's key
    constants: dict[int, Any] = {}  # per position: a value fixed in the statement, processed
    for i, name in enumerate(compiled.positiontup):
        bind = by_name[name]
        proc = processors.get(name)
        key = bind.key if bind.key in given else name if name in given else None
        if key is not None:
            columns.append((key, proc))
            continue
        if bind.required:
            conn.execute(stmt, list(rows))  # SQLAlchemy's own error for the missing value
            return
        value = bind.effective_value if bind.callable else bind.value
        constants[i] = proc(value) if proc is not None else value
        columns.append(("", None))
    memo: dict[tuple[int, int], Any] = {}  # (position, id(value)) -> processed; values kept alive by rows
    params: list[tuple[Any, ...]] = []
    for row in rows:
        out = []
        for i, (key, proc) in enumerate(columns):
            if not key:
                out.append(constants[i])
                continue
            value = row[key]
            if proc is None:
                out.append(value)
            elif value.__class__ in _IMMUTABLE:
                seen = memo.get((i, id(value)), memo)
                if seen is memo:
                    seen = memo[(i, id(value))] = proc(value)
                out.append(seen)
            else:
                out.append(proc(value))
        params.append(tuple(out))
    conn.exec_driver_sql(compiled.string, params)


def _alembic_config(connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


class Store:
    """A handle on the database and the home directory (evidence files, reports)."""

    def __init__(
        self, url: str, home: Path, settings: Settings, engagement: str = DEFAULT_ENGAGEMENT
    ) -> None:
        self.url = url
        self.home = home
        self.settings = settings
        #: the engagement (client) whose store this is; everything in it belongs to that engagement
        self.engagement = engagement
        self.is_sqlite = url.startswith("sqlite")
        self.engine: Engine = self._make_engine(url)
        # SQLite has one writer at a time. Threads of this process that want to write wait for
        # each other here (woken at once when the writer commits) rather than in SQLite's busy
        # handler, which polls with growing sleeps (up to 100 ms): only the thread holding this
        # lock competes, in BEGIN IMMEDIATE, with writers in other processes.
        self._writer = threading.RLock() if self.is_sqlite else None

    # -- construction -------------------------------------------------------------------------
    @classmethod
    def open(
        cls,
        url: str | None = None,
        *,
        settings: Settings | None = None,
        migrate: bool = True,
        engagement: str | None = None,
    ) -> Store:
        """Open (and migrate) a store. Cached per URL in a process.

        With ``url``: that database, as the store of ``engagement`` (default: ``default``).
        Without: the store of ``engagement`` (default: the one in force), which must have been
        added (`backoffice engagements add`) unless it is ``default``."""
        settings = settings or get_settings()
        if url is not None:
            return cls._open(url, settings, engagement or DEFAULT_ENGAGEMENT, migrate)
        name = check_engagement_name(engagement or current_engagement(settings))
        if name == DEFAULT_ENGAGEMENT:
            return cls._open(settings.db_url, settings, name, migrate)
        own = settings.for_engagement(name)
        if own.db_url not in _open_stores:
            provider = cls._open(settings.db_url, settings, DEFAULT_ENGAGEMENT, migrate)
            provider.require_engagement(name)
        return cls._open(own.db_url, own, name, migrate)

    @classmethod
    def _open(cls, url: str, settings: Settings, engagement: str, migrate: bool) -> Store:
        with _open_lock:
            store = _open_stores.get(url)
            if store is None:
                home = settings.home
                if url.startswith("sqlite"):
                    db_path = url.split("///", 1)[-1]
                    if db_path and db_path != ":memory:":
                        Path(db_path).parent.mkdir(parents=True, exist_ok=True)
                home.mkdir(parents=True, exist_ok=True)
                store = cls(url, home, settings, engagement)
                if migrate:
                    store.migrate()
                _open_stores[url] = store
        return store

    def scope(self, engagement: str | None) -> str:
        """This store's engagement, checked against one a caller names (None: any)."""
        if engagement is not None and engagement != self.engagement:
            raise InputError(
                f"this is the store of engagement {self.engagement!r}, not {engagement!r} "
                f"(open it with --engagement {engagement})",
                field="engagement",
            )
        return self.engagement

    def require_engagement(self, name: str) -> None:
        """Raise NotFound unless this (the provider's) store lists engagement ``name``."""
        from backoffice.schema import engagements

        with self.read() as conn:
            found = conn.execute(select(engagements.c.name).where(engagements.c.name == name)).first()
        if found is None:
            raise NotFound(
                f"no engagement {name!r} (`backoffice engagements list` shows them; "
                f"`backoffice engagements add {name} --by ADMIN` adds it)"
            )

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
                        if self.engagement != DEFAULT_ENGAGEMENT:  # its schema, first on its search path
                            conn.exec_driver_sql(
                                f'CREATE SCHEMA IF NOT EXISTS "{engagement_schema(self.engagement)}"'
                            )
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
