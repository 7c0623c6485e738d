"""Entries the broker lost are published again by the poller — not while the stages are still working
off a backlog, and not forever — over the real bundled broker and a SQLite store."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from wirewatch.ingest.redrive import redrive_due

from wirewatch.app.state import AppState
from wirewatch.config import KafkaSettings
from wirewatch.entry_progress import AcceptedEntry
from wirewatch.heartbeats import Heartbeat, WorkerId
from wirewatch.kafka import ENTRIES, KafkaWiring, Progress
from wirewatch.schema import Entry, decode

pytestmark = pytest.mark.integration


def test_redrive_waits_for_the_backlog_then_publishes_then_gives_up(broker: str, tmp_path: Path) -> None:
    settings = KafkaSettings(topic_prefix=f"r{uuid.uuid4().hex[:6]}-", redrive_after_seconds=60, max_redrives=1)
    wiring = KafkaWiring(settings, broker)
    wiring.ensure_topics()
    store = AppState.open(f"sqlite:///{tmp_path / 's.db'}")
    entries = [Entry(article_id=f"id{n}", url=f"https://n.test/{n}", canonical_url="", feed_url="f", title=f"t{n}")
               for n in range(3)]
    store.ingest.accept_entries([([f"url:{e.url}"], AcceptedEntry(e.article_id, "", 0, e.to_bytes().decode()))
                                 for e in entries], redrive_after=60)
    store.alerts.archive_article("id2", "https://n.test/2", "t2", "", None, "x", "{}")  # this one arrived
    progress = Progress()
    producer = wiring.producer()
    later = datetime.now(UTC) + timedelta(seconds=61)
    try:
        def heartbeat(lag: int) -> None:
            store.heartbeats.record([Heartbeat(WorkerId("h", 1, "extract"), datetime.now(UTC), "running",
                                               lag_records=lag)])

        heartbeat(lag=40)  # the extract stage is 40 records behind: they may be among them
        assert redrive_due(store.ingest, wiring, producer, settings, progress, now=later) == 0
        assert store.entries.counts() == {"accepted": 2, "archived": 1}
        heartbeat(lag=0)
        assert redrive_due(store.ingest, wiring, producer, settings, progress, now=later) == 2
        again = sorted(decode(r.value, Entry).article_id for r in wiring.read_topic(ENTRIES, 2, quiet=30))
        assert again == ["id0", "id1"]
        assert redrive_due(store.ingest, wiring, producer, settings, progress, now=later) == 0  # next try: 120 s on
        assert redrive_due(store.ingest, wiring, producer, settings, progress, now=later + timedelta(seconds=121)) == 0
        assert store.entries.counts() == {"abandoned": 2, "archived": 1}  # published max_redrives times: given up
        assert progress.snapshot()["events"] == {"entries_redriven": 2, "entries_abandoned": 2}
    finally:
        producer.close()
        store.close()


def test_an_entry_late_by_a_whole_period_more_is_published_whatever_the_lag_says(broker: str, tmp_path: Path) -> None:
    settings = KafkaSettings(topic_prefix=f"r{uuid.uuid4().hex[:6]}-", redrive_after_seconds=60, max_redrives=3)
    wiring = KafkaWiring(settings, broker)
    wiring.ensure_topics()
    store = AppState.open(f"sqlite:///{tmp_path / 's.db'}")
    e = Entry(article_id="id0", url="https://n.test/0", canonical_url="", feed_url="f", title="t0")
    store.ingest.accept_entries([(["url:https://n.test/0"], AcceptedEntry("id0", "", 0, e.to_bytes().decode()))],
                                redrive_after=60)
    store.heartbeats.record([Heartbeat(WorkerId("h", 1, "classify"), datetime.now(UTC), "running", lag_records=7)])
    producer = wiring.producer()
    try:
        soon = datetime.now(UTC) + timedelta(seconds=61)
        assert redrive_due(store.ingest, wiring, producer, settings, Progress(), now=soon) == 0  # postponed
        much_later = datetime.now(UTC) + timedelta(seconds=121)
        assert redrive_due(store.ingest, wiring, producer, settings, Progress(), now=much_later) == 1  # a stuck lag
    finally:
        producer.close()
        store.close()
