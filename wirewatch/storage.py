"""Storage: the pipeline's durable state, in SQLite (embedded default) or PostgreSQL (by URL).

In: calls from the stages. Out: rows of the tables in :mod:`wirewatch.tables`, whose schema
:mod:`wirewatch.migrate` keeps at this code's revision.

Every write that must not happen twice is an insert guarded by a primary key, so redelivery of a
Kafka message is harmless; an alert is claimed by one worker before it is sent.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, RowMapping, create_engine, delete, event, func, insert, select, update
from sqlalchemy.exc import DisconnectionError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from wirewatch import migrate
from wirewatch.tables import (
    alerts,
    archive,
    entries,
    feedback,
    feeds,
    seen_keys,
    stories,
    story_members,
    subscribers,
    subscriptions,
    watches,
    workers,
)

log = logging.getLogger(__name__)

#: what the database raises while it is unreachable (down, restarting, network gone): wait and retry
UNAVAILABLE: tuple[type[Exception], ...] = (OperationalError, InterfaceError, DisconnectionError, PoolTimeout)


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
class FeedRow:
    """A feed and what the poller knows of it."""

    url: str
    id: int = 0
    name: str = ""
    origin: str = "cli"
    enabled: bool = True
    added_at: datetime | None = None
    etag: str = ""
    last_modified: str = ""
    last_polled: datetime | None = None
    last_status: int | None = None
    last_error: str = ""
    last_warning: str = ""
    failures: int = 0
    entries_total: int = 0
    last_new: int = 0
    interval_seconds: float = 900.0
    next_poll: datetime | None = None
    health: str = "new"


@dataclass(frozen=True)
class KnownEntry:
    article_id: str
    content_hash: str
    revision: int


@dataclass(frozen=True)
class QueuedAlert:
    idem_key: str
    subscriber: str
    article_id: str
    kind: str
    subject: str
    message: str
    attempts: int
    story: str = ""
    facts_json: str = "{}"
    interrupted: int = 0
    published_at: datetime | None = None
    first_seen_at: datetime | None = None
    next_attempt: datetime | None = None  # set when a send failed: the alerts of that send share it


def _queued(row: RowMapping) -> QueuedAlert:
    fields: dict[str, Any] = {k: _aware(row[k]) if k.endswith("_at") else row[k]
                              for k in QueuedAlert.__dataclass_fields__}
    return QueuedAlert(**fields)


class Store:
    """All durable state, behind one SQLAlchemy engine."""

    def __init__(self, url: str, auto_migrate: bool = True, read_only: bool = False) -> None:
        """Open the database; a worker creates and migrates it as needed. ``read_only`` (commands that
        only show what is there) neither creates nor migrates: a SQLite file that does not exist — a
        mistyped path, say — is an error naming it."""
        self.url = url
        if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
            path = Path(url.removeprefix("sqlite:///").split("?", 1)[0])
            if read_only and not path.is_file():
                raise StorageError(f"no database at {path} (a mistyped path or data directory?); nothing was "
                                   "created. A worker or `wirewatch db upgrade` creates it")
            if not path.exists():
                log.warning("no database at %s: creating a new, empty one", path)
            path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.engine: Engine = create_engine(url, pool_pre_ping=True, future=True)
        except Exception as exc:
            raise StorageError(f"database URL {_safe_url(url)} cannot be used: {exc}") from None
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        try:
            if auto_migrate and not read_only:
                before, after = migrate.upgrade(self.engine)
                if before != after:
                    log.info("database schema migrated from %s to %s", before or "nothing", after)
            else:
                migrate.check(self.engine)
        except OperationalError as exc:
            raise StorageError(f"database {_safe_url(url)} is unreachable: {' '.join(str(exc.orig).split())}") \
                from None
        except migrate.SchemaError as exc:
            raise StorageError(f"database {_safe_url(url)}: {exc}") from None

    @property
    def safe_url(self) -> str:
        """The database URL without its password."""
        return _safe_url(self.url)

    def close(self) -> None:
        self.engine.dispose()

    # -- feeds -------------------------------------------------------------------------------
    def add_feed(self, url: str, name: str = "", origin: str = "cli", interval: float = 900.0) -> bool:
        """Add a feed (due at once); False when it is already there (its name is then updated if given)."""
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(feeds).values(url=url, name=name, origin=origin, enabled=True, added_at=_now(),
                                                  etag="", last_modified="", last_error="", last_warning="",
                                                  failures=0, entries_total=0, last_new=0,
                                                  interval_seconds=interval, next_poll=_now(), health="new"))
            return True
        except IntegrityError:
            if name:
                with self.engine.begin() as conn:
                    conn.execute(update(feeds).where(feeds.c.url == url).values(name=name))
            return False

    def remove_feed(self, url: str) -> bool:
        with self.engine.begin() as conn:
            return bool(conn.execute(delete(feeds).where(feeds.c.url == url)).rowcount)

    def feed(self, url: str) -> FeedRow | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(feeds).where(feeds.c.url == url)).mappings().first()
        return _feed_row(row) if row else None

    def list_feeds(self) -> list[FeedRow]:
        with self.engine.connect() as conn:
            return [_feed_row(r) for r in conn.execute(select(feeds).order_by(feeds.c.id)).mappings()]

    def due_feeds(self, now: datetime, limit: int = 100_000) -> list[FeedRow]:
        query = (select(feeds).where(feeds.c.enabled & ((feeds.c.next_poll <= now) | feeds.c.next_poll.is_(None)))
                 .order_by(feeds.c.next_poll).limit(limit))
        with self.engine.connect() as conn:
            return [_feed_row(r) for r in conn.execute(query).mappings()]

    def next_due(self) -> datetime | None:
        with self.engine.connect() as conn:
            value = conn.execute(select(func.min(feeds.c.next_poll)).where(feeds.c.enabled)).scalar()
        return _aware(value)

    def save_feeds(self, rows: Sequence[FeedRow]) -> None:
        """Write back the poll results of many feeds in one transaction (by id; the URL may have moved)."""
        if not rows:
            return
        columns = [c for c in feeds.c.keys() if c not in ("id", "added_at", "origin", "enabled")]  # noqa: SIM118
        with self.engine.begin() as conn:
            for row in rows:
                values = {c: getattr(row, c) for c in columns}
                # a server's validators can be any length; the columns are not (PostgreSQL refuses, SQLite not)
                values["etag"] = values["etag"] if len(values["etag"]) <= 512 else ""
                values["last_modified"] = values["last_modified"] if len(values["last_modified"]) <= 128 else ""
                values["url"] = values["url"][:2048]
                try:
                    with conn.begin_nested():
                        conn.execute(update(feeds).where(feeds.c.id == row.id).values(**values))
                except IntegrityError:  # moved to a URL that is already a feed of its own: keep the old URL
                    values.pop("url")
                    conn.execute(update(feeds).where(feeds.c.id == row.id).values(**values))

    # -- entries -----------------------------------------------------------------------------
    def known_keys(self, keys: Iterable[str]) -> dict[str, str]:
        """Which of these dedup keys were seen, and for which article id."""
        keys = list(keys)
        if not keys:
            return {}
        with self.engine.connect() as conn:
            rows = conn.execute(select(seen_keys).where(seen_keys.c.dedup_key.in_(keys)))
            return {r[0]: r[1] for r in rows}

    def known_entries(self, article_ids: Iterable[str]) -> dict[str, KnownEntry]:
        ids = list(set(article_ids))
        if not ids:
            return {}
        with self.engine.connect() as conn:
            rows = conn.execute(select(entries.c.article_id, entries.c.content_hash, entries.c.revision)
                                .where(entries.c.article_id.in_(ids)))
            return {r[0]: KnownEntry(r[0], r[1], r[2]) for r in rows}

    def known_hashes(self, hashes: Iterable[str]) -> dict[str, str]:
        """Which content hashes belong to an article already accepted (hash -> article id)."""
        hs = [h for h in set(hashes) if h]
        if not hs:
            return {}
        with self.engine.connect() as conn:
            rows = conn.execute(select(entries.c.content_hash, entries.c.article_id)
                                .where(entries.c.content_hash.in_(hs)))
            return {r[0]: r[1] for r in rows}

    def accept_entries(self, items: Sequence[tuple[Sequence[str], str, str, int, str]],
                       feed_rows: Sequence[FeedRow] = (), redrive_after: float = 1800.0) -> None:
        """Record accepted entries — (dedup keys, article id, content hash, revision, entry JSON) — and
        the feeds' poll results, in one transaction: after publishing, before the offsets move on.
        A new entry not archived within ``redrive_after`` seconds is due to be published again."""
        now = _now()
        with self.engine.begin() as conn:
            for keys, article_id, content_hash, revision, entry_json in items:
                done = conn.execute(update(entries).where(entries.c.article_id == article_id).values(
                    content_hash=content_hash, revision=revision, entry_json=entry_json))
                if done.rowcount == 0:
                    conn.execute(self._insert_new(entries).values(
                        article_id=article_id, content_hash=content_hash, revision=revision, first_seen=now,
                        entry_json=entry_json, state="accepted", redrives=0,
                        redrive_at=now + timedelta(seconds=redrive_after)))
                for key in keys:
                    conn.execute(self._insert_new(seen_keys).values(dedup_key=key, article_id=article_id))
            # the alert stage may have archived an entry before the poller got to record it (the database
            # was down between the broker's acknowledgement and this call): it is archived, not accepted
            ids = [item[1] for item in items]
            if ids:
                conn.execute(update(entries).where(
                    entries.c.article_id.in_(ids) & (entries.c.state == "accepted")
                    & select(archive.c.article_id).where(archive.c.article_id == entries.c.article_id).exists()
                ).values(state="archived"))
        self.save_feeds(feed_rows)

    def remember_keys(self, keys: Iterable[str], article_id: str) -> None:
        """Map more dedup keys (a republished copy's URL and GUID) to an accepted article."""
        with self.engine.begin() as conn:
            for key in keys:
                conn.execute(self._insert_new(seen_keys).values(dedup_key=key, article_id=article_id))

    def _insert_new(self, table: Any) -> Any:
        """An insert that leaves an existing row (same key) as it is: two pollers may accept one entry."""
        if self.engine.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            return pg_insert(table).on_conflict_do_nothing()
        if self.engine.dialect.name == "sqlite":
            from sqlalchemy.dialects.sqlite import insert as sqlite_insert

            return sqlite_insert(table).on_conflict_do_nothing()
        return insert(table)

    def unfinished_entries(self) -> list[str]:
        """Entries accepted but not yet archived: to re-publish after a memory-only broker lost them."""
        query = select(entries.c.entry_json).where(entries.c.state == "accepted")
        with self.engine.connect() as conn:
            return [r[0] for r in conn.execute(query)]

    def entries_to_redrive(self, now: datetime, limit: int = 1000) -> list[tuple[str, str, int]]:
        """Accepted entries whose time to reach the archive is up: (article id, entry JSON, redrives so far)."""
        query = (select(entries.c.article_id, entries.c.entry_json, entries.c.redrives)
                 .where((entries.c.state == "accepted")
                        & (entries.c.redrive_at.is_(None) | (entries.c.redrive_at <= now)))
                 .order_by(entries.c.redrive_at).limit(limit))
        with self.engine.connect() as conn:
            return [(r[0], r[1], r[2]) for r in conn.execute(query)]

    def mark_redriven(self, article_ids: Sequence[str], next_at: datetime) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(entries).where(entries.c.article_id.in_(list(article_ids)) & (
                entries.c.state == "accepted")).values(redrives=entries.c.redrives + 1, redrive_at=next_at))

    def abandon_entries(self, article_ids: Sequence[str]) -> None:
        """Give up on entries that were published again and again and never reached the archive."""
        with self.engine.begin() as conn:
            conn.execute(update(entries).where(entries.c.article_id.in_(list(article_ids)) & (
                entries.c.state == "accepted")).values(state="abandoned"))

    def entry_counts(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(entries.c.state, func.count()).group_by(entries.c.state))
            return {state: int(n) for state, n in rows}

    def first_seen(self, article_id: str) -> datetime | None:
        with self.engine.connect() as conn:
            value = conn.execute(select(entries.c.first_seen).where(entries.c.article_id == article_id)).scalar()
        return _aware(value)

    # -- alerts ------------------------------------------------------------------------------
    def archive_article(self, article_id: str, url: str, title: str, source: str, published: str | None,
                        text: str, tagged_json: str) -> str:
        """Store a tagged article once, and mark its entry archived, in one transaction.

        Returns ``"new"``; ``"unlinked"`` when it was archived before but its stories and alerts were
        not done (the worker died in between: do them now); ``"done"`` for a plain redelivery.
        """
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(archive).values(
                    article_id=article_id, url=url, title=title, source=source, published=published, text=text,
                    tagged_json=tagged_json, archived_at=_now(), linked=False))
                conn.execute(update(entries).where(entries.c.article_id == article_id).values(state="archived"))
            return "new"
        except IntegrityError:
            with self.engine.connect() as conn:
                linked = conn.execute(select(archive.c.linked).where(archive.c.article_id == article_id)).scalar()
            return "done" if linked else "unlinked"

    def mark_linked(self, article_id: str) -> None:
        """The article's stories are linked and its alerts queued: a redelivery has nothing left to do."""
        with self.engine.begin() as conn:
            conn.execute(update(archive).where(archive.c.article_id == article_id).values(linked=True))

    def unlinked_articles(self, archived_before: datetime, limit: int = 10_000) -> list[str]:
        """The tagged JSON of articles archived before ``archived_before`` whose stories and alerts were
        never done (their worker died in between), oldest first."""
        query = (select(archive.c.tagged_json).where(~archive.c.linked & (archive.c.archived_at < archived_before))
                 .order_by(archive.c.archived_at).limit(limit))
        with self.engine.connect() as conn:
            return [r[0] for r in conn.execute(query)]

    def archived_by_url(self, url: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(archive).where(archive.c.url == url)).mappings().first()
        return dict(row) if row else None

    def new_story(self, title: str) -> int:
        """A story id no other alert worker will hand out."""
        with self.engine.begin() as conn:
            done = conn.execute(insert(stories).values(title=title[:500], created_at=_now()))
            key = done.inserted_primary_key
            assert key is not None  # an insert of one row has its key
            return int(key[0])

    def story_of(self, article_id: str) -> int | None:
        with self.engine.connect() as conn:
            value = conn.execute(select(archive.c.story_id).where(archive.c.article_id == article_id)).scalar()
        return int(value) if value is not None else None

    def set_story(self, article_id: str, story_id: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(archive).where(archive.c.article_id == article_id).values(story_id=story_id))

    def story_articles(self, story_id: int) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(archive.c.article_id, archive.c.title, archive.c.source, archive.c.text,
                                       archive.c.published).where(archive.c.story_id == story_id)
                                .order_by(archive.c.archived_at))
            return [dict(r) for r in rows.mappings()]

    def archive_since(self, since: datetime, limit: int = 200_000, until: datetime | None = None
                      ) -> list[dict[str, Any]]:
        """Archived articles with their story, oldest first, from ``since`` (and before ``until``)."""
        where = archive.c.archived_at >= since
        if until is not None:
            where &= archive.c.archived_at < until
        with self.engine.connect() as conn:
            rows = conn.execute(select(archive.c.article_id, archive.c.title, archive.c.text, archive.c.published,
                                       archive.c.story_id, archive.c.archived_at)
                                .where(where).order_by(archive.c.archived_at).limit(limit))
            return [dict(r) for r in rows.mappings()]

    def member_counts(self) -> dict[str, int]:
        """How many articles are linked to each watched story."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(story_members.c.watch_id, func.count()).group_by(story_members.c.watch_id))
            return {w: int(n) for w, n in rows}

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
                        archive.c.published, story_members.c.relation)
                 .join(story_members, story_members.c.article_id == archive.c.article_id)
                 .where(story_members.c.watch_id == watch_id).order_by(story_members.c.linked_at))
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]

    def queue_alert(self, idem_key: str, subscriber: str, article_id: str, kind: str, subject: str,
                    message: str, story: str = "", facts_json: str = "{}", due: datetime | None = None,
                    published_at: datetime | None = None, first_seen_at: datetime | None = None) -> bool:
        """Put an email in the outbox once per idempotency key; False when it is already there."""
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(alerts).values(
                    idem_key=idem_key, subscriber=subscriber, article_id=article_id, kind=kind, subject=subject,
                    message=message, status="pending", attempts=0, last_error="", created_at=_now(),
                    story=story, facts_json=facts_json, next_attempt=due, ref=alert_ref(idem_key),
                    claimed_by="", interrupted=0, published_at=published_at, first_seen_at=first_seen_at))
            return True
        except IntegrityError:
            return False

    def record_feedback(self, ref: str, verdict: str) -> dict[str, Any] | None:
        """An analyst's verdict on an alert (by the reference in its email); the alert, or None if unknown."""
        with self.engine.begin() as conn:
            row = conn.execute(select(alerts).where(alerts.c.ref == ref)).mappings().first()
            if row is None:
                return None
            conn.execute(delete(feedback).where(feedback.c.ref == ref))
            conn.execute(insert(feedback).values(ref=ref, verdict=verdict, recorded_at=_now()))
        return dict(row)

    def feedback_examples(self) -> list[dict[str, Any]]:
        """Each verdict with the alert's facts and the archived article it was about."""
        query = (select(feedback.c.ref, feedback.c.verdict, alerts.c.facts_json, archive.c.article_id,
                        archive.c.title, archive.c.text)
                 .join(alerts, alerts.c.ref == feedback.c.ref)
                 .join(archive, archive.c.article_id == alerts.c.article_id))
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]

    def last_story_alert(self, subscriber: str, story: str) -> datetime | None:
        """When the subscriber was last sent, or is next due, an alert on this story."""
        with self.engine.connect() as conn:
            row = conn.execute(select(func.max(func.coalesce(alerts.c.sent_at, alerts.c.next_attempt)))
                               .where((alerts.c.subscriber == subscriber) & (alerts.c.story == story))).scalar()
        return _aware(row)

    # -- subscribers and watches -----------------------------------------------------------------
    def add_subscriber(self, email: str, name: str = "", mode: str = "immediate", origin: str = "cli") -> None:
        with self.engine.begin() as conn:
            done = conn.execute(update(subscribers).where(subscribers.c.email == email).values(name=name, mode=mode))
            if done.rowcount == 0:
                conn.execute(insert(subscribers).values(email=email, name=name, mode=mode, origin=origin))

    def subscribe(self, email: str, kind: str, target: str, min_score: float = 0.0) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(subscriptions).where((subscriptions.c.email == email) & (subscriptions.c.kind == kind)
                                                     & (subscriptions.c.target == target)))
            conn.execute(insert(subscriptions).values(email=email, kind=kind, target=target, min_score=min_score))

    def replace_subscriptions(self, email: str, topics: dict[str, float], watch_ids: Iterable[str]) -> None:
        """A subscriber's subscriptions become exactly these, in one transaction."""
        with self.engine.begin() as conn:
            conn.execute(delete(subscriptions).where(subscriptions.c.email == email))
            for topic, min_score in topics.items():
                conn.execute(insert(subscriptions).values(email=email, kind="topic", target=topic, min_score=min_score))
            for watch_id in dict.fromkeys(watch_ids):
                conn.execute(insert(subscriptions).values(email=email, kind="watch", target=watch_id, min_score=0.0))

    def remove_subscriber(self, email: str) -> bool:
        with self.engine.begin() as conn:
            conn.execute(delete(subscriptions).where(subscriptions.c.email == email))
            return bool(conn.execute(delete(subscribers).where(subscribers.c.email == email)).rowcount)

    def list_subscribers(self) -> list[dict[str, Any]]:
        """Each subscriber with ``topics`` ({topic: min score}) and ``watches`` (ids)."""
        with self.engine.connect() as conn:
            subs = [dict(r) for r in conn.execute(select(subscribers).order_by(subscribers.c.email)).mappings()]
            rows = list(conn.execute(select(subscriptions)).mappings())
        for sub in subs:
            mine = [r for r in rows if r["email"] == sub["email"]]
            sub["topics"] = {r["target"]: r["min_score"] for r in mine if r["kind"] == "topic"}
            sub["watches"] = [r["target"] for r in mine if r["kind"] == "watch"]
        return subs

    def add_watch(self, watch_id: str, name: str, seed_url: str = "", seed_text: str = "",
                  topics: Iterable[str] = (), origin: str = "cli") -> bool:
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(watches).values(id=watch_id, name=name, seed_url=seed_url, seed_text=seed_text,
                                                    topics=",".join(topics), origin=origin, created_at=_now()))
            return True
        except IntegrityError:
            return False

    def remove_watch(self, watch_id: str) -> bool:
        with self.engine.begin() as conn:
            conn.execute(delete(subscriptions).where((subscriptions.c.kind == "watch")
                                                     & (subscriptions.c.target == watch_id)))
            return bool(conn.execute(delete(watches).where(watches.c.id == watch_id)).rowcount)

    def list_watches(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = [dict(r) for r in conn.execute(select(watches).order_by(watches.c.created_at)).mappings()]
        for row in rows:
            row["topics"] = [t for t in row["topics"].split(",") if t]
        return rows

    def pending_alerts(self, limit: int = 500, now: datetime | None = None) -> list[QueuedAlert]:
        """Alerts waiting to be sent whose next attempt is due."""
        now = now or _now()
        due = alerts.c.next_attempt.is_(None) | (alerts.c.next_attempt <= now)
        query = (select(alerts).where((alerts.c.status == "pending") & due).order_by(alerts.c.created_at)
                 .limit(limit))
        with self.engine.connect() as conn:
            return [_queued(r) for r in conn.execute(query).mappings()]

    def claim_alerts(self, idem_keys: Sequence[str], worker: str) -> list[str]:
        """Claim pending alerts for sending; returns the keys this worker got (another may have taken some)."""
        got = []
        now = _now()
        with self.engine.begin() as conn:
            for key in idem_keys:
                done = conn.execute(update(alerts).where((alerts.c.idem_key == key) & (alerts.c.status == "pending"))
                                    .values(status="sending", claimed_by=worker, claimed_at=now))
                if done.rowcount:
                    got.append(key)
        return got

    def release_stale_claims(self, older_than: datetime) -> list[str]:
        """Claims of workers that died while sending: the alerts go back to pending (the server may or
        may not have taken them: they are sent again, with the same Message-ID). Returns their keys."""
        alive = select(workers.c.id).where((workers.c.id == alerts.c.claimed_by + ":alert")
                                           & (workers.c.heartbeat_at >= older_than) & (workers.c.state == "running"))
        # a claim is stale when it is old and its worker is not heard from (a live worker, say one that
        # could not record its sends while the database was down, records them itself)
        stale = (alerts.c.status == "sending") & (alerts.c.claimed_at < older_than) & ~alive.exists()
        with self.engine.begin() as conn:
            keys = [r[0] for r in conn.execute(select(alerts.c.idem_key).where(stale))]
            _requeue_interrupted(conn, stale, keys)
        return keys

    def claimants(self) -> list[str]:
        """The workers holding alerts claimed for sending right now."""
        with self.engine.connect() as conn:
            return [r[0] for r in conn.execute(select(alerts.c.claimed_by).where(alerts.c.status == "sending")
                                               .distinct())]

    def release_claims_of(self, dead: Sequence[str]) -> list[str]:
        """The claims of workers known to be dead go back to pending at once (sent again, same Message-ID)."""
        if not dead:
            return []
        mine = (alerts.c.status == "sending") & alerts.c.claimed_by.in_(list(dead))
        with self.engine.begin() as conn:
            keys = [r[0] for r in conn.execute(select(alerts.c.idem_key).where(mine))]
            _requeue_interrupted(conn, mine, keys)
        return keys

    def mark_sent(self, idem_key: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(alerts).where(alerts.c.idem_key == idem_key)
                         .values(status="sent", sent_at=_now(), attempts=alerts.c.attempts + 1, claimed_by=""))

    def mark_failed(self, idem_key: str, error: str, give_up: bool, retry_at: datetime | None = None,
                    in_doubt: bool = False) -> None:
        """A send that failed; ``in_doubt`` when the server may have taken it (counted in ``interrupted``)."""
        with self.engine.begin() as conn:
            conn.execute(update(alerts).where(alerts.c.idem_key == idem_key)
                         .values(status="failed" if give_up else "pending", last_error=error[:2000],
                                 attempts=alerts.c.attempts + 1, next_attempt=retry_at, claimed_by="",
                                 claimed_at=None, interrupted=alerts.c.interrupted + int(in_doubt)))

    def alert_counts(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(alerts.c.status, func.count()).group_by(alerts.c.status))
            return {status: int(n) for status, n in rows}

    def sent_alerts(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(alerts).where(alerts.c.status == "sent").order_by(alerts.c.sent_at))
            return [dict(r) for r in rows.mappings()]


    # -- workers -----------------------------------------------------------------------------
    def heartbeat(self, worker_id: str, stage: str, host: str, pid: int, started_at: datetime, state: str,
                  stats_json: str) -> None:
        """Record that a worker is alive (and its counters); ``wirewatch status`` reads these rows."""
        now = _now()
        with self.engine.begin() as conn:
            done = conn.execute(update(workers).where(workers.c.id == worker_id).values(
                heartbeat_at=now, state=state, stats_json=stats_json))
            if done.rowcount == 0:
                conn.execute(insert(workers).values(id=worker_id, stage=stage, host=host, pid=pid,
                                                    started_at=started_at, heartbeat_at=now, state=state,
                                                    stats_json=stats_json))

    def list_workers(self, since: datetime) -> list[dict[str, Any]]:
        """Workers heard from since ``since``, by stage."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(workers).where(workers.c.heartbeat_at >= since)
                                .order_by(workers.c.stage, workers.c.id))
            return [{k: _aware(v) if isinstance(v, datetime) else v for k, v in r.items()} for r in rows.mappings()]

    def forget_workers(self, before: datetime) -> int:
        with self.engine.begin() as conn:
            return int(conn.execute(delete(workers).where(workers.c.heartbeat_at < before)).rowcount)

    def archive_count(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(archive)).scalar() or 0)

    def outbox_summary(self) -> dict[str, Any]:
        """Oldest pending alert, last sent alert, and the publication-to-send delay of the last 200 sent."""
        with self.engine.connect() as conn:
            oldest = conn.execute(select(func.min(alerts.c.created_at)).where(alerts.c.status == "pending")).scalar()
            last = conn.execute(select(func.max(alerts.c.sent_at))).scalar()
            recent = conn.execute(select(alerts.c.published_at, alerts.c.first_seen_at, alerts.c.sent_at)
                                  .where(alerts.c.status == "sent").order_by(alerts.c.sent_at.desc()).limit(200))
            delays = [((_aware(r[2]) - _aware(r[0])).total_seconds(),  # type: ignore[operator]
                       (_aware(r[2]) - _aware(r[1])).total_seconds() if r[1] else None)  # type: ignore[operator]
                      for r in recent if r[0] is not None and r[2] is not None]
        return {"oldest_pending": _aware(oldest), "last_sent": _aware(last),
                "from_publication": sorted(d[0] for d in delays),
                "from_first_sighting": sorted(d[1] for d in delays if d[1] is not None)}


def _requeue_interrupted(conn: Any, claimed: Any, keys: list[str]) -> None:
    """Claimed alerts whose send was cut short go back to pending, counted as interrupted; the alerts of
    one interrupted send keep together (their claim time becomes their due time), so they make one email again."""
    if keys:
        conn.execute(update(alerts).where(claimed & alerts.c.idem_key.in_(keys))
                     .values(status="pending", claimed_by="", claimed_at=None, next_attempt=alerts.c.claimed_at,
                             interrupted=alerts.c.interrupted + 1))


def alert_ref(idem_key: str) -> str:
    """The short reference of an alert, shown in its email (and in its Message-ID)."""
    return hashlib.sha256(idem_key.encode()).hexdigest()[:24]


def _aware(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; they were written in UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _feed_row(row: Any) -> FeedRow:
    data = dict(row)
    for key in ("added_at", "last_polled", "next_poll"):
        data[key] = _aware(data[key])
    return FeedRow(**data)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()
