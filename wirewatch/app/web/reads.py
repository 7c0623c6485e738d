"""The rows the pages show, read from the kernel's tables in one or two queries per page.

In: an SQLAlchemy engine (the database the workers write). Out: plain dicts and small dataclasses
for the view models: active stories with their languages and outlets, a story's articles, a user's
alerts and subscriptions, analysts' verdicts, the recent archive for the rule preview, rule versions.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import JSON, Engine, String, cast, func, select, type_coerce

from wirewatch.canonical_url import canonical_url
from wirewatch.tables import alerts, archive, feedback, rule_versions, stories, story_members, subscriptions, watches


@dataclass(frozen=True)
class StoryRow:
    id: int
    title: str
    articles: int
    first: str
    last: str
    languages: tuple[str, ...]
    outlets: tuple[str, ...]


def _json_path(engine: Engine, column: Any, *path: str) -> Any:
    """A string inside a JSON text column, in SQLite (json_extract) and PostgreSQL (#>>) alike."""
    doc = type_coerce(column, JSON) if engine.dialect.name == "sqlite" else cast(column, JSON)
    return doc[path].as_string()


def _json_text(engine: Engine, column: Any, key: str) -> Any:
    """A part of a JSON text column as JSON text, in SQLite and PostgreSQL alike."""
    if engine.dialect.name == "sqlite":
        return func.json_extract(column, f"$.{key}")
    return cast(cast(column, JSON)[key], String)


def _aware(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def _with_topics(row: dict[str, Any]) -> dict[str, Any]:
    """The row with ``topics`` (the fired ones) in place of the JSON of its topics."""
    row["topics"] = {t["topic"] for t in json.loads(row.pop("topics_json") or "[]") if t.get("fired")}
    row["language"] = row["language"] or ""
    return row


class Reads:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        # story id -> ((articles, last publication), languages, outlets): read again when the story grows
        self._facets: dict[int, tuple[tuple[int, str], set[str], set[str]]] = {}
        self._groups: tuple[tuple[Any, ...], float, list[Any]] | None = None

    # -- stories ---------------------------------------------------------------------------------
    def _story_groups(self, conn: Any) -> list[Any]:
        """(story id, articles, first, last publication) of every story, newest development first: read
        from the story/publication index, again only when an article was archived or after 30 seconds."""
        stamp = tuple(conn.execute(select(func.count(), func.max(archive.c.story_id))).first() or ())
        if self._groups is not None and self._groups[0] == stamp and time.monotonic() - self._groups[1] < 30:
            return self._groups[2]
        last = func.max(archive.c.published)
        grouped = (select(archive.c.story_id, func.count(), func.min(archive.c.published), last)
                   .where(archive.c.story_id.is_not(None)).group_by(archive.c.story_id)
                   .order_by(last.desc(), archive.c.story_id.desc()))
        rows = list(conn.execute(grouped))
        self._groups = (stamp, time.monotonic(), rows)
        return rows

    def active_stories(self, window_days: float, limit: int = 50, offset: int = 0) -> tuple[list[StoryRow], int]:
        """Stories whose last development is within ``window_days`` of the archive's newest article,
        newest development first; and how many there are."""
        with self.engine.connect() as conn:
            every = self._story_groups(conn)
            newest = next((r[3] for r in every if r[3]), None)
            try:
                cutoff = (datetime.fromisoformat(newest.replace("Z", "+00:00")) - timedelta(days=window_days)
                          ).isoformat()[:19] if newest else ""
            except ValueError:
                cutoff = ""
            active = [r for r in every if (r[3] or "") >= cutoff]
            total, rows = len(active), active[offset:offset + limit]
            ids = [int(r[0]) for r in rows]
            titles = {r[0]: r[1] for r in conn.execute(select(stories.c.id, stories.c.title)
                                                       .where(stories.c.id.in_(ids)))} if ids else {}
            stale = [int(r[0]) for r in rows if self._facets.get(int(r[0]), ((0, ""),))[0] != (int(r[1]), r[3] or "")]
            language = _json_path(self.engine, archive.c.tagged_json, "article", "language")
            fresh: dict[int, tuple[set[str], set[str]]] = {i: (set(), set()) for i in stale}
            query = select(archive.c.story_id, archive.c.source, language).where(archive.c.story_id.in_(stale))
            for story_id, source, lang in conn.execute(query) if stale else []:
                if lang:
                    fresh[story_id][0].add(lang)
                if source:
                    fresh[story_id][1].add(source)
        for r in rows:
            if int(r[0]) in fresh:
                self._facets[int(r[0])] = ((int(r[1]), r[3] or ""), *fresh[int(r[0])])
        langs = {i: self._facets[i][1] for i in ids}
        outlets = {i: self._facets[i][2] for i in ids}
        return [StoryRow(int(r[0]), titles.get(int(r[0])) or "(untitled story)", int(r[1]), r[2] or "", r[3] or "",
                         tuple(sorted(langs[int(r[0])])), tuple(sorted(outlets[int(r[0])]))) for r in rows], total

    def _columns(self) -> tuple[Any, ...]:
        """An article's columns for the pages: not its text, and of its tagged JSON only topics and language."""
        return (archive.c.article_id, archive.c.url, archive.c.title, archive.c.source, archive.c.published,
                _json_path(self.engine, archive.c.tagged_json, "article", "language").label("language"),
                _json_text(self.engine, archive.c.tagged_json, "topics").label("topics_json"))

    def texts(self, article_ids: list[str]) -> dict[str, str]:
        with self.engine.connect() as conn:
            return {r[0]: r[1] for r in conn.execute(select(archive.c.article_id, archive.c.text)
                                                     .where(archive.c.article_id.in_(article_ids)))}

    def story(self, story_id: int) -> tuple[str, list[dict[str, Any]]]:
        """A story's title and its articles, oldest first (with ``topics``: the fired ones, and ``language``)."""
        cols = self._columns()
        with self.engine.connect() as conn:
            title = conn.execute(select(stories.c.title).where(stories.c.id == story_id)).scalar()
            rows = [dict(r) for r in conn.execute(select(*cols).where(archive.c.story_id == story_id)
                                                  .order_by(archive.c.published, archive.c.archived_at)).mappings()]
        if title is None and not rows:
            raise KeyError(story_id)
        return title or (rows[0]["title"] if rows else ""), [_with_topics(row) for row in rows]

    def articles(self, article_ids: list[str]) -> list[dict[str, Any]]:
        """Archived articles by id, as :meth:`story` gives them."""
        cols = self._columns()
        with self.engine.connect() as conn:
            rows = [dict(r) for r in conn.execute(select(*cols).where(archive.c.article_id.in_(article_ids)))
                    .mappings()]
        return [_with_topics(row) for row in rows]

    def story_of_article(self, article_id: str) -> int | None:
        with self.engine.connect() as conn:
            return conn.execute(select(archive.c.story_id).where(archive.c.article_id == article_id)).scalar()

    def watches_of_story(self, article_ids: list[str], urls: list[str], email: str) -> list[dict[str, Any]]:
        """The watches seeded by (URL) or linked to these articles, and whether ``email`` follows each."""
        if not article_ids:
            return []
        with self.engine.connect() as conn:
            ids = {r[0] for r in conn.execute(select(story_members.c.watch_id)
                                              .where(story_members.c.article_id.in_(article_ids)).distinct())}
            wanted = {canonical_url(u) for u in urls}  # a seed written with www. or utm_ is still this article
            ids |= {r[0] for r in conn.execute(select(watches.c.id, watches.c.seed_url).where(watches.c.seed_url != ""))
                    if canonical_url(r[1]) in wanted}
            mine = {r[0] for r in conn.execute(select(subscriptions.c.target).where(
                (subscriptions.c.email == email) & (subscriptions.c.kind == "watch")))}
            rows = [dict(r) for r in conn.execute(select(watches.c.id, watches.c.name)
                                                  .where(watches.c.id.in_(ids))).mappings()] if ids else []
        return [{**r, "mine": r["id"] in mine} for r in rows]

    def members(self, watch_id: str) -> dict[str, str]:
        with self.engine.connect() as conn:
            return {r[0]: r[1] for r in conn.execute(select(story_members.c.article_id, story_members.c.relation)
                                                     .where(story_members.c.watch_id == watch_id))}

    def member_stories(self, watch_id: str) -> list[int]:
        query = (select(archive.c.story_id).join(story_members, story_members.c.article_id == archive.c.article_id)
                 .where(story_members.c.watch_id == watch_id).distinct())
        with self.engine.connect() as conn:
            return [int(r[0]) for r in conn.execute(query) if r[0] is not None]

    def watch_articles(self, watch_id: str) -> list[str]:
        with self.engine.connect() as conn:
            return [r[0] for r in conn.execute(select(story_members.c.article_id)
                                               .where(story_members.c.watch_id == watch_id))]

    # -- alerts and feedback ---------------------------------------------------------------------
    def alerts_of(self, email: str, limit: int = 100) -> list[dict[str, Any]]:
        query = (select(alerts.c.ref, alerts.c.subject, alerts.c.kind, alerts.c.status, alerts.c.story,
                        alerts.c.facts_json, alerts.c.article_id, alerts.c.created_at, alerts.c.sent_at,
                        feedback.c.verdict, archive.c.url, archive.c.title, archive.c.source, archive.c.story_id)
                 .join(feedback, feedback.c.ref == alerts.c.ref, isouter=True)
                 .join(archive, archive.c.article_id == alerts.c.article_id, isouter=True)
                 .where((alerts.c.subscriber == email) & (alerts.c.status != "feedback"))
                 .order_by(alerts.c.created_at.desc()).limit(limit))
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]

    def alert(self, ref: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(alerts.c.ref, alerts.c.subscriber, alerts.c.subject, alerts.c.article_id,
                                      alerts.c.facts_json).where(alerts.c.ref == ref)).mappings().first()
        return dict(row) if row else None

    def refs_for(self, email: str, article_ids: list[str]) -> dict[str, tuple[str, str]]:
        """article id -> (alert ref, verdict) of ``email``'s alerts (and feedback-only rows) on these articles."""
        if not article_ids:
            return {}
        query = (select(alerts.c.article_id, alerts.c.ref, feedback.c.verdict)
                 .join(feedback, feedback.c.ref == alerts.c.ref, isouter=True)
                 .where((alerts.c.subscriber == email) & alerts.c.article_id.in_(article_ids)))
        out: dict[str, tuple[str, str]] = {}
        with self.engine.connect() as conn:
            for article_id, ref, verdict in conn.execute(query):
                if article_id not in out or verdict:
                    out[article_id] = (ref, verdict or "")
        return out

    def verdicts(self, article_ids: list[str] | None = None) -> dict[str, str]:
        """article id -> the latest analyst verdict on it (``relevant`` / ``not_relevant``)."""
        query = (select(alerts.c.article_id, feedback.c.verdict).join(alerts, alerts.c.ref == feedback.c.ref)
                 .order_by(feedback.c.recorded_at))
        if article_ids is not None:
            query = query.where(alerts.c.article_id.in_(article_ids))
        with self.engine.connect() as conn:
            return {a: v for a, v in conn.execute(query)}

    def article(self, article_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(archive.c.article_id, archive.c.title, archive.c.url, archive.c.tagged_json)
                               .where(archive.c.article_id == article_id)).mappings().first()
        return dict(row) if row else None

    def recent_articles(self, limit: int) -> list[dict[str, Any]]:
        cols = (archive.c.article_id, archive.c.title, archive.c.text, archive.c.source, archive.c.published,
                archive.c.url)
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(select(*cols).order_by(archive.c.archived_at.desc())
                                                  .limit(limit)).mappings()]

    # -- subscriptions ---------------------------------------------------------------------------
    def subscriber_origin(self, email: str) -> str | None:
        """Where the subscriber was defined: config, cli, web; None when not a subscriber."""
        from wirewatch.tables import subscribers

        with self.engine.connect() as conn:
            return conn.execute(select(subscribers.c.origin).where(subscribers.c.email == email)).scalar()

    def subscriptions_of(self, email: str) -> tuple[str | None, list[dict[str, Any]]]:
        from wirewatch.tables import subscribers

        with self.engine.connect() as conn:
            mode = conn.execute(select(subscribers.c.mode).where(subscribers.c.email == email)).scalar()
            rows = conn.execute(select(subscriptions.c.kind, subscriptions.c.target, subscriptions.c.min_score,
                                       watches.c.name)
                                .join(watches, (watches.c.id == subscriptions.c.target)
                                      & (subscriptions.c.kind == "watch"), isouter=True)
                                .where(subscriptions.c.email == email)
                                .order_by(subscriptions.c.kind, subscriptions.c.target))
            return mode, [dict(r) for r in rows.mappings()]

    # -- rule versions ---------------------------------------------------------------------------
    def rule_versions(self, topic: str, limit: int = 50) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(rule_versions.c.id, rule_versions.c.saved_by, rule_versions.c.saved_at,
                                       rule_versions.c.note, func.length(rule_versions.c.text).label("chars"))
                                .where(rule_versions.c.topic == topic)
                                .order_by(rule_versions.c.id.desc()).limit(limit))
            return [{**dict(r._mapping), "saved_at": _aware(r.saved_at)} for r in rows]

    def rule_version(self, version_id: int) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(rule_versions).where(rule_versions.c.id == version_id)).mappings().first()
        return dict(row) if row else None



