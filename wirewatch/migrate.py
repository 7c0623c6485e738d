"""Schema migrations: bring a database to the schema this version of wirewatch needs (Alembic).

In: an SQLAlchemy engine. Out: the database at the newest revision of ``wirewatch/migrations``, or a
:class:`SchemaError` saying which revision it is at and what to run.

Workers migrate at start-up unless ``[database] auto_migrate = false``, in which case ops run
``wirewatch db upgrade`` once per release, before the new workers start (docs/operations.md). Two
workers starting at once do not race: PostgreSQL serialises them with an advisory lock held for the
migration's transaction, SQLite with a lock file beside the database. A database made before
migrations existed (its tables are there, its revision is not) is recorded as the baseline first.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, Engine, inspect, text

MIGRATIONS = Path(__file__).parent / "migrations"
BASELINE = "0001"
PG_LOCK_ID = 0x77697265  # "wire"


class SchemaError(RuntimeError):
    """The database's schema is not the one this code needs, and was not to be migrated automatically."""


def _config(conn: Connection) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = conn
    return cfg


def head() -> str:
    """The newest revision this code knows."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return str(ScriptDirectory.from_config(cfg).get_current_head())


def current(conn: Connection) -> str | None:
    """The database's revision; the baseline for a pre-migration database; None for an empty one."""
    revision = MigrationContext.configure(conn).get_current_revision()
    if revision is None and inspect(conn).has_table("feeds"):
        return BASELINE
    return revision


@contextmanager
def _exclusive(engine: Engine) -> Iterator[Connection]:
    """A transaction during which no other wirewatch process migrates the same database."""
    lock_file = None
    database = engine.url.database or ""
    if engine.dialect.name == "sqlite" and database and database != ":memory:":
        lock_file = open(Path(database).with_name(Path(database).name + ".migrate.lock"), "w")  # noqa: SIM115
        fcntl.flock(lock_file, fcntl.LOCK_EX)
    try:
        with engine.begin() as conn:
            if engine.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": PG_LOCK_ID})
            yield conn
    finally:
        if lock_file is not None:
            fcntl.flock(lock_file, fcntl.LOCK_UN)
            lock_file.close()


def upgrade(engine: Engine, target: str = "head") -> tuple[str | None, str]:
    """Migrate to ``target``; returns (revision before, revision after)."""
    with _exclusive(engine) as conn:
        before = current(conn)
        cfg = _config(conn)
        try:
            if before == BASELINE and MigrationContext.configure(conn).get_current_revision() is None:
                command.stamp(cfg, BASELINE)
            command.upgrade(cfg, target)
        except CommandError as exc:  # e.g. a database migrated by a newer wirewatch
            raise SchemaError(f"the database schema is at revision {before}, which this version of wirewatch "
                              f"(newest {head()}) cannot migrate: {exc}") from None
        return before, str(MigrationContext.configure(conn).get_current_revision())


def downgrade(engine: Engine, target: str) -> tuple[str | None, str | None]:
    with _exclusive(engine) as conn:
        before = current(conn)
        command.downgrade(_config(conn), target)
        return before, MigrationContext.configure(conn).get_current_revision()


def check(engine: Engine) -> None:
    """Raise :class:`SchemaError` unless the database is at this code's newest revision."""
    with engine.connect() as conn:
        revision = current(conn)
    if revision != head():
        raise SchemaError(f"the database schema is at revision {revision or 'none (empty database)'}, this "
                          f"version of wirewatch needs {head()}: run `wirewatch db upgrade` (or set "
                          "[database] auto_migrate = true)")
