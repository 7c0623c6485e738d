"""The database every worker shares: SQLite (the embedded default) or PostgreSQL (by URL).

In: a database URL. Out: :class:`Database` — one SQLAlchemy engine, its schema brought to this
code's revision on open (:mod:`wirewatch.migrate`) unless read-only, SQLite's pragmas set on every
connection — and :class:`OnDatabase`, the base of each owner's rows: the poller's feeds and dedup
keys (``wirewatch.ingest``), the alert stage's archive, stories, audience and outbox
(``wirewatch.alerts``), and the kernel's own records of what crosses stages
(:mod:`wirewatch.entry_progress`, :mod:`wirewatch.heartbeats`).

Nothing here knows a table's meaning; every write that must not happen twice is an insert guarded
by a primary key (:meth:`Database.insert_new` leaves an existing row as it is).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Self

from sqlalchemy import Engine, Insert, Table, create_engine, event, insert
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.pool import ConnectionPoolEntry

from wirewatch import migrate

log = logging.getLogger(__name__)

#: what the database raises while it is unreachable (down, restarting, network gone): wait and retry
UNAVAILABLE: tuple[type[Exception], ...] = (OperationalError, InterfaceError, DisconnectionError, PoolTimeout)


class StorageError(RuntimeError):
    """The database cannot be reached or used; the message names the URL (without password)."""


def utcnow() -> datetime:
    return datetime.now(UTC)


def aware(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; they were written in UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def safe_url(url: str) -> str:
    """A database URL without its password."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "(unparsable database URL)"


class Database:
    """One engine on the shared database, its schema checked (or migrated) when it is opened."""

    def __init__(self, url: str, auto_migrate: bool = True, read_only: bool = False) -> None:
        """Open the database; a worker creates and migrates it as needed. ``read_only`` (commands that
        only show what is there) neither creates nor migrates: a SQLite file that does not exist — a
        mistyped path, say — is an error naming it."""
        self.url = url
        if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
            path = Path(url.removeprefix("sqlite:///").split("?", 1)[0])
            if read_only and not path.is_file():
                raise StorageError(f"no database at {path} (a mistyped path or data directory?); nothing was "
                                   "created. A worker or `wirewatch db upgrade` creates it")
            if not path.exists():
                log.warning("no database at %s: creating a new, empty one", path)
            path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.engine: Engine = create_engine(url, pool_pre_ping=True, future=True)
        except Exception as exc:
            raise StorageError(f"database URL {safe_url(url)} cannot be used: {exc}") from None
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        try:
            if auto_migrate and not read_only:
                before, after = migrate.upgrade(self.engine)
                if before != after:
                    log.info("database schema migrated from %s to %s", before or "nothing", after)
            else:
                migrate.check(self.engine)
        except OperationalError as exc:
            self.engine.dispose()
            raise StorageError(f"database {safe_url(url)} is unreachable: {' '.join(str(exc.orig).split())}") \
                from None
        except migrate.SchemaError as exc:
            self.engine.dispose()
            raise StorageError(f"database {safe_url(url)}: {exc}") from None

    @property
    def safe_url(self) -> str:
        """The database URL without its password."""
        return safe_url(self.url)

    def insert_new(self, table: Table) -> Insert:
        """An insert that leaves an existing row (same key) as it is: two workers may write one row."""
        if self.engine.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            return pg_insert(table).on_conflict_do_nothing()
        if self.engine.dialect.name == "sqlite":
            from sqlalchemy.dialects.sqlite import insert as sqlite_insert

            return sqlite_insert(table).on_conflict_do_nothing()
        return insert(table)

    def close(self) -> None:
        self.engine.dispose()


class OnDatabase:
    """The base of one owner's rows: they are read and written through this database's engine."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.engine = db.engine

    @classmethod
    def open(cls, url: str, auto_migrate: bool = True, read_only: bool = False) -> Self:
        """These rows on a database of their own (a command, a test): :meth:`close` closes it."""
        return cls(Database(url, auto_migrate=auto_migrate, read_only=read_only))

    def close(self) -> None:
        self.db.close()


def _sqlite_pragmas(dbapi_conn: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()
