"""The store on both backends: SQLite (embedded default) and PostgreSQL (production)."""

import pytest

from wirewatch.storage import FeedState, StorageError, Store

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


def test_seen_entries_archive_and_unfinished(db_url: str) -> None:
    store = Store(db_url)
    store.mark_seen([(["url:https://n.test/a", "guid:f|1"], "id-a", '{"e": 1}'),
                     (["url:https://n.test/b"], "id-b", '{"e": 2}')])
    store.mark_seen([(["url:https://n.test/a"], "id-a", '{"e": 1}')])  # a redelivery changes nothing
    assert store.seen(["url:https://n.test/a", "url:https://n.test/zzz"]) == {"url:https://n.test/a"}
    assert sorted(store.unfinished_entries()) == ['{"e": 1}', '{"e": 2}']
    assert store.archive_article("id-a", "https://n.test/a", "A", "Wire", None, "text", "{}")
    assert not store.archive_article("id-a", "https://n.test/a", "A", "Wire", None, "text", "{}")
    assert store.unfinished_entries() == ['{"e": 2}']
    assert store.archived_by_url("https://n.test/a")["title"] == "A"  # type: ignore[index]
    store.close()


def test_feed_state_round_trip(db_url: str) -> None:
    store = Store(db_url)
    store.save_feed_state(FeedState("https://n.test/feed", etag='"v1"', last_status=200, entries_total=3))
    store.save_feed_state(FeedState("https://n.test/feed", etag='"v2"', last_status=304, entries_total=3))
    state = store.get_feed_state("https://n.test/feed")
    assert (state.etag, state.last_status, state.entries_total) == ('"v2"', 304, 3)
    assert store.get_feed_state("https://other.test/").etag == ""
    store.close()


def test_an_unreachable_database_is_one_clear_error() -> None:
    with pytest.raises(StorageError, match=r"postgresql\+psycopg://nobody:\*\*\*@127.0.0.1:1/x is unreachable"):
        Store("postgresql+psycopg://nobody:secret@127.0.0.1:1/x")
