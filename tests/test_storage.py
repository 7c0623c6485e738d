"""The store on both backends: SQLite (embedded default) and PostgreSQL (production)."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from wirewatch.app.state import AppState
from wirewatch.app.status import heard_since
from wirewatch.database import StorageError
from wirewatch.entry_progress import AcceptedEntry
from wirewatch.heartbeats import Heartbeat, Heartbeats, WorkerId
from wirewatch.tables import seen_keys

pytestmark = pytest.mark.integration


def test_alerts_are_queued_once_per_key_and_kept_until_sent(db_url: str) -> None:
    store = AppState.open(db_url)
    assert store.alerts.queue_alert("k1", "a@example.org", "x1", "topic", "S", "raw message")
    assert not store.alerts.queue_alert("k1", "a@example.org", "x1", "topic", "S", "raw message")
    [pending] = store.alerts.pending_alerts()
    store.alerts.mark_failed(pending.idem_key, "server down", give_up=False)
    assert store.alerts.pending_alerts()[0].attempts == 1
    store.alerts.mark_sent("k1")
    assert store.alerts.pending_alerts() == []
    assert store.alerts.alert_counts() == {"sent": 1}
    store.close()


def test_entries_keys_hashes_archive_and_unfinished(db_url: str) -> None:
    store = AppState.open(db_url)
    store.ingest.accept_entries([(["url:https://n.test/a", "guid:f|1"], AcceptedEntry("id-a", "h-a", 0, '{"e": 1}')),
                                 (["url:https://n.test/b"], AcceptedEntry("id-b", "", 0, '{"e": 2}'))])
    store.ingest.accept_entries([(["url:https://n.test/a"], AcceptedEntry("id-a", "h-a2", 1, '{"e": 3}'))])  # update
    known = store.ingest.known_keys(["url:https://n.test/a", "url:https://n.test/zzz"])
    assert known == {"url:https://n.test/a": "id-a"}
    assert store.ingest.known_entries(["id-a"])["id-a"].revision == 1
    assert store.ingest.known_hashes(["h-a2", "h-a", ""]) == {"h-a2": "id-a"}
    store.ingest.remember_keys(["url:https://copy.test/a"], "id-a")
    assert store.ingest.known_keys(["url:https://copy.test/a"]) == {"url:https://copy.test/a": "id-a"}
    assert sorted(store.entries.unfinished()) == ['{"e": 2}', '{"e": 3}']
    assert store.alerts.archive_article("id-a", "https://n.test/a", "A", "Wire", None, "text", "{}") == "new"
    assert store.alerts.archive_article("id-a", "https://n.test/a", "A", "Wire", None, "text", "{}") == "unlinked"
    store.alerts.mark_linked("id-a")
    assert store.alerts.archive_article("id-a", "https://n.test/a", "A", "Wire", None, "text", "{}") == "done"
    assert store.entries.unfinished() == ['{"e": 2}']
    assert store.entries.counts() == {"accepted": 1, "archived": 1}
    assert store.alerts.archived_by_url("https://n.test/a")["title"] == "A"  # type: ignore[index]
    store.close()


def test_an_entry_archived_before_the_poller_recorded_it_is_archived(db_url: str) -> None:
    """The database was down between the broker's acknowledgement and the poller's record of the entry,
    while the other stages carried the article to the archive: recording it must not make it "accepted"."""
    store = AppState.open(db_url)
    assert store.alerts.archive_article("id-a", "https://n.test/a", "A", "Wire", None, "text", "{}") == "new"
    store.ingest.accept_entries([(["url:https://n.test/a"], AcceptedEntry("id-a", "h-a", 0, '{"e": 1}')),
                          (["url:https://n.test/b"], AcceptedEntry("id-b", "h-b", 0, '{"e": 2}'))])
    assert store.entries.counts() == {"archived": 1, "accepted": 1}
    assert store.entries.unfinished() == ['{"e": 2}']
    store.close()


def test_entries_that_never_reach_the_archive_are_due_again_then_abandoned(db_url: str) -> None:
    store = AppState.open(db_url)
    store.ingest.accept_entries([(["url:https://n.test/a"], AcceptedEntry("id-a", "", 0, '{"e": 1}')),
                          (["url:https://n.test/b"], AcceptedEntry("id-b", "", 0, '{"e": 2}'))], redrive_after=60)
    now = datetime.now(UTC)
    assert store.ingest.entries_to_redrive(now) == []
    store.alerts.archive_article("id-b", "https://n.test/b", "B", "Wire", None, "text", "{}")
    assert store.ingest.entries_to_redrive(now + timedelta(seconds=61)) == [("id-a", '{"e": 1}', 0)]
    store.ingest.mark_redriven(["id-a"], now + timedelta(seconds=300))
    assert store.ingest.entries_to_redrive(now + timedelta(seconds=299)) == []
    assert store.ingest.entries_to_redrive(now + timedelta(seconds=301)) == [("id-a", '{"e": 1}', 1)]
    store.ingest.abandon_entries(["id-a"])
    assert store.ingest.entries_to_redrive(now + timedelta(days=9)) == []
    assert store.entries.counts() == {"abandoned": 1, "archived": 1}
    store.close()


def test_an_alert_is_claimed_by_one_worker_and_a_dead_workers_claim_is_released(db_url: str) -> None:
    store = AppState.open(db_url)
    store.alerts.queue_alert("k1", "a@example.org", "x1", "topic", "S", "raw")
    store.alerts.queue_alert("k2", "a@example.org", "x2", "topic", "S", "raw")
    assert store.alerts.claim_alerts(["k1", "k2"], WorkerId("h", 1, "alert")) == ["k1", "k2"]
    assert store.alerts.claim_alerts(["k1", "k2"], WorkerId("h", 2, "alert")) == []  # taken
    assert store.alerts.pending_alerts() == []
    store.alerts.mark_sent("k1")
    assert store.alerts.release_stale_claims(datetime.now(UTC) - timedelta(minutes=5)) == []  # still fresh
    assert store.alerts.release_stale_claims(datetime.now(UTC) + timedelta(seconds=1)) == ["k2"]
    [again] = store.alerts.pending_alerts()
    assert again.idem_key == "k2" and again.interrupted == 1  # its send was cut short: in doubt
    assert store.alerts.alert_counts() == {"pending": 1, "sent": 1}
    store.close()


def test_feeds_due_saved_and_moved(db_url: str) -> None:
    store = AppState.open(db_url)
    assert store.ingest.add_feed("https://n.test/feed", "News")
    assert not store.ingest.add_feed("https://n.test/feed")
    assert store.ingest.add_feed("https://n.test/other")
    now = datetime.now(UTC)
    due = store.ingest.due_feeds(now)
    assert [f.url for f in due] == ["https://n.test/feed", "https://n.test/other"]
    moved = replace(due[0], url="https://n.test/feed2", etag='"v2"', next_poll=now + timedelta(hours=1))
    clash = replace(due[1], url="https://n.test/feed2", health="ok", next_poll=now + timedelta(hours=2))
    store.ingest.save_feeds([moved, clash])  # the second cannot take a URL that is taken: it keeps its own
    assert [f.url for f in store.ingest.list_feeds()] == ["https://n.test/feed2", "https://n.test/other"]
    assert store.ingest.feed("https://n.test/other").health == "ok"  # type: ignore[union-attr]
    assert store.ingest.due_feeds(now) == []
    assert store.ingest.next_due() == moved.next_poll
    assert store.ingest.remove_feed("https://n.test/other") and not store.ingest.remove_feed("https://n.test/other")
    store.close()


def test_an_unreachable_database_is_one_clear_error() -> None:
    with pytest.raises(StorageError, match=r"postgresql\+psycopg://nobody:\*\*\*@127.0.0.1:1/x is unreachable"):
        AppState.open("postgresql+psycopg://nobody:secret@127.0.0.1:1/x")


def test_what_a_server_or_a_second_poller_sends_never_breaks_a_write(db_url: str) -> None:
    """Validators longer than their columns are dropped (PostgreSQL refuses them); an entry accepted by two
    pollers at once is stored once, without an error for the second."""
    store = AppState.open(db_url)
    store.ingest.add_feed("https://n.test/feed")
    [feed] = store.ingest.list_feeds()
    store.ingest.save_feeds([replace(feed, etag='"' + "e" * 5000 + '"', last_modified="x" * 500)])
    [saved] = store.ingest.list_feeds()
    assert saved.etag == "" and saved.last_modified == ""
    item = (["url:https://n.test/a"], AcceptedEntry("id-a", "h", 0, '{"e": 1}'))
    with store.engine.begin() as conn:  # the second poller's insert, after the first one's
        conn.execute(store.db.insert_new(seen_keys).values(dedup_key="url:https://n.test/a", article_id="id-a"))
    store.ingest.accept_entries([item])
    store.ingest.accept_entries([item])
    assert store.ingest.known_keys(["url:https://n.test/a"]) == {"url:https://n.test/a": "id-a"}
    store.close()


def test_a_live_workers_old_claim_is_kept_and_a_silent_ones_released(db_url: str) -> None:
    """A claim is released by its worker's heartbeat row (``claimed_by`` is that row's id), not by its age alone."""
    store = AppState.open(db_url)
    for key in ("k1", "k2"):
        store.alerts.queue_alert(key, "a@example.org", key, "topic", "S", "raw")
    live, silent = WorkerId("h", 1, "alert"), WorkerId("h", 2, "alert")
    started = datetime.now(UTC)
    store.alerts.claim_alerts(["k1"], live)
    store.alerts.claim_alerts(["k2"], silent)
    store.heartbeats.record([Heartbeat(silent, started, "running")], now=started - timedelta(minutes=10))
    store.heartbeats.record([Heartbeat(live, started, "running")], now=started + timedelta(minutes=10))
    assert sorted(store.alerts.claimants()) == [live, silent]
    assert store.alerts.release_stale_claims(started + timedelta(seconds=1)) == ["k2"]
    assert store.alerts.alert_counts() == {"pending": 1, "sending": 1}
    store.close()


def test_workers_not_heard_from_for_a_week_are_forgotten_by_a_live_one(db_url: str) -> None:
    """``forget_workers`` was never called, so the table only grew: a beating worker now prunes it, hourly."""
    store = AppState.open(db_url)
    now = datetime.now(UTC)
    old, recent, live = WorkerId("h", 1, "poll"), WorkerId("h", 2, "poll"), WorkerId("h", 3, "poll")
    Heartbeats(store.db).record([Heartbeat(old, now, "stopped")], now=now - timedelta(days=8))
    Heartbeats(store.db).record([Heartbeat(recent, now, "stopped")], now=now - timedelta(days=6))
    beats = Heartbeats(store.db)
    beats.record([Heartbeat(live, now, "running", lag_records=3)], now=now)
    assert [b.worker for b in heard_since(store.db, now - timedelta(days=30))] == [recent, live]
    Heartbeats(store.db).record([Heartbeat(old, now, "stopped")], now=now - timedelta(days=8))
    beats.record([Heartbeat(live, now, "running")], now=now + timedelta(minutes=5))  # pruned less than an hour ago
    assert len(heard_since(store.db, now - timedelta(days=30))) == 3
    beats.record([Heartbeat(live, now, "running")], now=now + timedelta(hours=1))
    assert [b.worker for b in heard_since(store.db, now - timedelta(days=30))] == [recent, live]
    assert store.heartbeats.lagging(["poll"], now - timedelta(days=30)) == []  # its last beat cleared its lag
    store.close()
