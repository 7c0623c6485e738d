"""A consumed batch of the alert stage in three transactions per chunk of 20, instead of six to eight per article.

In: the tagged articles of a batch (from :meth:`~wirewatch.alerts.alerter.Alerter.handle_batch`) and the
alerter's decisions about them. Out, in the database:

1. :func:`look_up` — which of them are archived already and how far they got, and enough story ids
   reserved for the rest (:class:`StoryIds`; a read alone when the reserve holds enough);
2. :func:`archive` — the new ones archived with the story the index gave them (other alert workers
   read an article's story with it), their entries marked archived, new stories named;
3. :meth:`BatchWrites.write` — their alerts queued (:class:`~wirewatch.alerts.alert_queue.PendingAlert`),
   the stories of articles a dead worker archived without one, and the linked marks, together: an
   article is marked linked in the transaction that queues its alerts.

A crash after (2) leaves archived articles that are not linked: the redelivered batch, or the sweep of
the archive, finishes them as before (``"unlinked"``). The outbox's claim and sent marks are the
mailer's, unchanged. Watched-story links (rare: an article related to a watch) keep their own
insert, whose outcome decides what the linker learns.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Connection
from wirewatch.alerts.alert_queue import PendingAlert
from wirewatch.alerts.alert_store import AlertStore
from wirewatch.alerts.archive_store import ArchiveState

from wirewatch.database import utcnow
from wirewatch.schema import TaggedArticle

AHEAD = 50  # story ids reserved beyond a batch's need, so that most batches reserve none


class StoryIds:
    """Story ids handed to the story index from a reserve the database made ahead, many per transaction.

    :meth:`take` is the index's ``new_id``: it hands out a reserved id and remembers the story's title
    for :func:`archive` to write. An id is unique across alert workers once its reservation committed;
    one never taken (the worker stopped) stays an unnamed row of ``stories``, never an article's story.
    """

    def __init__(self, store: AlertStore) -> None:
        self.store = store
        self.free: list[int] = []
        self.unnamed: dict[int, tuple[str, datetime]] = {}  # taken, title not yet written

    def reserve(self, conn: Connection, needed: int) -> list[int]:
        """Ids to add to the reserve (after the caller's transaction committed) for ``needed`` more stories."""
        if len(self.free) >= needed:
            return []
        return self.store.reserve_stories(conn, needed - len(self.free) + AHEAD)

    def take(self, title: str) -> int:
        if not self.free:  # a batch needed more than its look-up counted (it cannot): one reserved alone
            with self.store.engine.begin() as conn:
                self.free += self.store.reserve_stories(conn, 1)
        story_id = self.free.pop(0)
        self.unnamed[story_id] = (title, utcnow())
        return story_id


def look_up(store: AlertStore, ids: StoryIds, article_ids: Sequence[str]) -> dict[str, ArchiveState]:
    """The articles of the batch archived already, with their state; the reserve topped up for the others
    and for those archived without a story (one transaction, a read when the reserve holds enough)."""
    with store.engine.begin() as conn:
        known = store.archive_states(conn, article_ids)
        storyless = sum(1 for s in known.values() if not s.linked and s.story_id is None)
        reserved = ids.reserve(conn, len(article_ids) - len(known) + storyless)
    ids.free += reserved
    return known


def archive_row(tagged: TaggedArticle, story_id: int) -> dict[str, object]:
    """The archive row of a tagged article, with the story the index gave it."""
    article = tagged.article
    return dict(article_id=tagged.article_id, url=article.entry.url, title=article.title,
                source=article.sitename or article.entry.feed_title, published=article.published,
                text=article.text, tagged_json=tagged.to_bytes().decode("utf-8"), story_id=story_id)


def archive(store: AlertStore, ids: StoryIds, rows: Sequence[Mapping[str, object]],
            then: Callable[[Connection, set[str]], None] | None = None) -> tuple[set[str], dict[str, ArchiveState]]:
    """Archive the rows (with their stories) and name the stories taken since the last time, in one
    transaction, with ``then`` (given the ids archived) in it too; returns the ids archived, and the
    state of those another worker archived meanwhile."""
    named = dict(ids.unnamed)
    with store.engine.begin() as conn:
        archived = store.archive_many(conn, rows)
        if then is not None:
            then(conn, archived)
        store.name_stories(conn, named)
        others = store.archive_states(conn, [str(r["article_id"]) for r in rows if r["article_id"] not in archived])
    for story_id in named:
        ids.unnamed.pop(story_id, None)
    return archived, others


@dataclass
class BatchWrites:
    """What a batch writes once its articles are linked: alerts, stories, linked marks (:meth:`write`)."""

    alerts: dict[str, PendingAlert] = field(default_factory=dict)  # by idempotency key: the first one counts
    stories: dict[str, int] = field(default_factory=dict)  # article -> story, for articles archived without one
    linked: list[str] = field(default_factory=list)

    def queue(self, alert: PendingAlert) -> None:
        self.alerts.setdefault(alert.key, alert)

    def latest(self, subscriber: str, story: str) -> datetime | None:
        """When the latest of this batch's alerts to the subscriber on the story goes out (now, for one
        due at once: as if it had been sent, the next one waits out the storm window as one by one did)."""
        times = [a.row["next_attempt"] or a.row["created_at"] for a in self.alerts.values()
                 if story and a.row["subscriber"] == subscriber and a.row["story"] == story]
        return max(times, default=None)

    def write(self, store: AlertStore) -> list[PendingAlert]:
        """All of it in one transaction; returns the alerts queued (those not in the outbox already)."""
        if not (self.alerts or self.stories or self.linked):
            return []
        with store.engine.begin() as conn:
            store.set_stories(conn, self.stories)
            queued = store.queue_alerts(conn, [a.row for a in self.alerts.values()])
            store.mark_linked_many(conn, self.linked)
        return [a for k, a in self.alerts.items() if k in queued]
