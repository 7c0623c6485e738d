"""An entry's way to the archive: the one piece of an article's state that two stages write.

In: the poller's accepted entries (:class:`AcceptedEntry`, written in the poller's transaction) and
the alert stage's archiving (in the archive's transaction). Out: each entry's :class:`EntryState`
in the ``entries`` table — ``accepted`` when the poller has published it, ``archived`` once the
alert stage holds it, ``abandoned`` when the poller gave up publishing it again — and the reads
others need: counts by state, and what was never archived.

The poller alone writes ``accepted`` and ``abandoned`` (and its dedup memory beside them, in
``wirewatch.ingest``); the alert stage alone writes ``archived``, through :meth:`EntryProgress.archived`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from sqlalchemy import Connection, bindparam, func, select, update

from wirewatch.database import OnDatabase, utcnow
from wirewatch.tables import archive, entries

CHUNK = 900  # article ids in one IN (...)


class EntryState(StrEnum):
    ACCEPTED = "accepted"  # published on ``entries`` by the poller, not yet archived
    ARCHIVED = "archived"  # the alert stage has it
    ABANDONED = "abandoned"  # published again and again, never archived: given up


@dataclass(frozen=True)
class AcceptedEntry:
    """An entry the poller published: its latest version (content hash, revision) and its JSON."""

    article_id: str
    content_hash: str
    revision: int
    entry_json: str


class EntryProgress(OnDatabase):
    """Where each accepted entry is on its way to the archive."""

    def accept(self, conn: Connection, accepted: Sequence[AcceptedEntry], redrive_after: float) -> None:
        """Record entries as accepted (an entry seen before keeps its state and takes the new version),
        within the caller's transaction. A new entry not archived within ``redrive_after`` seconds is
        due to be published again."""
        now = utcnow()
        latest = {entry.article_id: entry for entry in accepted}  # the last version of an id, as one by one
        ids = list(latest)
        known = {r[0] for i in range(0, len(ids), CHUNK) for r in conn.execute(
            select(entries.c.article_id).where(entries.c.article_id.in_(ids[i:i + CHUNK])))}
        # one statement for many rows each (executemany), not two per entry: the poller records in batches
        if stored := [{"id_": e.article_id, "content_hash": e.content_hash, "revision": e.revision,
                       "entry_json": e.entry_json} for e in latest.values() if e.article_id in known]:
            conn.execute(update(entries).where(entries.c.article_id == bindparam("id_")).values(
                content_hash=bindparam("content_hash"), revision=bindparam("revision"),
                entry_json=bindparam("entry_json")), stored)
        if new := [{"article_id": e.article_id, "content_hash": e.content_hash, "revision": e.revision,
                    "first_seen": now, "entry_json": e.entry_json, "state": EntryState.ACCEPTED.value,
                    "redrives": 0, "redrive_at": now + timedelta(seconds=redrive_after)}
                   for e in latest.values() if e.article_id not in known]:
            conn.execute(self.db.insert_new(entries), new)  # a row another worker wrote meanwhile stays
        # the alert stage may have archived an entry before the poller got to record it (the database
        # was down between the broker's acknowledgement and this call): it is archived, not accepted
        for i in range(0, len(ids), CHUNK):
            conn.execute(update(entries).where(
                entries.c.article_id.in_(ids[i:i + CHUNK]) & (entries.c.state == EntryState.ACCEPTED.value)
                & select(archive.c.article_id).where(archive.c.article_id == entries.c.article_id).exists()
            ).values(state=EntryState.ARCHIVED.value))

    def counts(self) -> dict[str, int]:
        """How many entries are in each state."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(entries.c.state, func.count()).group_by(entries.c.state))
            return {str(state): int(n) for state, n in rows}

    def unfinished(self) -> list[str]:
        """The JSON of entries accepted but not yet archived: to re-publish after a memory-only broker lost them."""
        query = select(entries.c.entry_json).where(entries.c.state == EntryState.ACCEPTED.value)
        with self.engine.connect() as conn:
            return [r[0] for r in conn.execute(query)]
