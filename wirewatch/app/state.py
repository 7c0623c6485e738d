"""What the app opens of the shared database: each owner's rows, composed for the CLI, web and workers.

In: the settings (the database URL, whether to migrate). Out: :class:`AppState` — the poller's
feeds and seen entries (:class:`~wirewatch.ingest.ingest_store.IngestStore`), the alert stage's
archive, stories, audience and outbox (:class:`~wirewatch.alerts.alert_store.AlertStore`), and the
kernel's records of what crosses stages: entries' progress and workers' heartbeats; and
:func:`adopt_config`, which writes the configuration's feeds, watches and subscribers into it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError

from wirewatch.app import registry
from wirewatch.config import Settings
from wirewatch.database import Database
from wirewatch.entry_progress import EntryProgress
from wirewatch.heartbeats import Heartbeats

log = logging.getLogger(__name__)


class AppState:
    """The database and everything kept in it, by owner."""
    def __init__(self, db: Database) -> None:
        self.db = db
        self.ingest = registry.ingest.IngestStore(db)
        self.alerts = registry.alerts.AlertStore(db)
        self.entries = EntryProgress(db)
        self.heartbeats = Heartbeats(db)

    @classmethod
    def open(cls, url: str, auto_migrate: bool = True, read_only: bool = False) -> AppState:
        return cls(Database(url, auto_migrate=auto_migrate, read_only=read_only))

    @classmethod
    def of(cls, settings: Settings, read_only: bool = False) -> AppState:
        """The database the settings name (migrated at open unless ``[database] auto_migrate = false``)."""
        return cls.open(settings.database_url, auto_migrate=settings.database.auto_migrate, read_only=read_only)

    @property
    def engine(self) -> Engine:
        return self.db.engine

    @property
    def url(self) -> str:
        return self.db.url

    @property
    def safe_url(self) -> str:
        return self.db.safe_url

    def close(self) -> None:
        self.db.close()


def adopt_config(settings: Settings, state: AppState, prune: bool = False) -> None:
    """Feeds, watches and subscribers of the config file join those added on the command line.

    With ``prune`` (a reload), those the file brought before and no longer lists are removed, and its
    subscribers' subscriptions become exactly what it says. Workers starting together may adopt the
    same file at once: a row another worker has just written is left to it.
    """
    def quietly(write: Callable[[], object]) -> None:
        try:
            write()
        except IntegrityError:
            log.debug("config row written concurrently by another worker")

    feeds, store = state.ingest, state.alerts

    for feed in settings.feeds:
        quietly(partial(feeds.add_feed, feed.url, feed.name, origin="config", interval=settings.poll.interval_seconds))
    for watch in settings.watches:
        quietly(partial(store.add_watch, watch.id, watch.name, watch.seed_url, watch.seed(), watch.topics,
                        origin="config"))
    for sub in settings.subscribers:
        quietly(partial(store.add_subscriber, sub.email, sub.name, sub.mode, origin="config"))
        if prune:  # exactly what the file says, in one transaction
            store.replace_subscriptions(sub.email, sub.topics, sub.watches)
            continue
        for topic, min_score in sub.topics.items():
            quietly(partial(store.subscribe, sub.email, "topic", topic, min_score))
        for watch_id in sub.watches:
            quietly(partial(store.subscribe, sub.email, "watch", watch_id))
    if prune:
        listed = {f.url for f in settings.feeds}
        for row in feeds.list_feeds():
            if row.origin == "config" and row.url not in listed:
                feeds.remove_feed(row.url)
                log.info("reload: feed %s is no longer in the configuration; removed", row.url)
        watch_ids = {w.id for w in settings.watches}
        for w in store.list_watches():
            if w["origin"] == "config" and w["id"] not in watch_ids:
                store.remove_watch(w["id"])
                log.info("reload: watch %s is no longer in the configuration; removed", w["id"])
        emails = {str(s.email) for s in settings.subscribers}
        for sub in store.list_subscribers():
            if sub["origin"] == "config" and sub["email"] not in emails:
                store.remove_subscriber(sub["email"])
                log.info("reload: subscriber %s is no longer in the configuration; removed", sub["email"])
