"""robots.txt for article pages: may wirewatch fetch this URL?

In: a page URL. Out: allowed or not, and the host's crawl delay. Each host's robots.txt is fetched
once (with the same limits and address policy as pages) and cached for an hour. Following RFC 9309:
a robots.txt that is missing (4xx) allows everything; one that cannot be fetched (5xx, network
error) disallows the host for a few minutes, after which it is tried again. The extractor then uses
the feed summary for that article, saying why.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit
from urllib.robotparser import RobotFileParser

import httpx

from wirewatch.http import FetchError, fetch

ROBOTS_MAX_BYTES = 500_000
CACHE_SECONDS = 3600.0
UNREACHABLE_RETRY_SECONDS = 300.0


@dataclass
class _Entry:
    parser: RobotFileParser | None  # None: disallow everything (unreachable robots.txt)
    expires: float
    reason: str = ""


class RobotsRules:
    """A per-host cache of robots.txt decisions for one user-agent token."""

    def __init__(self, client: httpx.Client, agent_token: str = "wirewatch", deadline: float = 20.0) -> None:
        self.client = client
        self.agent = agent_token
        self.deadline = deadline
        self._cache: dict[str, _Entry] = {}
        self._lock = threading.Lock()
        self._loading: dict[str, threading.Lock] = {}

    def _load(self, origin: str) -> _Entry:
        now = time.monotonic()
        try:
            page = fetch(self.client, f"{origin}/robots.txt", ROBOTS_MAX_BYTES, deadline=self.deadline)
        except FetchError as exc:
            return _Entry(None, now + UNREACHABLE_RETRY_SECONDS, f"robots.txt unreachable ({exc})")
        if page.status >= 500:
            return _Entry(None, now + UNREACHABLE_RETRY_SECONDS, f"robots.txt answered HTTP {page.status}")
        parser = RobotFileParser()
        if page.status >= 400:
            parser.parse([])  # no robots.txt: everything allowed
        else:
            parser.parse(page.content.decode("utf-8", errors="replace").splitlines())
        return _Entry(parser, now + CACHE_SECONDS)

    def _entry(self, url: str) -> _Entry:
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        with self._lock:
            entry = self._cache.get(origin)
            loading = self._loading.setdefault(origin, threading.Lock())
        if entry is not None and entry.expires >= time.monotonic():
            return entry
        with loading:  # one fetch of robots.txt per host, however many pages wait for it
            with self._lock:
                entry = self._cache.get(origin)
            if entry is None or entry.expires < time.monotonic():
                entry = self._load(origin)
                with self._lock:
                    if len(self._cache) > 20_000:
                        self._cache.clear()
                        self._loading.clear()
                    self._cache[origin] = entry
        return entry

    def refusal(self, url: str) -> str:
        """'' when the URL may be fetched, else why not."""
        entry = self._entry(url)
        if entry.parser is None:
            return entry.reason
        return "" if entry.parser.can_fetch(self.agent, url) else "disallowed by robots.txt"

    def crawl_delay(self, url: str) -> float:
        entry = self._entry(url)
        delay = entry.parser.crawl_delay(self.agent) if entry.parser else None
        return float(delay or 0.0)
