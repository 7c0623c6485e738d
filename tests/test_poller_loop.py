"""The poller's event loop is never blocked by the database: fetches go on while a query is slow.

A real loopback HTTP server serves one feed at once and the others only once the poller's database
look-up for the first has begun; that look-up (a real SQLite store, made deliberately slow) then waits
until the other feeds' fetches have completed. On a loop blocked by the query they never could: the
look-up gives up waiting, and the test says how many fetches completed meanwhile (none).
"""

from __future__ import annotations

import asyncio
import random
import threading
from collections.abc import Iterable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from wirewatch.ingest.ingest_store import IngestStore
from wirewatch.ingest.poller import FeedPoller

from wirewatch.config import HttpSettings, PollSettings
from wirewatch.database import Database
from wirewatch.devtools.render import Item, rss_feed
from wirewatch.http import AddressPolicy, FetchLimits, make_async_session

pytestmark = pytest.mark.integration

OTHERS = 6
LOOPBACK = HttpSettings(allow_networks=["127.0.0.0/8"], per_host_concurrency=OTHERS + 1, per_host_delay_seconds=0)
GIVE_UP = 30.0  # how long the slow look-up waits for the other fetches before it says they never came


def feed_body(name: str) -> bytes:
    its = [Item(url=f"https://{name}.test/{i}", title=f"{name} story {i}", body=["b"],
                published="2024-08-10T10:00:00Z", summary=f"Summary {i} of the {name} feed " * 4) for i in range(2)]
    return rss_feed(name, f"https://{name}.test/", its)


class SlowLookups(IngestStore):
    """A real store whose dedup look-up for the ``slow`` feed's entries waits until the other feeds'
    fetches have completed (each completed fetch is followed by its own look-up, counted here)."""

    def __init__(self, url: str) -> None:
        super().__init__(Database(url))
        self.slow_started = threading.Event()
        self.slow_running = False
        self.others_fetched = threading.Event()
        self.fetched_meanwhile = 0
        self._lock = threading.Lock()

    def known_keys(self, keys: Iterable[str]) -> dict[str, str]:
        keys = list(keys)
        if any("slow.test" in k for k in keys):
            with self._lock:
                self.slow_running = True
            self.slow_started.set()
            self.others_fetched.wait(GIVE_UP)
            with self._lock:
                self.slow_running = False
        else:
            with self._lock:
                self.fetched_meanwhile += self.slow_running
                if self.fetched_meanwhile >= OTHERS:
                    self.others_fetched.set()
        return super().known_keys(keys)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, SlowLookups]]:
    store = SlowLookups(f"sqlite:///{tmp_path / 's.db'}")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            name = self.path.strip("/").removesuffix(".xml")
            if name != "slow":  # the other feeds answer once the slow look-up is under way
                store.slow_started.wait(GIVE_UP)
            body = feed_body(name)
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", store
    finally:
        store.others_fetched.set()
        store.slow_started.set()
        httpd.shutdown()
        store.close()


def test_fetches_complete_while_a_database_call_is_slow(server: tuple[str, SlowLookups]) -> None:
    base, store = server
    urls = [f"{base}/slow.xml"] + [f"{base}/other{i}.xml" for i in range(OTHERS)]
    for url in urls:
        store.add_feed(url)
    feeds = [store.feed(url) for url in urls]
    poll = PollSettings(timeout_seconds=GIVE_UP + 10, deadline_seconds=GIVE_UP + 20)

    async def go() -> list[int]:
        policy = AddressPolicy.from_strings(LOOPBACK.allow_networks)
        limits = FetchLimits(poll.timeout_seconds, poll.deadline_seconds, poll.max_bytes, LOOPBACK.max_redirects)
        async with make_async_session(limits, LOOPBACK.agent, policy, per_host=OTHERS + 1) as session:
            poller = FeedPoller(poll, LOOPBACK, store, session, random.Random(1), policy)
            try:
                results = await asyncio.gather(*(poller.poll(f) for f in feeds if f is not None))
            finally:
                poller.close()
        return [len(r.new_entries) for r in results if not r.error]

    new = asyncio.run(go())
    assert store.fetched_meanwhile == OTHERS, "the other feeds' fetches waited for the slow database call"
    assert new == [2] * (OTHERS + 1)
