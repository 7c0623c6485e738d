"""The alert stage's archive: every tagged article, once, and whether its stories and alerts are done.

In: tagged articles as the alert stage receives them. Out: rows of ``archive`` — archived once by
article id (its entry marked archived in the same transaction, through the kernel's
:class:`~wirewatch.entry_progress.EntryProgress`), ``linked`` once its stories are linked and alerts
queued — and the reads of the archive: by URL, since a time, the newest, those a dead worker left unlinked.
A consumed batch is archived in one transaction (:meth:`ArchiveStore.archive_many`, its rows carrying their
story ids) and marked linked in another (:meth:`ArchiveStore.mark_linked_many`, with its alerts).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Literal, NamedTuple, TypedDict, cast

from sqlalchemy import Connection, func, select, update

from wirewatch.database import Database, OnDatabase, utcnow
from wirewatch.entry_progress import CHUNK, EntryProgress, EntryState
from wirewatch.tables import archive, entries

ArchiveOutcome = Literal["new", "unlinked", "done"]


class ArchiveState(NamedTuple):
    """How far an archived article got: its stories linked and alerts queued (``linked``), its story."""

    linked: bool
    story_id: int | None


class ArchivedArticle(TypedDict):
    """A row of the archive."""

    article_id: str
    url: str
    title: str
    source: str
    published: str | None
    text: str
    tagged_json: str
    archived_at: datetime
    story_id: int | None
    linked: bool


class ArticleInStory(TypedDict):
    """An archived article with its story, as the story index is restored from."""

    article_id: str
    title: str
    text: str
    published: str | None
    story_id: int | None
    archived_at: datetime


class ArchiveStore(OnDatabase):
    """Tagged articles, each archived once."""

    def __init__(self, db: Database) -> None:
        super().__init__(db)
        self.entry_progress = EntryProgress(db)

    def archive_article(self, article_id: str, url: str, title: str, source: str, published: str | None,
                        text: str, tagged_json: str) -> ArchiveOutcome:
        """Store a tagged article once, and mark its entry archived, in one transaction.

        Returns ``"new"``; ``"unlinked"`` when it was archived before but its stories and alerts were
        not done (the worker died in between: do them now); ``"done"`` for a plain redelivery.
        """
        row = dict(article_id=article_id, url=url, title=title, source=source, published=published, text=text,
                   tagged_json=tagged_json)
        with self.engine.begin() as conn:
            if self.archive_many(conn, [row]):
                return "new"
            state = self.archive_states(conn, [article_id]).get(article_id)
        return "done" if state is not None and state.linked else "unlinked"

    def archive_states(self, conn: Connection, article_ids: Sequence[str]) -> dict[str, ArchiveState]:
        """The articles of these ids that are archived already, and how far they got."""
        ids = list(article_ids)
        return {r[0]: ArchiveState(bool(r[1]), r[2]) for i in range(0, len(ids), CHUNK) for r in conn.execute(
            select(archive.c.article_id, archive.c.linked, archive.c.story_id)
            .where(archive.c.article_id.in_(ids[i:i + CHUNK])))}

    def archive_many(self, conn: Connection, rows: Sequence[Mapping[str, object]]) -> set[str]:
        """Archive tagged articles (``archive`` rows without ``archived_at`` and ``linked``) and mark their
        entries archived, within the caller's transaction; returns the ids it archived. A row whose article
        is archived already (another worker's, meanwhile) stays as it is. Rows are written in the order of
        their ids, so that two workers writing some of the same rows wait for each other, never deadlock."""
        if not rows:
            return set()
        now = utcnow()
        done = conn.execute(self.db.insert_new(archive).returning(archive.c.article_id),
                            [{**row, "archived_at": now, "linked": False}
                             for row in sorted(rows, key=lambda r: str(r["article_id"]))])
        archived = {r[0] for r in done}
        ids = sorted(archived)
        for i in range(0, len(ids), CHUNK):  # their entries are archived: one statement for a chunk, not one each
            conn.execute(update(entries).where(entries.c.article_id.in_(ids[i:i + CHUNK]))
                         .values(state=EntryState.ARCHIVED.value))
        return archived

    def mark_linked_many(self, conn: Connection, article_ids: Sequence[str]) -> None:
        """Within the caller's transaction: these articles' stories are linked and their alerts queued."""
        ids = sorted(article_ids)
        for i in range(0, len(ids), CHUNK):
            conn.execute(update(archive).where(archive.c.article_id.in_(ids[i:i + CHUNK])).values(linked=True))

    def mark_linked(self, article_id: str) -> None:
        """The article's stories are linked and its alerts queued: a redelivery has nothing left to do."""
        with self.engine.begin() as conn:
            self.mark_linked_many(conn, [article_id])

    def unlinked_articles(self, archived_before: datetime, limit: int = 10_000) -> list[str]:
        """The tagged JSON of articles archived before ``archived_before`` whose stories and alerts were
        never done (their worker died in between), oldest first."""
        query = (select(archive.c.tagged_json).where(~archive.c.linked & (archive.c.archived_at < archived_before))
                 .order_by(archive.c.archived_at).limit(limit))
        with self.engine.connect() as conn:
            return [r[0] for r in conn.execute(query)]

    def archived_by_url(self, url: str) -> ArchivedArticle | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(archive).where(archive.c.url == url)).mappings().first()
        return cast(ArchivedArticle, dict(row)) if row else None

    def archive_since(self, since: datetime, limit: int = 200_000, until: datetime | None = None
                      ) -> list[ArticleInStory]:
        """Archived articles with their story, oldest first (a batch by article id), from ``since`` (and
        before ``until``)."""
        where = archive.c.archived_at >= since
        if until is not None:
            where &= archive.c.archived_at < until
        with self.engine.connect() as conn:
            rows = conn.execute(select(archive.c.article_id, archive.c.title, archive.c.text, archive.c.published,
                                       archive.c.story_id, archive.c.archived_at)
                                .where(where).order_by(archive.c.archived_at, archive.c.article_id).limit(limit))
            return [cast(ArticleInStory, dict(r)) for r in rows.mappings()]

    def recent_archive(self, limit: int = 1000) -> list[ArchivedArticle]:
        """The most recently archived articles, newest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(archive).order_by(archive.c.archived_at.desc()).limit(limit))
            return [cast(ArchivedArticle, dict(r)) for r in rows.mappings()]

    def archive_count(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(archive)).scalar() or 0)
