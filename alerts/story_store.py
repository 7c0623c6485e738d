"""The alert stage's stories: story ids, each archived article's story, and watched stories' members.

In: the linker's decisions. Out: story ids no two alert workers share (``stories``), the story of
each archived article (``archive.story_id``), and the articles linked to each watched story with
how (``story_members``: relation and similarity), with their archived text for the emails. Story ids
can be reserved ahead, many in one transaction (:meth:`StoryStore.reserve_stories`), and named when a
story is given one (:meth:`StoryStore.name_stories`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TypedDict, cast

from sqlalchemy import Connection, bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from wirewatch.database import OnDatabase, utcnow
from wirewatch.tables import archive, stories, story_members


class StoryArticle(TypedDict):
    """An archived article of a story."""

    article_id: str
    title: str
    source: str
    text: str
    published: str | None


class StoryMember(TypedDict):
    """An article linked to a watched story, with its archived text and how it was linked."""

    article_id: str
    title: str
    source: str
    url: str
    text: str
    published: str | None
    relation: str  # "seed", "same_report" or "follow_up"


class StoryStore(OnDatabase):
    """Stories and the members of watched stories."""

    def new_story(self, title: str) -> int:
        """A story id no other alert worker will hand out."""
        with self.engine.begin() as conn:
            done = conn.execute(insert(stories).values(title=title[:500], created_at=utcnow()))
            key = done.inserted_primary_key
            assert key is not None  # an insert of one row
            return int(key[0])

    def reserve_stories(self, conn: Connection, count: int) -> list[int]:
        """``count`` story ids no other alert worker will hand out, within the caller's transaction; each is
        named by :meth:`name_stories` when a story takes it (one never taken stays an unnamed row)."""
        if count <= 0:
            return []
        now = utcnow()
        done = conn.execute(insert(stories).returning(stories.c.id), [{"title": "", "created_at": now}] * count)
        return sorted(int(r[0]) for r in done)

    def name_stories(self, conn: Connection, titles: Mapping[int, tuple[str, datetime]]) -> None:
        """Reserved story ids taken by new stories: their title and when they began, within the caller's
        transaction."""
        if titles:
            conn.execute(update(stories).where(stories.c.id == bindparam("id_")).values(
                title=bindparam("title"), created_at=bindparam("created_at")),
                [{"id_": i, "title": t[:500], "created_at": when} for i, (t, when) in titles.items()])

    def set_stories(self, conn: Connection, story_of: Mapping[str, int]) -> None:
        """Archived articles' stories, within the caller's transaction."""
        if story_of:
            conn.execute(update(archive).where(archive.c.article_id == bindparam("id_")).values(
                story_id=bindparam("story_id")), [{"id_": a, "story_id": s} for a, s in sorted(story_of.items())])

    def story_of(self, article_id: str) -> int | None:
        with self.engine.connect() as conn:
            value = conn.execute(select(archive.c.story_id).where(archive.c.article_id == article_id)).scalar()
        return int(value) if value is not None else None

    def set_story(self, article_id: str, story_id: int) -> None:
        with self.engine.begin() as conn:
            self.set_stories(conn, {article_id: story_id})

    def story_articles(self, story_id: int) -> list[StoryArticle]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(archive.c.article_id, archive.c.title, archive.c.source, archive.c.text,
                                       archive.c.published).where(archive.c.story_id == story_id)
                                .order_by(archive.c.archived_at))
            return [cast(StoryArticle, dict(r)) for r in rows.mappings()]

    def member_counts(self) -> dict[str, int]:
        """How many articles are linked to each watched story."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(story_members.c.watch_id, func.count()).group_by(story_members.c.watch_id))
            return {w: int(n) for w, n in rows}

    def link_member(self, watch_id: str, article_id: str, relation: str, similarity: float) -> bool:
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(story_members).values(watch_id=watch_id, article_id=article_id,
                                                          relation=relation, similarity=similarity,
                                                          linked_at=utcnow()))
            return True
        except IntegrityError:
            return False

    def member(self, watch_id: str, article_id: str) -> tuple[str, float] | None:
        """How an article was linked to a watched story (relation, similarity), if it was."""
        with self.engine.connect() as conn:
            row = conn.execute(select(story_members.c.relation, story_members.c.similarity).where(
                (story_members.c.watch_id == watch_id) & (story_members.c.article_id == article_id))).first()
        return (row[0], row[1]) if row else None

    def story_texts(self, watch_id: str) -> list[StoryMember]:
        """Members of a watched story with their archived title, source and text, oldest first."""
        query = (select(archive.c.article_id, archive.c.title, archive.c.source, archive.c.url, archive.c.text,
                        archive.c.published, story_members.c.relation)
                 .join(story_members, story_members.c.article_id == archive.c.article_id)
                 .where(story_members.c.watch_id == watch_id).order_by(story_members.c.linked_at))
        with self.engine.connect() as conn:
            return [cast(StoryMember, dict(r)) for r in conn.execute(query).mappings()]
