"""Who follows what: subscribers, their subscriptions (topics and watched stories), and the watches.

In: the configuration, the command line and the web app. Out: rows of ``subscribers``,
``subscriptions`` and ``watches``, read back by the alert stage every few seconds.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TypedDict, cast

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from wirewatch.database import OnDatabase, utcnow
from wirewatch.tables import subscribers, subscriptions, watches


class SubscriberRow(TypedDict):
    """A subscriber with what they follow: ``topics`` ({topic: min score}) and ``watches`` (ids)."""

    email: str
    name: str
    mode: str  # "immediate", "hourly" or "daily"
    origin: str
    topics: dict[str, float]
    watches: list[str]


class WatchRow(TypedDict):
    """A watched story: its seed (a URL or a text) and topics."""

    id: str
    name: str
    seed_url: str
    seed_text: str
    topics: list[str]
    origin: str
    created_at: datetime


class AudienceStore(OnDatabase):
    """Subscribers, subscriptions and watches."""

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

    def list_subscribers(self) -> list[SubscriberRow]:
        """Each subscriber with ``topics`` ({topic: min score}) and ``watches`` (ids)."""
        with self.engine.connect() as conn:
            subs = list(conn.execute(select(subscribers).order_by(subscribers.c.email)).mappings())
            rows = list(conn.execute(select(subscriptions)).mappings())
        listed = []
        for sub in subs:
            mine = [r for r in rows if r["email"] == sub["email"]]
            listed.append(SubscriberRow(email=sub["email"], name=sub["name"], mode=sub["mode"], origin=sub["origin"],
                                        topics={r["target"]: r["min_score"] for r in mine if r["kind"] == "topic"},
                                        watches=[r["target"] for r in mine if r["kind"] == "watch"]))
        return listed

    def add_watch(self, watch_id: str, name: str, seed_url: str = "", seed_text: str = "",
                  topics: Iterable[str] = (), origin: str = "cli") -> bool:
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(watches).values(id=watch_id, name=name, seed_url=seed_url, seed_text=seed_text,
                                                    topics=",".join(topics), origin=origin, created_at=utcnow()))
            return True
        except IntegrityError:
            return False

    def remove_watch(self, watch_id: str) -> bool:
        with self.engine.begin() as conn:
            conn.execute(delete(subscriptions).where((subscriptions.c.kind == "watch")
                                                     & (subscriptions.c.target == watch_id)))
            return bool(conn.execute(delete(watches).where(watches.c.id == watch_id)).rowcount)

    def list_watches(self) -> list[WatchRow]:
        with self.engine.connect() as conn:
            rows = [dict(r) for r in conn.execute(select(watches).order_by(watches.c.created_at)).mappings()]
        for row in rows:
            row["topics"] = [t for t in row["topics"].split(",") if t]
        return [cast(WatchRow, row) for row in rows]
