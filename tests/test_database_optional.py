"""Stages that keep nothing in the database start without one: extract and classify run while it is
unreachable (their heartbeats wait for it), and the stages that need it (poll, alert) still fail at
start with one clear error."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import pytest

from wirewatch.app.pipeline import Pipeline
from wirewatch.config import load_settings
from wirewatch.database import StorageError

pytestmark = pytest.mark.integration

NOWHERE = "postgresql+psycopg://nobody:secret@127.0.0.1:1/none"  # nothing listens on port 1


def test_extract_and_classify_start_and_beat_without_a_database(broker: str, tmp_path: Path,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    settings = load_settings(None, env={}, overrides={
        "data_dir": str(tmp_path / "d"), "kafka.bootstrap_servers": broker, "kafka.topic_prefix": "nodb-",
        "database.url": NOWHERE})
    with Pipeline(settings, allow_embedded=False) as pipeline:
        runners = [pipeline.runner("extract"), pipeline.runner("classify")]
        stop = threading.Event()
        threads = [threading.Thread(target=r.run, args=(stop,)) for r in runners]
        for t in threads:
            t.start()
        try:
            with caplog.at_level(logging.WARNING, logger="wirewatch.app.pipeline"):
                pipeline.heartbeat(("extract", "classify"), "running", lambda _stage: True)
            assert all(t.is_alive() for t in threads)  # running, the database still out of reach
        finally:
            stop.set()
            for t in threads:
                t.join(timeout=30)
        assert any("heartbeat not recorded" in r.getMessage() and "127.0.0.1:1" in r.getMessage()
                   and "secret" not in r.getMessage() for r in caplog.records)
        with pytest.raises(StorageError, match=r"nobody:\*\*\*@127.0.0.1:1/none is unreachable"):
            pipeline.runner("alert")  # the alert stage keeps its archive and outbox there: it cannot start


def test_a_poll_worker_without_its_database_fails_before_any_thread_starts(broker: str, tmp_path: Path) -> None:
    settings = load_settings(None, env={}, overrides={
        "data_dir": str(tmp_path / "d"), "kafka.bootstrap_servers": broker, "kafka.topic_prefix": "nodb-",
        "database.url": NOWHERE})
    with Pipeline(settings, allow_embedded=False) as pipeline, pytest.raises(StorageError, match="unreachable"):
        pipeline.run(("poll",), threading.Event(), poll_once=True)
