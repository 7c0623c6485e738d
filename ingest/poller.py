"""The feed poller: fetch each configured feed, parse it, keep the entries not seen before.

In: :class:`FeedSettings` and the store's dedup state. Out: :class:`PollResult` per feed (entries
to publish, HTTP status, error); :func:`run_poller` publishes them on ``entries`` and only then
records them as seen, so that a crash between the two re-sends (harmless downstream) rather than
loses an entry.

Fetching is ours (timeouts, size limit, conditional GET with ETag / Last-Modified); feedparser only
ever sees bytes and headers.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx

from ingest.feed_parsing import FeedError, dedup_keys, parse_feed
from wirewatch.config import FeedSettings, PollSettings
from wirewatch.http import FetchError, fetch, make_client
from wirewatch.kafka import ENTRIES, KafkaWiring, Output, Progress
from wirewatch.schema import Entry
from wirewatch.storage import FeedState, Store

log = logging.getLogger(__name__)


@dataclass
class PollResult:
    feed_url: str
    status: int | None = None
    new_entries: list[Entry] = field(default_factory=list)
    seen_before: int = 0
    not_modified: bool = False
    error: str = ""
    warning: str = ""
    etag: str = ""
    last_modified: str = ""


class FeedPoller:
    """Polls feeds with conditional GET and filters out entries already seen."""

    def __init__(self, settings: PollSettings, store: Store, client: httpx.Client) -> None:
        self.settings = settings
        self.store = store
        self.client = client

    def poll(self, feed: FeedSettings) -> PollResult:
        state = self.store.get_feed_state(feed.url)
        result = PollResult(feed.url, etag=state.etag, last_modified=state.last_modified)
        headers = {}
        if state.etag:
            headers["If-None-Match"] = state.etag
        if state.last_modified:
            headers["If-Modified-Since"] = state.last_modified
        try:
            response = fetch(self.client, feed.url, self.settings.max_bytes, headers)
        except FetchError as exc:
            result.error = str(exc)
            return result
        result.status = response.status
        if response.status == 304:
            result.not_modified = True
            return result
        if response.status >= 400:
            result.error = f"{feed.url}: HTTP {response.status}"
            return result
        try:
            parsed = parse_feed(response.content, feed.url, response.headers)
        except FeedError as exc:
            result.error = str(exc)
            return result
        result.warning = parsed.warning
        for reason in parsed.skipped:
            log.warning("feed %s: skipped %s", feed.url, reason)
        result.etag = response.headers.get("etag", "")
        result.last_modified = response.headers.get("last-modified", "")
        fresh: dict[str, Entry] = {}
        batch_keys: set[str] = set()
        for entry in parsed.entries:
            keys = dedup_keys(entry)
            if self.store.seen(keys) or batch_keys.intersection(keys) or entry.article_id in fresh:
                result.seen_before += 1
                continue
            batch_keys.update(keys)
            fresh[entry.article_id] = entry
        result.new_entries = list(fresh.values())
        return result

    def record(self, result: PollResult) -> None:
        """After the new entries are published: mark them seen and save the feed's state."""
        self.store.mark_seen([(dedup_keys(e), e.article_id, e.to_bytes().decode("utf-8"))
                              for e in result.new_entries])
        old = self.store.get_feed_state(result.feed_url)
        self.store.save_feed_state(FeedState(
            feed_url=result.feed_url, etag=result.etag, last_modified=result.last_modified,
            last_polled=datetime.now(UTC), last_status=result.status, last_error=result.error,
            entries_total=old.entries_total + len(result.new_entries)))


def poll_cycle(poller: FeedPoller, feeds: list[FeedSettings], wiring: KafkaWiring, producer: object,
               progress: Progress) -> list[PollResult]:
    """Poll every feed once, publish the new entries, then record them as seen."""
    results = []
    for feed in feeds:
        result = poller.poll(feed)
        if result.error:
            log.error("feed %s: %s", feed.url, result.error)
        elif result.warning:
            log.warning("feed %s: %s", feed.url, result.warning)
        outputs = [Output(ENTRIES, e.article_id, e) for e in result.new_entries]
        wiring.publish(producer, outputs)  # type: ignore[arg-type]
        producer.flush()  # type: ignore[attr-defined]
        poller.record(result)
        progress.add("produced", ENTRIES, len(outputs))
        progress.add("consumed", "feeds")
        log.info("feed %s: HTTP %s, %d new, %d seen before%s", feed.url, result.status, len(result.new_entries),
                 result.seen_before, " (not modified)" if result.not_modified else "")
        results.append(result)
    return results


def run_poller(poll_settings: PollSettings, feeds: list[FeedSettings], wiring: KafkaWiring, store: Store,
               stop: threading.Event, progress: Progress, once: bool = False) -> None:
    """Poll all feeds every ``interval_seconds`` until ``stop`` is set (or once)."""
    producer = wiring.producer()
    try:
        with make_client(poll_settings.timeout_seconds, poll_settings.user_agent) as client:
            poller = FeedPoller(poll_settings, store, client)
            while not stop.is_set():
                poll_cycle(poller, feeds, wiring, producer, progress)
                if once:
                    break
                stop.wait(poll_settings.interval_seconds)
    finally:
        producer.flush(timeout=10)
        producer.close(timeout=10)
