"""The feeds' poll results written back with the rows as they were read (``FeedStore.save_feeds(rows,
before)``, what the poller does): only the columns a poll changed are written, so the table ends as the
full write would leave it, except that what the poll did not touch — a name or a URL edited while the
feed was polled — is left as it is; a moved feed still moves, and keeps its URL if the new one is taken."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import update
from wirewatch.ingest.ingest_store import IngestStore

from wirewatch.tables import feeds


def test_only_what_the_poll_changed_is_written(db_url: str) -> None:
    store = IngestStore.open(db_url)
    for n in range(4):
        store.add_feed(f"https://n.test/{n}", name=f"feed {n}")
    now = datetime.now(UTC)
    due = store.due_feeds(now)
    later = now + timedelta(hours=1)
    polled = [
        replace(due[0], last_polled=now, next_poll=later, last_status=304, health="ok"),  # a 304
        replace(due[1], last_polled=now, next_poll=later, etag='"' + "e" * 600 + '"', last_modified="x" * 200,
                last_status=200, entries_total=3, last_new=3, interval_seconds=675.0, health="ok"),
        replace(due[2], url="https://n.test/0", last_polled=now, next_poll=later),  # moved onto a feed's URL
        replace(due[3], url="https://n.test/moved", last_polled=now, next_poll=later, failures=1, health="failing",
                last_error="HTTP 500"),
    ]
    with store.engine.begin() as conn:  # edited by the web app while the feeds were polled
        conn.execute(update(feeds).where(feeds.c.id == due[0].id).values(name="renamed"))
    store.save_feeds(polled, due)
    saved = {f.id: f for f in store.list_feeds()}
    assert saved[due[0].id] == replace(polled[0], name="renamed")  # the edit stands: the poll did not touch it
    assert saved[due[1].id] == replace(polled[1], etag="", last_modified="")  # too long for their columns
    assert saved[due[2].id] == replace(polled[2], url="https://n.test/2")  # the URL is taken: its own kept
    assert saved[due[3].id] == polled[3]
    store.save_feeds(polled[:1], due[:1])  # the same again: written again, to the same
    assert store.list_feeds()[0] == replace(polled[0], name="renamed")
    store.close()


def test_without_the_rows_as_read_every_column_is_written(db_url: str) -> None:
    store = IngestStore.open(db_url)
    store.add_feed("https://n.test/a", name="a")
    [feed] = store.due_feeds(datetime.now(UTC))
    with store.engine.begin() as conn:
        conn.execute(update(feeds).values(name="renamed"))
    store.save_feeds([replace(feed, health="ok")])
    assert store.list_feeds() == [replace(feed, health="ok")]  # the name as read, written back
    store.close()
