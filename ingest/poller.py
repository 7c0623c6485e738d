"""The feed poller: fetch the feeds that are due, parse them, keep what is new, schedule the next poll.

In: the due rows of the ``feeds`` table. Out: :class:`PollResult` per feed; :class:`PollSource` (the
stage's source, driven by :class:`wirewatch.runner.SourceRunner`) publishes the new entries on
``entries`` and only then records them as seen, together with each feed's new state, so that a crash
between the two re-sends (harmless downstream) rather than loses.

Fetching is asynchronous, at most ``poll.concurrency`` requests at once and ``http.per_host_concurrency``
per host with ``http.per_host_delay_seconds`` between them, so one slow server never stalls the rest.
Each request sends the stored ETag / Last-Modified (a 304 costs no parsing), honours Retry-After on
429 and 503, and follows permanent redirects by moving the feed to its new URL. The database is
never called on the event loop: its queries run on the poller's own few threads (one hop per feed for
its dedup look-ups), so a slow query stalls no fetch in flight.

Every ``[kafka] redrive_after_seconds / 4`` (at most a minute) the poller also publishes again the
accepted entries that have not reached the archive in time (:mod:`ingest.redrive`). A database or
broker outage pauses polling (the runner backs off) until the service is back; nothing is recorded as
seen before the broker acknowledged it.

Deduplication, in order: canonical URL and GUID (an entry seen before is skipped — unless its text
changed, then it is re-sent as revision n+1 of the same article); then the content hash of its title
and summary (the same text republished under another URL is skipped, its keys remembered).
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import html
import logging
import random
import re
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import ParamSpec, TypeVar

import aiohttp
from sqlalchemy.exc import SQLAlchemyError
from wirewatch.ingest.feed_parsing import FeedError, dedup_keys, parse_feed
from wirewatch.ingest.feed_store import FeedRow
from wirewatch.ingest.ingest_store import IngestStore
from wirewatch.ingest.redrive import redrive_due
from wirewatch.ingest.schedule import Outcome, next_schedule, retry_after_seconds
from wirewatch.ingest.seen_entries import KnownEntry

from wirewatch.config import HttpSettings, KafkaSettings, PollSettings
from wirewatch.database import UNAVAILABLE
from wirewatch.entry_progress import AcceptedEntry
from wirewatch.host_gate import HostGate
from wirewatch.http import AddressPolicy, FetchError, FetchLimits, afetch, make_async_session
from wirewatch.kafka import ENTRIES, Delivery, Output, TransientFailure
from wirewatch.progress import Progress
from wirewatch.schema import Entry, parse_time
from wirewatch.stage import Source

log = logging.getLogger(__name__)

MIN_HASHED_CHARS = 80  # shorter title+summary texts are too generic to call two entries the same
BATCH = 500  # poll results published and recorded together ...
FLUSH_SECONDS = 1.0  # ... or as soon as the oldest waiting result is this old: a slow feed holds back no other
TAG = re.compile(r"<[^>]+>")
DB_THREADS = 4  # the poller's database calls run on these, never on the event loop

P = ParamSpec("P")
R = TypeVar("R")
OUTAGES: tuple[type[Exception], ...] = (TransientFailure, *UNAVAILABLE, SQLAlchemyError)  # raised, never a feed's fault


def content_hash(entry: Entry) -> str:
    """Hash of an entry's title and summary, folded (case, markup, entities, spacing); '' if too short."""
    text = " ".join(html.unescape(TAG.sub(" ", f"{entry.title}\n{entry.summary}")).casefold().split())
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32] if len(text) >= MIN_HASHED_CHARS else ""


@dataclass
class PollResult:
    feed: FeedRow
    status: int | None = None
    new_entries: list[Entry] = field(default_factory=list)
    republished: list[tuple[list[str], str]] = field(default_factory=list)
    seen_before: int = 0
    not_modified: bool = False
    error: str = ""
    warning: str = ""
    etag: str = ""
    last_modified: str = ""
    moved_to: str = ""
    retry_after: float | None = None
    published: tuple[datetime, ...] = ()


