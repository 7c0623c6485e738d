"""The poller's feeds: each feed, its HTTP validators, schedule and health (the ``feeds`` table).

In: feeds added by the command line, the configuration, OPML and the web app; each poll's results.
Out: :class:`FeedRow` records — the feeds due now, when the next one is due, every feed for a list.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, RowMapping, bindparam, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from wirewatch.database import OnDatabase, aware, utcnow
from wirewatch.tables import feeds


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


class FeedStore(OnDatabase):
    """The feeds to poll."""

    def add_feed(self, url: str, name: str = "", origin: str = "cli", interval: float = 900.0) -> bool:
        """Add a feed (due at once); False when it is already there (its name is then updated if given)."""
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(feeds).values(url=url, name=name, origin=origin, enabled=True, added_at=utcnow(),
                                                  etag="", last_modified="", last_error="", last_warning="",
                                                  failures=0, entries_total=0, last_new=0,
                                                  interval_seconds=interval, next_poll=utcnow(), health="new"))
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
        return aware(value)

    def save_feeds(self, rows: Sequence[FeedRow], before: Sequence[FeedRow] = ()) -> None:
        """Write back the poll results of many feeds in one transaction (by id; the URL may have moved).

        ``before``: each row as it was read before the poll, in the same order. Then only the columns
        the poll changed are written — a 304 its poll time and next poll, not the fifteen columns —
        one statement per set of columns changed, and a column the poll did not change (a name or URL
        edited meanwhile) is left as it is in the table. Without it, every column is written."""
        if not rows:
            return
        if before:
            self._save_changes(rows, before)
            return
        with self.engine.begin() as conn:
            stored = {r[0]: r[1] for i in range(0, len(rows), 900) for r in conn.execute(
                select(feeds.c.id, feeds.c.url).where(feeds.c.id.in_([row.id for row in rows[i:i + 900]])))}
            values = [_values(row) for row in rows]
            if stayed := [v for v in values if stored.get(v["row_id"]) == v["url"]]:
                # the feeds that kept their URL (nearly all): one statement for all of them (executemany)
                conn.execute(update(feeds).where(feeds.c.id == bindparam("row_id"))
                             .values({c: bindparam(c) for c in SAVED if c != "url"}), stayed)
            for moved in (v for v in values if stored.get(v["row_id"]) != v["url"]):
                _save_moved(conn, moved)

    def _save_changes(self, rows: Sequence[FeedRow], before: Sequence[FeedRow]) -> None:
        if len(rows) != len(before):
            raise ValueError(f"{len(rows)} rows to save, {len(before)} rows as they were read")
        groups: dict[tuple[str, ...], list[dict[str, object]]] = {}
        moved = []
        for row, old in zip(rows, before, strict=True):
            if row.url != old.url:
                moved.append(_values(row))
                continue
            changed = tuple(c for c in SAVED if getattr(row, c) != getattr(old, c))
            if changed:
                groups.setdefault(changed, []).append(_values(row, changed))
        with self.engine.begin() as conn:
            for columns, group in groups.items():  # a few sets of columns: one executemany each
                conn.execute(update(feeds).where(feeds.c.id == bindparam("row_id"))
                             .values({c: bindparam(c) for c in columns}), group)
            for values in moved:
                _save_moved(conn, values)


def _save_moved(conn: Connection, values: dict[str, object]) -> None:
    """A feed whose URL moved: its own statement, in a savepoint, and its old URL kept if the new one is
    already another feed's."""
    row_id = values.pop("row_id")
    try:
        with conn.begin_nested():
            conn.execute(update(feeds).where(feeds.c.id == row_id).values(**values))
    except IntegrityError:  # moved to a URL that is already a feed of its own: keep the old URL
        values.pop("url")
        conn.execute(update(feeds).where(feeds.c.id == row_id).values(**values))


SAVED = [c for c in feeds.c.keys() if c not in ("id", "added_at", "origin", "enabled")]  # noqa: SIM118


def _values(row: FeedRow, columns: Sequence[str] = SAVED) -> dict[str, object]:
    """A feed row's columns to save, under ``row_id`` its id (``id`` is taken by the column's own bind)."""
    values: dict[str, object] = {c: getattr(row, c) for c in columns}
    # a server's validators can be any length; the columns are not (PostgreSQL refuses, SQLite not)
    if "etag" in values:
        values["etag"] = row.etag if len(row.etag) <= 512 else ""
    if "last_modified" in values:
        values["last_modified"] = row.last_modified if len(row.last_modified) <= 128 else ""
    if "url" in values:
        values["url"] = row.url[:2048]
    values["row_id"] = row.id
    return values


def _feed_row(row: RowMapping) -> FeedRow:
    data = dict(row)
    for key in ("added_at", "last_polled", "next_poll"):
        data[key] = aware(data[key])
    return FeedRow(**data)
