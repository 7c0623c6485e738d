"""Storage: the pipeline's durable state, in SQLite (embedded default) or PostgreSQL (by URL).

In: calls from the stages. Out: rows. Tables: ``feed_state`` (per-feed HTTP validators and last
result), ``seen_entries`` (dedup keys of every accepted entry, with the entry itself so that it can
be re-published if the broker lost it), ``archive`` (every tagged article, once), ``story_members``
(articles linked to a watched story) and ``alerts`` (the email outbox, one row per idempotency key).

Every write that must not happen twice is an insert guarded by a primary key, so redelivery of a
Kafka message is harmless. Schema creation is idempotent (``create_all``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    DateTime,
    Engine,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError, OperationalError

metadata = MetaData()

feed_state = Table(
    "feed_state", metadata,
    Column("feed_url", String(2048), primary_key=True),
    Column("etag", String(512), nullable=False, default=""),
    Column("last_modified", String(128), nullable=False, default=""),
    Column("last_polled", DateTime(timezone=True)),
    Column("last_status", Integer),
    Column("last_error", Text, nullable=False, default=""),
    Column("entries_total", Integer, nullable=False, default=0),
)

seen_entries = Table(
    "seen_entries", metadata,
    Column("dedup_key", String(2100), primary_key=True),
    Column("article_id", String(64), nullable=False, index=True),
    Column("first_seen", DateTime(timezone=True), nullable=False),
    Column("entry_json", Text, nullable=False),
)

archive = Table(
    "archive", metadata,
    Column("article_id", String(64), primary_key=True),
    Column("url", String(2048), nullable=False),
    Column("title", Text, nullable=False),
    Column("source", String(512), nullable=False, default=""),
    Column("published", String(64)),
    Column("text", Text, nullable=False),
    Column("tagged_json", Text, nullable=False),
    Column("archived_at", DateTime(timezone=True), nullable=False),
)

story_members = Table(
    "story_members", metadata,
    Column("watch_id", String(128), primary_key=True),
    Column("article_id", String(64), primary_key=True),
    Column("relation", String(32), nullable=False),
    Column("similarity", Float, nullable=False),
    Column("linked_at", DateTime(timezone=True), nullable=False),
)

alerts = Table(
    "alerts", metadata,
    Column("idem_key", String(512), primary_key=True),
    Column("subscriber", String(320), nullable=False, index=True),
    Column("article_id", String(64), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("subject", Text, nullable=False),
    Column("message", Text, nullable=False),
    Column("status", String(16), nullable=False, index=True),
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", Text, nullable=False, default=""),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("sent_at", DateTime(timezone=True)),
)


class StorageError(RuntimeError):
    """The database cannot be reached or used; the message names the URL (without password)."""


def _now() -> datetime:
    return datetime.now(UTC)


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "(unparsable database URL)"


@dataclass(frozen=True)
class FeedState:
    feed_url: str
    etag: str = ""
    last_modified: str = ""
    last_polled: datetime | None = None
    last_status: int | None = None
    last_error: str = ""
    entries_total: int = 0


@dataclass(frozen=True)
class QueuedAlert:
    idem_key: str
    subscriber: str
    article_id: str
    kind: str
    subject: str
    message: str
    attempts: int


class Store:
    """All durable state, behind one SQLAlchemy engine."""

    def __init__(self, url: str) -> None:
        self.url = url
        if url.startswith("sqlite:///"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        try:
            self.engine: Engine = create_engine(url, pool_pre_ping=True, future=True)
        except Exception as exc:
            raise StorageError(f"database URL {_safe_url(url)} cannot be used: {exc}") from None
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        try:
            metadata.create_all(self.engine)
        except OperationalError as exc:
            raise StorageError(f"database {_safe_url(url)} is unreachable: {exc.orig}") from None

    def close(self) -> None:
        self.engine.dispose()

    # -- ingest ------------------------------------------------------------------------------
    def get_feed_state(self, feed_url: str) -> FeedState:
        with self.engine.connect() as conn:
            row = conn.execute(select(feed_state).where(feed_state.c.feed_url == feed_url)).mappings().first()
        return FeedState(**row) if row else FeedState(feed_url=feed_url)

    def save_feed_state(self, state: FeedState) -> None:
        values = {k: getattr(state, k) for k in feed_state.c.keys()}  # noqa: SIM118 (a column collection)
        with self.engine.begin() as conn:
            done = conn.execute(update(feed_state).where(feed_state.c.feed_url == state.feed_url).values(**values))
            if done.rowcount == 0:
                conn.execute(insert(feed_state).values(**values))

    def all_feed_states(self) -> list[FeedState]:
        with self.engine.connect() as conn:
            return [FeedState(**r) for r in conn.execute(select(feed_state)).mappings()]

    def seen(self, keys: Iterable[str]) -> set[str]:
        keys = list(keys)
        if not keys:
            return set()
        with self.engine.connect() as conn:
            rows = conn.execute(select(seen_entries.c.dedup_key).where(seen_entries.c.dedup_key.in_(keys)))
            return {r[0] for r in rows}

    def mark_seen(self, items: Sequence[tuple[Sequence[str], str, str]]) -> None:
        """Record accepted entries: (dedup keys, article id, entry JSON) each; existing keys are kept."""
        now = _now()
        with self.engine.begin() as conn:
            for keys, article_id, entry_json in items:
                for key in keys:
                    known = select(seen_entries.c.dedup_key).where(seen_entries.c.dedup_key == key)
                    if not conn.execute(known).first():
                        conn.execute(insert(seen_entries).values(dedup_key=key, article_id=article_id,
                                                                 first_seen=now, entry_json=entry_json))

    def unfinished_entries(self) -> list[str]:
        """Entries accepted but never archived: to re-publish after a memory-only broker lost them."""
        query = (select(seen_entries.c.article_id, func.min(seen_entries.c.entry_json))
                 .where(~seen_entries.c.article_id.in_(select(archive.c.article_id)))
                 .group_by(seen_entries.c.article_id))
        with self.engine.connect() as conn:
            return [r[1] for r in conn.execute(query)]

    # -- alerts ------------------------------------------------------------------------------
    def archive_article(self, article_id: str, url: str, title: str, source: str, published: str | None,
                        text: str, tagged_json: str) -> bool:
        """Store a tagged article once; False when it was already archived (a redelivery)."""
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(archive).values(
                    article_id=article_id, url=url, title=title, source=source, published=published, text=text,
                    tagged_json=tagged_json, archived_at=_now()))
            return True
        except IntegrityError:
            return False

    def archived_count(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(archive)).scalar_one())

    def archived_by_url(self, url: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(archive).where(archive.c.url == url)).mappings().first()
        return dict(row) if row else None

    def recent_archive(self, limit: int = 1000) -> list[dict[str, Any]]:
        """The most recently archived articles, newest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(archive).order_by(archive.c.archived_at.desc()).limit(limit))
            return [dict(r) for r in rows.mappings()]

    def link_member(self, watch_id: str, article_id: str, relation: str, similarity: float) -> bool:
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(story_members).values(watch_id=watch_id, article_id=article_id,
                                                          relation=relation, similarity=similarity,
                                                          linked_at=_now()))
            return True
        except IntegrityError:
            return False

    def member(self, watch_id: str, article_id: str) -> tuple[str, float] | None:
        """How an article was linked to a watched story (relation, similarity), if it was."""
        with self.engine.connect() as conn:
            row = conn.execute(select(story_members.c.relation, story_members.c.similarity).where(
                (story_members.c.watch_id == watch_id) & (story_members.c.article_id == article_id))).first()
        return (row[0], row[1]) if row else None

    def story_texts(self, watch_id: str) -> list[dict[str, Any]]:
        """Members of a watched story with their archived title, source and text, oldest first."""
        query = (select(archive.c.article_id, archive.c.title, archive.c.source, archive.c.url, archive.c.text,
                        story_members.c.relation)
                 .join(story_members, story_members.c.article_id == archive.c.article_id)
                 .where(story_members.c.watch_id == watch_id).order_by(story_members.c.linked_at))
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]

    def queue_alert(self, idem_key: str, subscriber: str, article_id: str, kind: str, subject: str,
                    message: str) -> bool:
        """Put an email in the outbox once per idempotency key; False when it is already there."""
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(alerts).values(
                    idem_key=idem_key, subscriber=subscriber, article_id=article_id, kind=kind, subject=subject,
                    message=message, status="pending", attempts=0, last_error="", created_at=_now()))
            return True
        except IntegrityError:
            return False

    def pending_alerts(self, limit: int = 100) -> list[QueuedAlert]:
        query = (select(alerts).where(alerts.c.status == "pending").order_by(alerts.c.created_at).limit(limit))
        with self.engine.connect() as conn:
            return [QueuedAlert(**{k: r[k] for k in QueuedAlert.__dataclass_fields__})
                    for r in conn.execute(query).mappings()]

    def mark_sent(self, idem_key: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(alerts).where(alerts.c.idem_key == idem_key)
                         .values(status="sent", sent_at=_now(), attempts=alerts.c.attempts + 1))

    def mark_failed(self, idem_key: str, error: str, give_up: bool) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(alerts).where(alerts.c.idem_key == idem_key)
                         .values(status="failed" if give_up else "pending", last_error=error[:2000],
                                 attempts=alerts.c.attempts + 1))

    def alert_counts(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(alerts.c.status, func.count()).group_by(alerts.c.status))
            return {status: int(n) for status, n in rows}

    def sent_alerts(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(alerts).where(alerts.c.status == "sent").order_by(alerts.c.sent_at))
            return [dict(r) for r in rows.mappings()]


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()