@dataclass
class CycleMemory:
    """What this cycle already accepted, so that two feeds carrying one entry publish it once."""

    keys: set[str] = field(default_factory=set)
    hashes: set[str] = field(default_factory=set)


class FeedPoller:
    """Polls feeds (asynchronously) and sorts their entries into new, updated, republished and seen."""

    def __init__(self, poll: PollSettings, http: HttpSettings, store: IngestStore, client: aiohttp.ClientSession,
                 rng: random.Random | None = None, policy: AddressPolicy | None = None) -> None:
        self.poll_settings = poll
        self.http = http
        self.store = store
        self.client = client
        self.policy = policy
        self.rng = rng or random.Random()
        self.limits = FetchLimits(poll.timeout_seconds, poll.deadline_seconds, poll.max_bytes, http.max_redirects)
        self.hosts = HostGate(http.per_host_concurrency, http.per_host_delay_seconds)
        self.gate = asyncio.Semaphore(poll.concurrency)
        self.db_threads = ThreadPoolExecutor(DB_THREADS, thread_name_prefix="poll-db")

    async def db(self, call: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        """A (synchronous) database call, off the event loop: every fetch in flight goes on meanwhile."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.db_threads, functools.partial(call, *args, **kwargs))

    def close(self) -> None:
        self.db_threads.shutdown(wait=True)

    async def poll(self, feed: FeedRow, memory: CycleMemory | None = None) -> PollResult:
        """Poll one feed. Whatever the feed does, the answer is a result (with ``error`` set when it
        failed): one feed never stops the others. Only an outage (database, broker) is raised."""
        try:
            return await self._poll(feed, memory or CycleMemory())
        except OUTAGES:
            raise
        except Exception as exc:  # a bug met by one feed's answer: logged with its trace, the feed marked failed
            log.exception("feed %s: unexpected failure", feed.url)
            return PollResult(feed, etag=feed.etag, last_modified=feed.last_modified,
                              error=f"{feed.url}: unexpected failure: {type(exc).__name__}: {exc}")

    async def _poll(self, feed: FeedRow, memory: CycleMemory) -> PollResult:
        result = PollResult(feed, etag=feed.etag, last_modified=feed.last_modified)
        headers = {}
        if feed.etag:
            headers["If-None-Match"] = feed.etag
        if feed.last_modified:
            headers["If-Modified-Since"] = feed.last_modified
        try:
            async with self.gate, self.hosts.aslot(feed.url):
                page = await afetch(self.client, feed.url, self.limits, headers, self.policy)
        except FetchError as exc:
            result.error = str(exc)
            return result
        result.status = page.status
        result.moved_to = page.permanent_redirect
        if page.status == 304:
            result.not_modified = True
            return result
        if page.status in (429, 503):
            result.retry_after = retry_after_seconds(page.headers.get("retry-after"), datetime.now(UTC))
        if page.status >= 400 or page.status < 200:
            result.error = f"{feed.url}: HTTP {page.status}"
            return result
        try:
            parsed = parse_feed(page.content, feed.url, page.headers)
        except FeedError as exc:
            result.error = str(exc)
            return result
        result.warning = parsed.warning
        for reason in parsed.skipped:
            log.warning("feed %s: skipped %s", feed.url, reason)
        result.etag = page.headers.get("etag", "")
        result.last_modified = page.headers.get("last-modified", "")
        result.published = tuple(d for d in (parse_time(e.published) for e in parsed.entries) if d)
        keyed = [(e, dedup_keys(e), content_hash(e)) for e in parsed.entries]
        self._sort(keyed, await self.db(self.look_up, keyed), result, memory)
        return result

    def look_up(self, keyed: list[tuple[Entry, list[str], str]]) -> tuple[dict[str, str], dict[str, KnownEntry],
                                                                          dict[str, str]]:
        """What the database knows of these entries' keys and hashes (in a database thread): the key's
        owner, the owners' stored versions, and the article each content hash belongs to."""
        known = self.store.known_keys(k for _, keys, _ in keyed for k in keys)
        return known, self.store.known_entries(known.values()), self.store.known_hashes(h for _, _, h in keyed)

    @staticmethod
    def _sort(keyed: list[tuple[Entry, list[str], str]],
              looked_up: tuple[dict[str, str], dict[str, KnownEntry], dict[str, str]],
              result: PollResult, memory: CycleMemory) -> None:
        """Sort the entries into new, updated, republished and seen (on the loop: ``memory`` is the cycle's)."""
        known, versions, copies = looked_up
        for entry, keys, digest in keyed:
            if memory.keys.intersection(keys):
                result.seen_before += 1
                continue
            owner = next((known[k] for k in keys if k in known), None)
            if owner is not None:
                stored = versions.get(owner)
                if stored and digest and stored.content_hash and digest != stored.content_hash:
                    update = entry.model_copy(update={"article_id": owner, "content_hash": digest,
                                                      "revision": stored.revision + 1})
                    result.new_entries.append(update)
                    memory.keys.update(keys)
                    log.info("feed %s: entry %s changed; re-sent as revision %d", result.feed.url, owner,
                             update.revision)
                else:
                    result.seen_before += 1
                continue
            if digest and (digest in memory.hashes or digest in copies):
                result.republished.append((keys, copies.get(digest, "")))
                result.seen_before += 1
                continue
            memory.keys.update(keys)
            if digest:
                memory.hashes.add(digest)
            result.new_entries.append(entry.model_copy(update={"content_hash": digest}))

    def schedule(self, result: PollResult, now: datetime) -> FeedRow:
        """The feed's row after this poll: validators, counters, next poll and health."""
        feed = result.feed
        ok = not result.error
        outcome = Outcome(ok=ok, new_entries=len(result.new_entries), published=result.published,
                          retry_after=result.retry_after, rate_limited=result.status == 429)
        sched = next_schedule(feed.interval_seconds, feed.failures, outcome, self.poll_settings, now, self.rng)
        failures, health = sched.failures, sched.health
        if result.status == 410:  # Gone: no point in backing off gently
            failures, health = max(failures, self.poll_settings.unhealthy_after_failures), "unhealthy"
        url = feed.url
        if result.moved_to and result.moved_to != feed.url:
            log.warning("feed %s moved permanently to %s; following it", feed.url, result.moved_to)
            url = result.moved_to
        return replace(feed, url=url, etag=result.etag if ok else feed.etag,
                       last_modified=result.last_modified if ok else feed.last_modified, last_polled=now,
                       last_status=result.status, last_error=result.error[:2000], last_warning=result.warning[:1000],
                       failures=failures, entries_total=feed.entries_total + len(result.new_entries),
                       last_new=len(result.new_entries), interval_seconds=sched.interval, next_poll=sched.next_poll,
                       health=health)


def record(store: IngestStore, poller: FeedPoller, results: list[PollResult], now: datetime,
           redrive_after: float = 1800.0) -> None:
    """After publishing: remember the entries and the feeds' new state."""
    items = [(dedup_keys(e), AcceptedEntry(e.article_id, e.content_hash, e.revision, e.to_bytes().decode("utf-8")))
             for r in results for e in r.new_entries]
    store.record_poll(items, [poller.schedule(r, now) for r in results], redrive_after)
    for r in results:
        for keys, owner in r.republished:
            if owner:
                store.remember_keys(keys, owner)


def report(result: PollResult, rows_before: FeedRow) -> None:
    if result.error:
        log.warning("feed %s: %s (failure %d in a row)", result.feed.url, result.error, rows_before.failures + 1)
    elif result.new_entries:
        log.info("feed %s: HTTP %s, %d new, %d seen before%s", result.feed.url, result.status,
                 len(result.new_entries), result.seen_before, f"; {result.warning}" if result.warning else "")
    else:
        log.debug("feed %s: HTTP %s, nothing new", result.feed.url, result.status)


async def poll_due(poller: FeedPoller, store: IngestStore, delivery: Delivery, progress: Progress,
                   now: datetime | None = None) -> list[PollResult]:
    """One cycle over every due feed: poll them all (bounded concurrency), and, as results come in,
    publish and record them in batches — a slow feed delays only itself."""
    now = now or datetime.now(UTC)
    due = await poller.db(store.due_feeds, now)
    memory = CycleMemory()
    everything: list[PollResult] = []
    pending: list[PollResult] = []

    async def flush() -> None:
        batch = pending[:]
        pending.clear()
        outputs = [Output(ENTRIES, e.article_id, e) for r in batch for e in r.new_entries]
        # acknowledged by the broker before they are recorded as seen: a broker outage loses nothing
        await asyncio.to_thread(delivery.deliver, outputs)
        before = {r.feed.id: r.feed for r in batch}
        await poller.db(record, store, poller, batch, datetime.now(UTC), delivery.wiring.settings.redrive_after_seconds)
        for r in batch:
            report(r, before[r.feed.id])
        progress.add("produced", ENTRIES, len(outputs))
        progress.add("consumed", "feeds", len(batch))
        progress.event("feeds_polled", len(batch))
        progress.event("feeds_failed", sum(1 for r in batch if r.error))
        progress.event("feeds_not_modified", sum(1 for r in batch if r.not_modified))

    running = {asyncio.ensure_future(poller.poll(feed, memory)) for feed in due}
    waiting_since = 0.0
    try:
        while running:
            done, running = await asyncio.wait(running, timeout=FLUSH_SECONDS, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if not pending:
                    waiting_since = time.monotonic()
                pending.append(task.result())
                everything.append(pending[-1])
            if len(pending) >= BATCH or (pending and time.monotonic() - waiting_since >= FLUSH_SECONDS):
                await flush()
        if pending:
            await flush()
    finally:
        for task in running:  # an outage stopped the cycle: the feeds still in flight are polled again later
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
    if due:
        failed = sum(1 for r in everything if r.error)
        log.info("poll cycle: %d feeds, %d new entries, %d not modified, %d failed", len(everything),
                 sum(len(r.new_entries) for r in everything), sum(r.not_modified for r in everything), failed)
    return everything


class PollSource(Source):
    """The poll stage's source: each cycle polls the due feeds and, every ``[kafka]
    redrive_after_seconds / 4`` (at most a minute), publishes again the entries late to the archive.

    Its event loop (and the HTTP session on it) lives from :meth:`open` to :meth:`close`, across cycles.
    """

    def __init__(self, poll: PollSettings, http: HttpSettings, kafka: KafkaSettings, store: IngestStore,
                 progress: Progress) -> None:
        self.poll_settings = poll
        self.http = http
        self.kafka = kafka
        self.store = store
        self.progress = progress
        self.sweep_every = min(60.0, kafka.redrive_after_seconds / 4)
        self._swept = 0.0
        self._loop: asyncio.Runner | None = None
        self._stack = AsyncExitStack()
        self._poller: FeedPoller | None = None

    def open(self) -> None:
        self._loop = asyncio.Runner()
        self._poller = self._loop.run(self._open())

    async def _open(self) -> FeedPoller:
        poll, http = self.poll_settings, self.http
        policy = AddressPolicy.from_strings(http.allow_networks)
        limits = FetchLimits(poll.timeout_seconds, poll.deadline_seconds, poll.max_bytes, http.max_redirects)
        session = await self._stack.enter_async_context(make_async_session(
            limits, http.agent, policy, poll.concurrency, http.per_host_concurrency))
        return FeedPoller(poll, http, self.store, session, policy=policy)

    def cycle(self, delivery: Delivery) -> float | None:
        assert self._loop is not None and self._poller is not None, "open() first"
        return self._loop.run(self._cycle(self._poller, delivery))

    async def _cycle(self, poller: FeedPoller, delivery: Delivery) -> float | None:
        await poll_due(poller, self.store, delivery, self.progress)
        if time.monotonic() - self._swept >= self.sweep_every:
            await poller.db(redrive_due, self.store, delivery, self.kafka, self.progress)
            self._swept = time.monotonic()
        nxt = await poller.db(self.store.next_due)
        return None if nxt is None else (nxt - datetime.now(UTC)).total_seconds()

    def close(self) -> None:
        if self._loop is None:
            return
        try:
            self._loop.run(self._stack.aclose())
        finally:
            if self._poller is not None:
                self._poller.close()
            self._loop.close()
            self._loop = None

