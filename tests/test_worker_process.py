"""A stage as ops run it: its own process, over the real bundled broker and database.

SIGHUP reads the configuration file again (feeds added and removed, without a restart); the worker's
heartbeat shows in ``wirewatch status``; SIGTERM drains and exits promptly with code 0; an
unreachable database or a wrong password is one clear line, not a traceback loop.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from wirewatch.app.state import AppState
from wirewatch.app.status import heard_since
from wirewatch.database import Database

pytestmark = pytest.mark.integration


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KAFKA_", "WIREWATCH_"))}
    env.update(extra)
    return env


def _until(check, timeout: float = 60.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.3)
    return False


def test_sighup_reloads_feeds_and_sigterm_drains(broker: str, tmp_path: Path) -> None:
    cfg = tmp_path / "w.toml"
    cfg.write_text('[[feeds]]\nurl = "http://127.0.0.1:9/one.xml"\n')
    db = f"sqlite:///{tmp_path / 'data' / 'wirewatch.db'}"
    env = _env(KAFKA_BOOTSTRAP_SERVERS=broker, WIREWATCH_CONFIG=str(cfg), WIREWATCH_DATA_DIR=str(tmp_path / "data"))
    proc = subprocess.Popen([sys.executable, "-m", "wirewatch.app.cli", "poll"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert _until(lambda: (tmp_path / "data" / "wirewatch.db").exists() and
                      any(w.worker.stage == "poll" for w in heard_since(Database(db), _epoch())))
        store = AppState.open(db)
        assert [f.url for f in store.ingest.list_feeds()] == ["http://127.0.0.1:9/one.xml"]
        status = subprocess.run([sys.executable, "-m", "wirewatch.app.cli", "status", "--json"], env=env,
                                capture_output=True, text=True, timeout=60)
        report = json.loads(status.stdout)
        assert [w["stage"] for w in report["workers"] if w["alive"]] == ["poll"]
        assert report["stages_without_worker"] == ["extract", "classify", "alert"]

        cfg.write_text('[[feeds]]\nurl = "http://127.0.0.1:9/two.xml"\n')
        proc.send_signal(signal.SIGHUP)
        assert _until(lambda: [f.url for f in store.ingest.list_feeds()] == ["http://127.0.0.1:9/two.xml"], 30)

        cfg.write_text('[[feeds]]\nurl = "http://127.0.0.1:9/two.xml"\nbad_key = 1\n')
        proc.send_signal(signal.SIGHUP)  # a broken file is reported and the running configuration kept
        time.sleep(1.5)
        assert [f.url for f in store.ingest.list_feeds()] == ["http://127.0.0.1:9/two.xml"] and proc.poll() is None

        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=45) == 0
        assert time.monotonic() - started < 45
        [row] = heard_since(store.db, _epoch())
        assert row.state == "stopped"
    finally:
        if proc.poll() is None:
            proc.kill()
        _out, err = proc.communicate(timeout=10)
    assert "unknown key 'feeds.0.bad_key'" in err  # the reload's complaint, naming the key
    assert "Traceback" not in err


def test_an_unreachable_database_is_one_line(broker: str, tmp_path: Path) -> None:
    env = _env(KAFKA_BOOTSTRAP_SERVERS=broker, WIREWATCH_DATA_DIR=str(tmp_path),
               WIREWATCH_DATABASE_URL="postgresql+psycopg://wirewatch:wrong@127.0.0.1:1/nothing")
    done = subprocess.run([sys.executable, "-m", "wirewatch.app.cli", "alert"], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.startswith("wirewatch: database postgresql+psycopg://wirewatch:***@127.0.0.1:1/nothing "
                                  "is unreachable")
    assert len(done.stderr.strip().splitlines()) == 1 and "wrong" not in done.stderr


def test_a_wrong_database_password_is_one_line(broker: str, pg_server: str, tmp_path: Path) -> None:
    env = _env(KAFKA_BOOTSTRAP_SERVERS=broker, WIREWATCH_DATA_DIR=str(tmp_path),
               WIREWATCH_DATABASE_URL="postgresql+psycopg://no_such_role:secret@127.0.0.1:5432/test")
    done = subprocess.run([sys.executable, "-m", "wirewatch.app.cli", "alert"], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.startswith("wirewatch: database postgresql+psycopg://no_such_role:***@127.0.0.1:5432/test")
    assert len(done.stderr.strip().splitlines()) == 1 and "secret" not in done.stderr


def _epoch():  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    return datetime(2000, 1, 1, tzinfo=UTC)
