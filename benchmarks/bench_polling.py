"""Benchmark: a full poll cycle over 10,000 simulated feeds, repeated, with CPU and memory.

In: nothing (it makes its own feeds). Out: per cycle, feeds polled per second, CPU seconds and the
poller's resident memory; and, in the same run, the baseline: bare GETs of the same URLs with the
same HTTP client and limits and no parsing, deduplication, scheduling, database or Kafka. Run:

    .venv/bin/python benchmarks/bench_polling.py [--feeds 10000] [--cycles 5] [--hosts 200]

The feeds are served by a separate process on loopback addresses 127.0.1.1… (one "host" each, so
the per-host limits apply as on the web): 80 % answer 304 to the stored ETag, 10 % answer 200 with
the same entries (no validators), 4 % publish a new entry every cycle, 3 % are slow (2 s), 3 % fail
(HTTP 500). Every feed is made due before each cycle. Entries go to the bundled broker.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import os
import resource
import socket
import tempfile
import threading
import time
from datetime import UTC, datetime
from email.utils import format_datetime

import aiohttp
from sqlalchemy import update
from wirewatch.ingest.ingest_store import IngestStore
from wirewatch.ingest.poller import FeedPoller, poll_due

from wirewatch.broker import EmbeddedBroker
from wirewatch.config import HttpSettings, KafkaSettings, PollSettings
from wirewatch.http import AddressPolicy, FetchLimits, make_async_session
from wirewatch.kafka import Delivery, KafkaWiring
from wirewatch.progress import Progress
from wirewatch.tables import feeds

LOOPBACK_POLICY = AddressPolicy.from_strings(["127.0.0.0/8"])  # the feeds are served on loopback addresses


def kind_of(n: int) -> str:
    bucket = n % 100
    if bucket < 80:
        return "etag"
    if bucket < 90:
        return "same"
    if bucket < 94:
        return "new"
    if bucket < 97:
        return "slow"
    return "fail"


def feed_body(n: int, cycle: int, kind: str) -> bytes:
    count = cycle + 1 if kind == "new" else 1
    items = "".join(
        f"<item><title>Feed {n} story {i}</title><link>https://site{n % 997}.test/{n}/{i}</link>"
        f"<guid>f{n}-{i}</guid><pubDate>{format_datetime(datetime(2024, 8, 17, tzinfo=UTC))}</pubDate>"
        f"<description>Story {i} of feed {n}: a short summary that is long enough to hash, about talks.</description>"
        "</item>" for i in range(max(0, count - 5), count))
    return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>Feed {n}</title>'
            f"<link>https://site{n}.test/</link>{items}</channel></rss>").encode()


def serve(hosts: list[str], port: int, ready: multiprocessing.synchronize.Event) -> None:  # type: ignore[name-defined]
    counters: dict[int, int] = {}

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                path = head.split(b" ", 2)[1].decode()
                n = int(path.strip("/").split(".")[0])
                kind = kind_of(n)
                if kind == "slow":
                    await asyncio.sleep(2.0)
                if kind == "fail":
                    response = b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\n\r\nfail"
                elif kind == "etag" and b'if-none-match: "v1"' in head.lower():
                    response = b'HTTP/1.1 304 Not Modified\r\nETag: "v1"\r\n\r\n'
                else:
                    cycle = counters.get(n, 0)
                    counters[n] = cycle + 1
                    body = feed_body(n, cycle, kind)
                    etag = b'ETag: "v1"\r\n' if kind == "etag" else b""
                    response = (b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\n" + etag
                                + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
                writer.write(response)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ValueError, IndexError):
            pass
        finally:
            writer.close()

    async def main() -> None:
        servers = [await asyncio.start_server(handle, host, port, backlog=1024) for host in hosts]
        ready.set()
        await asyncio.gather(*(s.serve_forever() for s in servers))

    asyncio.run(main())


def rss_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def baseline(urls: list[str], limits: FetchLimits, per_host: int, concurrency: int) -> float:
    """Bare GETs of every URL with the poller's HTTP client and limits, and no processing at all."""
    async with make_async_session(limits, "bench", LOOPBACK_POLICY, concurrency, per_host) as session:

        async def get(url: str) -> None:
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with session.get(url, headers={"If-None-Match": '"v1"'}) as response:
                    await response.read()

        start = time.perf_counter()
        await asyncio.gather(*(get(u) for u in urls))
        return time.perf_counter() - start



def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--feeds", type=int, default=10_000)
    parser.add_argument("--cycles", type=int, default=5)
    parser.add_argument("--hosts", type=int, default=200)
    args = parser.parse_args()

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    hosts = [f"127.0.1.{i}" for i in range(1, min(args.hosts, 254) + 1)]
    ready = multiprocessing.get_context("spawn").Event()
    server = multiprocessing.get_context("spawn").Process(target=serve, args=(hosts, port, ready), daemon=True)
    server.start()
    ready.wait(30)
    # host and behaviour independent: the slow and failing feeds spread over all hosts, as on the web
    urls = [f"http://{hosts[(n + n // 100) % len(hosts)]}:{port}/{n}.xml" for n in range(args.feeds)]

    poll = PollSettings(timeout_seconds=10, deadline_seconds=10, concurrency=200)
    http = HttpSettings(allow_networks=["127.0.0.0/8"])
    limits = FetchLimits(poll.timeout_seconds, poll.deadline_seconds, poll.max_bytes, http.max_redirects)
    base = asyncio.run(baseline(urls, limits, http.per_host_concurrency, poll.concurrency))
    print(f"baseline: bare GETs of {len(urls)} feeds (same client, no processing): "
          f"{len(urls) / base:6.0f} feeds/s ({base:.1f} s)")

    with tempfile.TemporaryDirectory() as tmp, EmbeddedBroker() as broker:
        store = IngestStore.open(f"sqlite:///{tmp}/bench.db")
        for url in urls:
            store.add_feed(url)
        wiring = KafkaWiring(KafkaSettings(), broker.bootstrap)
        wiring.ensure_topics()
        delivery = Delivery(wiring, "poll")
        progress = Progress()

        async def run_cycles() -> None:
            async with make_async_session(limits, http.agent, LOOPBACK_POLICY, poll.concurrency,
                                          http.per_host_concurrency) as session:
                poller = FeedPoller(poll, http, store, session)
                for cycle in range(1, args.cycles + 1):
                    with store.engine.begin() as conn:  # every feed due now, whatever its schedule
                        conn.execute(update(feeds).values(next_poll=datetime.now(UTC)))
                    cpu0, t0 = cpu_seconds(), time.perf_counter()
                    results = await poll_due(poller, store, delivery, progress)
                    wall, cpu = time.perf_counter() - t0, cpu_seconds() - cpu0
                    new = sum(len(r.new_entries) for r in results)
                    not_modified = sum(r.not_modified for r in results)
                    failed = sum(bool(r.error) for r in results)
                    print(f"cycle {cycle}: {len(results)} feeds in {wall:5.1f} s = {len(results) / wall:6.0f} feeds/s;"
                          f" CPU {cpu:5.1f} s ({cpu / wall:.0%} of one core); RSS {rss_mb():6.1f} MB;"
                          f" {not_modified} not modified, {new} new entries, {failed} failed")

        asyncio.run(run_cycles())
        delivery.close()
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6  # ru_maxrss is in KiB
        print(f"peak RSS of the poller process: {peak:.0f} MB")
        store.close()
    server.terminate()


if __name__ == "__main__":
    threading.current_thread().name = "bench"
    main()
