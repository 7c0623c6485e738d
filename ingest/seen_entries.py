"""The poller's memory of what it accepted: dedup keys, entry versions, and the redrive queue.

In: the entries the poller published (their canonical-URL and GUID keys, content hash, revision and
JSON). Out: which keys, articles and contents are known (so a seen entry is not published twice and
a changed one goes out as a new revision), and the accepted entries whose time to reach the archive
is up (published again by :mod:`wirewatch.ingest.redrive`, then given up).

Each entry's state on its way to the archive is the kernel's :class:`~wirewatch.entry_progress.EntryProgress`;
the dedup keys (``seen_keys``) and the redrive schedule of ``entries`` are this stage's own.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple, TypeVar

from sqlalchemy import Connection, select, update

from wirewatch.database import Database, OnDatabase
from wirewatch.entry_progress import AcceptedEntry, EntryProgress, EntryState
from wirewatch.tables import entries, seen_keys

T = TypeVar("T")
CHUNK = 900  # values in one IN (...): a whole batch of feeds is looked up at once, in a few queries


def chunks(values: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    for i in range(0, len(values), size):
        yield values[i:i + size]


@dataclass(frozen=True)
class KnownEntry:
    article_id: str
    content_hash: str
    revision: int


class DueEntry(NamedTuple):
    """An accepted entry whose time to reach the archive is up."""

    article_id: str
    entry_json: str
    redrives: int  # how many times it was published again so far


class SeenEntries(OnDatabase):
    """Dedup keys and accepted entries, as the poller sees them."""

    def __init__(self, db: Database) -> None:
        super().__init__(db)
        self.progress = EntryProgress(db)

    def known_keys(self, keys: Iterable[str]) -> dict[str, str]:
        """Which of these dedup keys were seen, and for which article id."""
        unique = list(dict.fromkeys(keys))
        if not unique:
            return {}
        with self.engine.connect() as conn:
            return {r[0]: r[1] for part in chunks(unique)
                    for r in conn.execute(select(seen_keys).where(seen_keys.c.dedup_key.in_(part)))}

    def known_entries(self, article_ids: Iterable[str]) -> dict[str, KnownEntry]:
        ids = list(set(article_ids))
        if not ids:
            return {}
        with self.engine.connect() as conn:
            return {r[0]: KnownEntry(r[0], r[1], r[2]) for part in chunks(ids)
                    for r in conn.execute(select(entries.c.article_id, entries.c.content_hash, entries.c.revision)
                                          .where(entries.c.article_id.in_(part)))}

    def known_hashes(self, hashes: Iterable[str]) -> dict[str, str]:
        """Which content hashes belong to an article already accepted (hash -> article id)."""
        hs = [h for h in set(hashes) if h]
        if not hs:
            return {}
        with self.engine.connect() as conn:
            return {r[0]: r[1] for part in chunks(hs)
                    for r in conn.execute(select(entries.c.content_hash, entries.c.article_id)
                                          .where(entries.c.content_hash.in_(part)))}

    def accept_entries(self, items: Sequence[tuple[Sequence[str], AcceptedEntry]], redrive_after: float = 1800.0
                       ) -> None:
        """Record accepted entries with their dedup keys, in one transaction: after publishing, before
        the offsets move on. A new entry not archived within ``redrive_after`` seconds is due to be
        published again. No items (a batch of 304s): no transaction."""
        if not items:
            return
        with self.engine.begin() as conn:
            self.progress.accept(conn, [entry for _keys, entry in items], redrive_after)
            self._insert_keys(conn, [(key, entry.article_id) for keys, entry in items for key in keys])

    def remember_keys(self, keys: Iterable[str], article_id: str) -> None:
        """Map more dedup keys (a republished copy's URL and GUID) to an accepted article."""
        self.remember_many([(key, article_id) for key in keys])

    def remember_many(self, pairs: Sequence[tuple[str, str]]) -> None:
        """Map many (dedup key, article id) pairs at once, in one transaction (a key already mapped stays)."""
        if pairs:
            with self.engine.begin() as conn:
                self._insert_keys(conn, pairs)

    def _insert_keys(self, conn: Connection, pairs: Sequence[tuple[str, str]]) -> None:
        first: dict[str, str] = {}
        for key, owner in pairs:  # a key's first owner stays, as when they were inserted one by one
            first.setdefault(key, owner)
        rows = [{"dedup_key": key, "article_id": owner} for key, owner in first.items()]
        if rows:  # one statement, many rows (executemany)
            conn.execute(self.db.insert_new(seen_keys), rows)

    # -- the redrive queue ---------------------------------------------------------------------
    def entries_to_redrive(self, now: datetime, limit: int = 1000) -> list[DueEntry]:
        """Accepted entries whose time to reach the archive is up, the longest due first."""
        query = (select(entries.c.article_id, entries.c.entry_json, entries.c.redrives)
                 .where((entries.c.state == EntryState.ACCEPTED.value)
                        & (entries.c.redrive_at.is_(None) | (entries.c.redrive_at <= now)))
                 .order_by(entries.c.redrive_at).limit(limit))
        with self.engine.connect() as conn:
            return [DueEntry(r[0], r[1], r[2]) for r in conn.execute(query)]

    def mark_redriven(self, article_ids: Sequence[str], next_at: datetime) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(entries).where(entries.c.article_id.in_(list(article_ids)) & (
                entries.c.state == EntryState.ACCEPTED.value)).values(redrives=entries.c.redrives + 1,
                                                                      redrive_at=next_at))

    def abandon_entries(self, article_ids: Sequence[str]) -> None:
        """Give up on entries that were published again and again and never reached the archive."""
        with self.engine.begin() as conn:
            conn.execute(update(entries).where(entries.c.article_id.in_(list(article_ids)) & (
                entries.c.state == EntryState.ACCEPTED.value)).values(state=EntryState.ABANDONED.value))
