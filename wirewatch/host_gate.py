"""Politeness per host: at most ``per_host`` requests at once to one host, their starts spaced by a delay.

In: the URL about to be fetched (and, optionally, a longer delay the host asked for, e.g. robots.txt's
Crawl-delay). Out: a slot to fetch in — :meth:`HostGate.slot` for worker threads (the extractor),
:meth:`HostGate.aslot` for coroutines (the poller). Both keep one schedule: each start is booked at
the later of now and the host's previous start plus the delay, so concurrent requests to one host
are spaced too, not only consecutive ones.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from urllib.parse import urlsplit


def host_of(url: str) -> str:
    """The host a URL's request goes to, in lower case ('' when there is none or the URL is malformed)."""
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


class HostGate:
    """At most ``per_host`` requests at once per host and ``delay`` seconds between their starts.

    One gate serves either threads or one event loop's coroutines (the two kinds of slot are counted
    apart). ``clock`` is a monotonic clock in seconds (the tests give their own).
    """

    def __init__(self, per_host: int, delay: float, clock: Callable[[], float] = time.monotonic) -> None:
        if per_host < 1:
            raise ValueError(f"per_host must be at least 1, got {per_host}")
        self.per_host = per_host
        self.delay = delay
        self.clock = clock
        self._lock = threading.Lock()
        self._next: dict[str, float] = {}  # host -> earliest start of its next request
        self._threads: dict[str, threading.BoundedSemaphore] = {}
        self._tasks: dict[str, asyncio.Semaphore] = {}

    def book(self, host: str, delay: float = 0.0) -> float:
        """Book the host's next start; the seconds to wait before it (0 when it may start now)."""
        gap = max(self.delay, delay)
        if not gap:
            return 0.0
        with self._lock:
            now = self.clock()
            start = max(now, self._next.get(host, now))
            self._next[host] = start + gap
            if len(self._next) > 100_000:  # forget hosts whose spacing has long run out
                self._next = {h: t for h, t in self._next.items() if t > now}
        return start - now

    @contextmanager
    def slot(self, url: str, delay: float = 0.0) -> Iterator[None]:
        """A slot for one request from a thread (blocks until the host has room and its turn)."""
        host = host_of(url)
        with self._lock:
            sem = self._threads.setdefault(host, threading.BoundedSemaphore(self.per_host))
        with sem:
            wait = self.book(host, delay)
            if wait > 0:
                time.sleep(wait)
            yield

    @asynccontextmanager
    async def aslot(self, url: str, delay: float = 0.0) -> AsyncIterator[None]:
        """A slot for one request from a coroutine (waits without blocking the event loop)."""
        host = host_of(url)
        sem = self._tasks.setdefault(host, asyncio.Semaphore(self.per_host))
        async with sem:
            wait = self.book(host, delay)
            if wait > 0:
                await asyncio.sleep(wait)
            yield
