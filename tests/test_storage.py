"""The store on both backends: SQLite (embedded default) and PostgreSQL (production)."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from wirewatch.storage import StorageError, Store

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
    assert store.archive_article("id-a", "https://n.test/a", "A", "Wire", None, "text", "{}")
    assert not store.archive_article("id-a", "https://n.test/a", "A", "Wire", None, "text", "{}")
    assert store.unfinished_entries() == ['{"e": 2}']
    assert store.archived_by_url("https://n.test/a")["title"] == "A"  # type: ignore[index]
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
