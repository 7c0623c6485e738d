"""The feed poller: fetch the feeds that are due, parse them, keep what is new, schedule the next poll.

In: the due rows of the ``feeds`` table. Out: :class:`PollResult` per feed; :class:`PollSource` (the
stage's source, driven by :class:`wirewatch.runner.SourceRunner`) publishes the new entries on
``entries`` and only then records them as seen, together with each feed's new state, so that a crash
between the two re-sends (harmless downstream) rather than loses.

Fetching is asynchronous, at most ``poll.concurrency`` requests at once and ``http.per_host_concurrency``
per host with ``http.per_host_delay_seconds`` between them, so one slow server never stalls the rest.
Each request sends the stored ETag / Last-Modified (a 304 costs no parsing), honours Retry-After on
429 and 503, and follows permanent redirects by moving the feed to its new URL. A 200 whose body is
byte for byte the one this poller last recorded for the feed is not parsed again (it can hold nothing
new); feeds are parsed in a few worker processes when the poller has them (:mod:`ingest.parse_pool`,
each parse bounded in time), else on the loop. The database is never called on the event loop: its
queries run on the poller's own few threads — one look-up for a whole batch of results, one
transaction to record it — so a slow query stalls no fetch in flight.

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
import contextlib
import functools
import hashlib
import logging
import os
import random
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack
from dataclasses import replace
from datetime import UTC, datetime
from typing import ParamSpec, TypeVar

import aiohttp
from sqlalchemy.exc import SQLAlchemyError
from wirewatch.ingest.feed_parsing import FeedError, Keyed, content_hash, dedup_keys, read_feed
from wirewatch.ingest.feed_store import FeedRow
from wirewatch.ingest.heap import release_free_heap
from wirewatch.ingest.ingest_store import IngestStore
from wirewatch.ingest.parse_pool import ParsePool
from wirewatch.ingest.poll_result import CycleMemory, PollResult, sort_entries
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
from wirewatch.schema import parse_time
from wirewatch.stage import Source

log = logging.getLogger(__name__)

__all__ = ["CycleMemory", "FeedPoller", "PollResult", "PollSource", "content_hash", "poll_due", "record"]

BATCH = 500  # poll results published and recorded together ...
FLUSH_SECONDS = 0.25  # ... or as soon as the oldest waiting result is this old: a slow feed holds back no other
DB_THREADS = 4  # the poller's database calls run on these, never on the event loop
PARSE_WORKERS = 2  # processes parsing feeds for the poll stage (at most one per core)
PARSE_SECONDS = 30.0  # a feed whose parse takes more CPU is given up for this poll (its worker replaced)

P = ParamSpec("P")
R = TypeVar("R")
OUTAGES: tuple[type[Exception], ...] = (TransientFailure, *UNAVAILABLE, SQLAlchemyError)  # raised, never a feed's fault


class FeedPoller:
    """Polls feeds (asynchronously) and sorts their entries into new, updated, republished and seen."""

    def __init__(self, poll: PollSettings, http: HttpSettings, store: IngestStore, client: aiohttp.ClientSession,
                 rng: random.Random | None = None, policy: AddressPolicy | None = None, parse_workers: int = 0,
                 parse_timeout: float = PARSE_SECONDS) -> None:
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
        self.parser = ParsePool(parse_workers, parse_timeout) if parse_workers else None
        # feed id -> (digest, entry dates, warning) of the body last recorded: one entry per feed
        self.bodies: dict[int, tuple[bytes, tuple[datetime, ...], str]] = {}

    async def db(self, call: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        """A (synchronous) database call, off the event loop: every fetch in flight goes on meanwhile."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.db_threads, functools.partial(call, *args, **kwargs))

    def close(self) -> None:
        self.db_threads.shutdown(wait=True)
        if self.parser is not None:
            self.parser.close()

    async def poll(self, feed: FeedRow, memory: CycleMemory | None = None) -> PollResult:
        """Poll one feed (fetch, parse, look up, sort). Whatever the feed does, the answer is a result (with
        ``error`` set when it failed): one feed never stops the others. Only an outage (database, broker)
        is raised."""
        result = await self.fetch(feed)
        await self.sort([result], memory or CycleMemory())
        return result

    async def fetch(self, feed: FeedRow) -> PollResult:
        """Fetch and parse one feed; its entries are left in ``keyed`` for :meth:`sort`."""
        try:
            return await self._fetch(feed)
        except OUTAGES:
            raise
        except Exception as exc:  # a bug met by one feed's answer: logged with its trace, the feed marked failed
            return self._failed(PollResult(feed, etag=feed.etag, last_modified=feed.last_modified), exc)

    @staticmethod
    def _failed(result: PollResult, exc: Exception) -> PollResult:
        log.error("feed %s: unexpected failure", result.feed.url, exc_info=exc)
        result.error = f"{result.feed.url}: unexpected failure: {type(exc).__name__}: {exc}"
        result.new_entries, result.republished, result.keyed = [], [], []
        return result

    async def _fetch(self, feed: FeedRow) -> PollResult:
        result = PollResult(feed, etag=feed.etag, last_modified=feed.last_modified)
        headers = {}
        if feed.etag:
            headers["If-None-Match"] = feed.etag
        if feed.last_modified:
            headers["If-Modified-Since"] = feed.last_modified
        try:
            # the host's slot first: a feed waiting for its busy host then holds none of the global slots
            async with self.hosts.aslot(feed.url), self.gate:
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
        result.etag = page.headers.get("etag", "")
        result.last_modified = page.headers.get("last-modified", "")
        result.body_digest = hashlib.blake2b(page.content, digest_size=16).digest()
        last = self.bodies.get(feed.id)
        if last is not None and last[0] == result.body_digest:  # what was read last time, byte for byte
            result.unchanged, result.published, result.warning = True, last[1], last[2]
            return result
        try:
            if self.parser is not None:
                parsed, result.keyed = await self.parser.read(page.content, feed.url, page.headers)
            else:
                parsed, result.keyed = read_feed(page.content, feed.url, page.headers)
        except FeedError as exc:
            result.error = str(exc)
            return result
        result.warning = parsed.warning
        for reason in parsed.skipped:
            log.warning("feed %s: skipped %s", feed.url, reason)
        result.published = tuple(d for d in (parse_time(e.published) for e in parsed.entries) if d)
        return result

    async def sort(self, results: list[PollResult], memory: CycleMemory) -> None:
        """Sort the parsed entries of many results at once: one look-up (in a database thread) for them all."""
        keyed = [k for r in results for k in r.keyed]
        if not keyed:
            return
        looked_up = await self.db(self.look_up, keyed)
        for result in results:
            try:
                sort_entries(result.keyed, looked_up, result, memory)
            except Exception as exc:  # a bug met by one feed's entries: that feed fails, no other
                self._failed(result, exc)
            result.keyed = []

    def remember_bodies(self, results: list[PollResult]) -> None:
        """After recording: the bodies read in full, so that the same body again is not parsed again."""
        for r in results:
            if r.body_digest and not r.error:
                self.bodies[r.feed.id] = (r.body_digest, r.published, r.warning)
            elif r.error and not r.not_modified:
                self.bodies.pop(r.feed.id, None)

    def look_up(self, keyed: list[Keyed]) -> tuple[dict[str, str], dict[str, KnownEntry], dict[str, str]]:
        """What the database knows of these entries' keys and hashes (in a database thread): the key's
        owner, the owners' stored versions, and the article each content hash belongs to."""
        known = self.store.known_keys(k for _, keys, _ in keyed for k in keys)
        return known, self.store.known_entries(known.values()), self.store.known_hashes(h for _, _, h in keyed)

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
    store.record_poll(items, [poller.schedule(r, now) for r in results], redrive_after, [r.feed for r in results])
    store.remember_many([(key, owner) for r in results for keys, owner in r.republished if owner for key in keys])
    poller.remember_bodies(results)


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
        await poller.sort(batch, memory)
        outputs = [Output(ENTRIES, e.article_id, e) for r in batch for e in r.new_entries]
        # acknowledged by the broker before they are recorded as seen: a broker outage loses nothing
        landed = await asyncio.to_thread(delivery.deliver, outputs)
        before = {r.feed.id: r.feed for r in batch}
        await poller.db(record, store, poller, batch, datetime.now(UTC), delivery.wiring.settings.redrive_after_seconds)
        for r in batch:
            report(r, before[r.feed.id])
        progress.add("produced", ENTRIES, landed[ENTRIES])  # an entry too large went to the dead letters
        progress.add("consumed", "feeds", len(batch))
        progress.event("feeds_polled", len(batch))
        progress.event("feeds_failed", sum(1 for r in batch if r.error))
        progress.event("feeds_not_modified", sum(1 for r in batch if r.not_modified))

    # each finished poll queues itself: no wait over every task in flight (10,000 of them) per result
    finished: deque[asyncio.Task[PollResult]] = deque()
    arrived = asyncio.Event()

    def on_done(task: asyncio.Task[PollResult]) -> None:
        finished.append(task)
        arrived.set()

    running = {asyncio.ensure_future(poller.fetch(feed)) for feed in due}
    for task in running:
        task.add_done_callback(on_done)
    waiting_since = 0.0
    try:
        while running:
            if not finished:
                arrived.clear()
                wait = FLUSH_SECONDS - (time.monotonic() - waiting_since) if pending else FLUSH_SECONDS
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(max(0.0, wait)):
                        await arrived.wait()
            while finished:
                task = finished.popleft()
                running.discard(task)
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
        return FeedPoller(poll, http, self.store, session, policy=policy,
                          parse_workers=min(PARSE_WORKERS, os.cpu_count() or 1))

    def cycle(self, delivery: Delivery) -> float | None:
        assert self._loop is not None and self._poller is not None, "open() first"
        try:
            return self._loop.run(self._cycle(self._poller, delivery))
        finally:
            release_free_heap()  # what the cycle freed goes back to the system: memory flat over cycles

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

