"""Everything the poller keeps in the database, behind one object: its feeds and its seen entries.

In: the shared :class:`~wirewatch.database.Database`. Out: :class:`IngestStore` — the feeds
(:class:`~wirewatch.ingest.feed_store.FeedStore`), the dedup keys, entries and redrive queue
(:class:`~wirewatch.ingest.seen_entries.SeenEntries`), and the other stages' heartbeats as far as the
redrive reads them (their lag), and the entries' progress (what never reached the archive).
"""

from __future__ import annotations

from collections.abc import Sequence

from wirewatch.ingest.feed_store import FeedRow, FeedStore
from wirewatch.ingest.seen_entries import SeenEntries

from wirewatch.database import Database
from wirewatch.entry_progress import AcceptedEntry, EntryProgress
from wirewatch.heartbeats import Heartbeats


class IngestStore(FeedStore, SeenEntries):
    """The poller's feeds and seen entries, on one database."""

    def __init__(self, db: Database) -> None:
        super().__init__(db)
        self.heartbeats = Heartbeats(db)
        self.entries = EntryProgress(db)  # what never reached the archive, for publishing it again

    def record_poll(self, items: Sequence[tuple[Sequence[str], AcceptedEntry]], feed_rows: Sequence[FeedRow] = (),
                    redrive_after: float = 1800.0, before: Sequence[FeedRow] = ()) -> None:
        """The accepted entries (one transaction), then the feeds' poll results (another; only what the
        poll changed where ``before`` gives the rows as they were read: :meth:`FeedStore.save_feeds`)."""
        self.accept_entries(items, redrive_after)
        self.save_feeds(feed_rows, before)
