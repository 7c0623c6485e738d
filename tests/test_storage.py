"""The store on both backends: SQLite (embedded default) and PostgreSQL (production)."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from wirewatch.storage import StorageError, Store
from wirewatch.tables import seen_keys

pytestmark = pytest.mark.integration


def test_alerts_are_queued_once_per_key_and_kept_until_sent(db_url: str) -> None:
    store = Store(db_url)
    assert store.queue_alert("k1", "a@example.org", "x1", "topic", "S", "raw message")
    assert not store.queue_alert("k1", "a@example.org", "x1", "topic", "S", "raw message")
    [pending] = store.pending_alerts()
    store.mark_failed(pending.idem_key, "server down", give_up=False)
    assert store.pending_alerts()[0].attempts == 1
    store.mark_sent("k1")
    assert store.pending_alerts() == []
    assert store.alert_counts() == {"sent": 1}
    store.close()


def test_entries_keys_hashes_archive_and_unfinished(db_url: str) -> None:
    store = Store(db_url)
    store.accept_entries([(["url:https://n.test/a", "guid:f|1"], "id-a", "h-a", 0, '{"e": 1}'),
                          (["url:https://n.test/b"], "id-b", "", 0, '{"e": 2}')])
    store.accept_entries([(["url:https://n.test/a"], "id-a", "h-a2", 1, '{"e": 3}')])  # an update
    assert store.known_keys(["url:https://n.test/a", "url:https://n.test/zzz"]) == {"url:https://n.test/a": "id-a"}
    assert store.known_entries(["id-a"])["id-a"].revision == 1
    assert store.known_hashes(["h-a2", "h-a", ""]) == {"h-a2": "id-a"}
    store.remember_keys(["url:https://copy.test/a"], "id-a")
    assert store.known_keys(["url:https://copy.test/a"]) == {"url:https://copy.test/a": "id-a"}
    assert sorted(store.unfinished_entries()) == ['{"e": 2}', '{"e": 3}']
    assert store.archive_article("id-a", "https://n.test/a", "A", "Wire", None, "text", "{}") == "new"
    assert store.archive_article("id-a", "https://n.test/a", "A", "Wire", None, "text", "{}") == "unlinked"
    store.mark_linked("id-a")
    assert store.archive_article("id-a", "https://n.test/a", "A", "Wire", None, "text", "{}") == "done"
    assert store.unfinished_entries() == ['{"e": 2}']
    assert store.entry_counts() == {"accepted": 1, "archived": 1}
    assert store.archived_by_url("https://n.test/a")["title"] == "A"  # type: ignore[index]
    store.close()


def test_an_entry_archived_before_the_poller_recorded_it_is_archived(db_url: str) -> None:
    """The database was down between the broker's acknowledgement and the poller's record of the entry,
    while the other stages carried the article to the archive: recording it must not make it "accepted"."""
    store = Store(db_url)
    assert store.archive_article("id-a", "https://n.test/a", "A", "Wire", None, "text", "{}") == "new"
    store.accept_entries([(["url:https://n.test/a"], "id-a", "h-a", 0, '{"e": 1}'),
                          (["url:https://n.test/b"], "id-b", "h-b", 0, '{"e": 2}')])
    assert store.entry_counts() == {"archived": 1, "accepted": 1}
    assert store.unfinished_entries() == ['{"e": 2}']
    store.close()


def test_entries_that_never_reach_the_archive_are_due_again_then_abandoned(db_url: str) -> None:
    store = Store(db_url)
    store.accept_entries([(["url:https://n.test/a"], "id-a", "", 0, '{"e": 1}'),
                          (["url:https://n.test/b"], "id-b", "", 0, '{"e": 2}')], redrive_after=60)
    now = datetime.now(UTC)
    assert store.entries_to_redrive(now) == []
    store.archive_article("id-b", "https://n.test/b", "B", "Wire", None, "text", "{}")
    assert store.entries_to_redrive(now + timedelta(seconds=61)) == [("id-a", '{"e": 1}', 0)]
    store.mark_redriven(["id-a"], now + timedelta(seconds=300))
    assert store.entries_to_redrive(now + timedelta(seconds=299)) == []
    assert store.entries_to_redrive(now + timedelta(seconds=301)) == [("id-a", '{"e": 1}', 1)]
    store.abandon_entries(["id-a"])
    assert store.entries_to_redrive(now + timedelta(days=9)) == []
    assert store.entry_counts() == {"abandoned": 1, "archived": 1}
    store.close()


def test_an_alert_is_claimed_by_one_worker_and_a_dead_workers_claim_is_released(db_url: str) -> None:
    store = Store(db_url)
    store.queue_alert("k1", "a@example.org", "x1", "topic", "S", "raw")
    store.queue_alert("k2", "a@example.org", "x2", "topic", "S", "raw")
    assert store.claim_alerts(["k1", "k2"], "w1") == ["k1", "k2"]
    assert store.claim_alerts(["k1", "k2"], "w2") == []  # taken
    assert store.pending_alerts() == []
    store.mark_sent("k1")
    assert store.release_stale_claims(datetime.now(UTC) - timedelta(minutes=5)) == []  # still fresh
    assert store.release_stale_claims(datetime.now(UTC) + timedelta(seconds=1)) == ["k2"]
    [again] = store.pending_alerts()
    assert again.idem_key == "k2" and again.interrupted == 1  # its send was cut short: in doubt
    assert store.alert_counts() == {"pending": 1, "sent": 1}
    store.close()


def test_feeds_due_saved_and_moved(db_url: str) -> None:
    store = Store(db_url)
    assert store.add_feed("https://n.test/feed", "News")
    assert not store.add_feed("https://n.test/feed")
    assert store.add_feed("https://n.test/other")
    now = datetime.now(UTC)
    due = store.due_feeds(now)
    assert [f.url for f in due] == ["https://n.test/feed", "https://n.test/other"]
    moved = replace(due[0], url="https://n.test/feed2", etag='"v2"', next_poll=now + timedelta(hours=1))
    clash = replace(due[1], url="https://n.test/feed2", health="ok", next_poll=now + timedelta(hours=2))
    store.save_feeds([moved, clash])  # the second cannot take a URL that is taken: it keeps its own
    assert [f.url for f in store.list_feeds()] == ["https://n.test/feed2", "https://n.test/other"]
    assert store.feed("https://n.test/other").health == "ok"  # type: ignore[union-attr]
    assert store.due_feeds(now) == []
    assert store.next_due() == moved.next_poll
    assert store.remove_feed("https://n.test/other") and not store.remove_feed("https://n.test/other")
    store.close()


def test_an_unreachable_database_is_one_clear_error() -> None:
    with pytest.raises(StorageError, match=r"postgresql\+psycopg://nobody:\*\*\*@127.0.0.1:1/x is unreachable"):
        Store("postgresql+psycopg://nobody:secret@127.0.0.1:1/x")


def test_what_a_server_or_a_second_poller_sends_never_breaks_a_write(db_url: str) -> None:
    """Validators longer than their columns are dropped (PostgreSQL refuses them); an entry accepted by two
    pollers at once is stored once, without an error for the second."""
    store = Store(db_url)
    store.add_feed("https://n.test/feed")
    [feed] = store.list_feeds()
    store.save_feeds([replace(feed, etag='"' + "e" * 5000 + '"', last_modified="x" * 500)])
    [saved] = store.list_feeds()
    assert saved.etag == "" and saved.last_modified == ""
    item = (["url:https://n.test/a"], "id-a", "h", 0, '{"e": 1}')
    with store.engine.begin() as conn:  # the second poller's insert, after the first one's
        conn.execute(store._insert_new(seen_keys).values(dedup_key="url:https://n.test/a", article_id="id-a"))
    store.accept_entries([item])
    store.accept_entries([item])
    assert store.known_keys(["url:https://n.test/a"]) == {"url:https://n.test/a": "id-a"}
    store.close()
