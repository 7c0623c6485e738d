"""Benchmark: a full poll cycle over 10,000 simulated feeds, repeated, with CPU and memory.

In: nothing (it makes its own feeds). Out: per cycle, feeds polled per second, CPU seconds (the poller
process and its parse workers) and the poller's resident memory; and, just before each cycle, in the
same run, the baseline: bare GETs of the same URLs with the same HTTP client and limits (the same
deadline and size limit) and no parsing, deduplication, scheduling, database or Kafka; and the ratio
of the two rates. Run:

    .venv/bin/python benchmarks/bench_polling.py [--feeds 10000] [--cycles 5] [--hosts 200] [--hostile]
    .venv/bin/python benchmarks/bench_polling.py --trace-memory   # what the poller's Python memory grew by
    .venv/bin/python benchmarks/bench_polling.py --parse-only     # a parse worker's CPU per feed, in-process
    .venv/bin/python benchmarks/bench_polling.py --mix real       # feeds shaped like those people publish
    .venv/bin/python benchmarks/bench_polling.py --real-parse     # CPU per parse on ../shared's real feeds

The poller is the poll stage's own source (:class:`PollSource`, as the runner drives it: its HTTP
session, its parse workers where it has them). The feeds are served by a separate process on
loopback addresses 127.0.1.1… (one "host" each, so the per-host limits apply as on the web): 80 %
answer 304 to the stored ETag, 10 % answer 200 with the same entries (no validators), 4 % publish a
new entry every cycle, 3 % are slow (2 s), 3 % fail (HTTP 500). Every feed is made due before each
cycle. The feeds are plain RSS 2.0 (``--mix plain``, the default) or, with ``--mix real``, shaped like
the real feed snapshots of ../shared (written here, not copied): half of them WordPress-style RSS
(``dc:creator``, ``content:encoded``, comments, a logo), Atom 1.0, podcast RSS, RSS in ISO-8859-1,
plain RSS; 35 % Atom under ``xml:base``, RSS 1.0, RSS with an image inside each item (what feedparser
read until the fast reading took them too: poll3, poll4), 15 % JSON Feed; the shape of feed n is (n // 100) % 20,
independent of its behaviour. Entries go to the bundled broker. ``--hostile`` puts among them, per
10,000 feeds, 10 servers that trickle a byte a second (cut off at the deadline), 10 gzip bombs (200 MB
of zeros, cut off at the size limit), 10 bodies of 20 MB (over the limit) and 2 valid feeds of 5 MB and 10,000 entries
whose first entry changes every cycle (parsed in full each time); each cycle then also says how soon
after its start the normal feeds were recorded (their ``last_polled``): these must not hold them back.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gzip
import html
import inspect
import io
import json
import multiprocessing
import os
import re
import resource
import socket
import tempfile
import threading
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path

import aiohttp
import feedparser
from sqlalchemy import select, update
from wirewatch.ingest import poller as poller_module
from wirewatch.ingest.feed_parsing import read_feed
from wirewatch.ingest.ingest_store import IngestStore
from wirewatch.ingest.poller import PollSource

from wirewatch.broker import EmbeddedBroker
from wirewatch.config import HttpSettings, KafkaSettings, PollSettings
from wirewatch.http import AddressPolicy, FetchLimits, make_async_session
from wirewatch.kafka import ENTRIES, Delivery, KafkaWiring
from wirewatch.progress import Progress
from wirewatch.tables import feeds

LOOPBACK_POLICY = AddressPolicy.from_strings(["127.0.0.0/8"])  # the feeds are served on loopback addresses
HOSTILE = {980: "trickle", 981: "bomb", 982: "huge"}  # n % 1000 -> kind, with --hostile
BIG_FEEDS = (4983, 9983)  # with --hostile: the valid 5 MB feeds
OK = b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\n"
SHAPES = ["wordpress"] * 4 + ["rss", "atom", "atom", "atom", "latin1", "podcast", "atom_base", "atom_base",
                              "atom_base", "rdf", "item_image", "item_image", "item_image", "json", "json", "json"]
MEDIA = {"atom": "application/atom+xml", "atom_base": "application/atom+xml", "rdf": "application/rdf+xml",
         "json": "application/feed+json", "latin1": "text/xml; charset=ISO-8859-1"}
NS = ('xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:content="http://purl.org/rss/1.0/modules/content/" '
      'xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd" xmlns:atom="http://www.w3.org/2005/Atom" '
      'xmlns:slash="http://purl.org/rss/1.0/modules/slash/" xmlns:sy="http://purl.org/rss/1.0/modules/syndication/"')


def kind_of(n: int, hostile: bool = False) -> str:
    if hostile and (n in BIG_FEEDS or n % 1000 in HOSTILE):
        return "bigfeed" if n in BIG_FEEDS else HOSTILE[n % 1000]
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


def shape_of(n: int, mix: str) -> str:
    return "rss" if mix == "plain" else SHAPES[(n // 100) % len(SHAPES)]


def feed_body(n: int, cycle: int, kind: str, shape: str = "rss") -> bytes:
    count = cycle + 1 if kind == "new" else 1
    stories = range(max(0, count - 5), count)
    if shape != "rss":
        return shaped_body(n, stories, shape)
    items = "".join(
        f"<item><title>Feed {n} story {i}</title><link>https://site{n % 997}.test/{n}/{i}</link>"
        f"<guid>f{n}-{i}</guid><pubDate>{format_datetime(datetime(2024, 8, 17, tzinfo=UTC))}</pubDate>"
        f"<description>Story {i} of feed {n}: a short summary that is long enough to hash, about talks.</description>"
        "</item>" for i in stories)
    return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>Feed {n}</title>'
            f"<link>https://site{n}.test/</link>{items}</channel></rss>").encode()


def shaped_body(n: int, stories: range, shape: str) -> bytes:
    """A feed of the given shape (see the module doc), the same stories as the plain one."""
    site, when = f"https://site{n % 997}.test", format_datetime(datetime(2024, 8, 17, tzinfo=UTC))
    summary = "Story {i} of feed {n}: a short summary that is long enough to hash, about talks."
    body = ("<p>Delegations met on Saturday, <a href='/story/{i}'>officials said</a>.</p>"
            "<p>More of the story {i}, in a second paragraph with <em>emphasis</em>.</p>")
    if shape == "json":
        return json.dumps({"version": "https://jsonfeed.org/version/1.1", "title": f"Feed {n}", "items": [
            {"id": f"f{n}-{i}", "url": f"{site}/{n}/{i}", "title": f"Feed {n} story {i}",
             "summary": summary.format(i=i, n=n), "date_published": "2024-08-17T00:00:00Z",
             "authors": [{"name": "Desk"}]} for i in stories]}).encode()
    if shape in ("atom", "atom_base"):
        base = f' xml:base="{site}/"' if shape == "atom_base" else ""
        href = f"{n}/" if shape == "atom_base" else f"{site}/{n}/"
        entries = "".join(
            f"<entry><id>tag:site{n % 997}.test,2024:{n}-{i}</id><title type='html'>Feed {n} story {i}</title>"
            f"<link rel='alternate' type='text/html' href='{href}{i}'/><published>2024-08-17T00:00:00Z</published>"
            f"<updated>2024-08-17T01:00:00Z</updated><author><name>Jo Writer</name></author>"
            f"<summary type='html'>{html.escape(summary.format(i=i, n=n))}</summary>"
            f"<content type='html'>{html.escape(body.format(i=i))}</content><category term='news'/></entry>"
            for i in stories)
        return (f'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"{base}>'
                f"<title>Feed {n}</title><id>{site}/{n}/</id><updated>2024-08-17T01:00:00Z</updated>"
                f"<link rel='self' href='{site}/{n}/feed.atom'/><link href='{site}/{n}/'/>{entries}</feed>").encode()
    if shape == "rdf":
        items = "".join(
            f'<item rdf:about="{site}/{n}/{i}"><title>Feed {n} story {i}</title><link>{site}/{n}/{i}</link>'
            f"<description>{summary.format(i=i, n=n)}</description><dc:date>2024-08-17T00:00:00Z</dc:date></item>"
            for i in stories)
        return ('<?xml version="1.0"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
                'xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">'
                f'<channel rdf:about="{site}/{n}/"><title>Feed {n}</title><link>{site}/{n}/</link>'
                f"<description>d</description></channel>{items}</rdf:RDF>").encode()
    extra = {"wordpress": "<dc:creator><![CDATA[Jo Writer]]></dc:creator><category><![CDATA[News]]></category>"
                          "<content:encoded><![CDATA[{body}]]></content:encoded><slash:comments>2</slash:comments>"
                          "<comments>{link}#comments</comments>",
             "podcast": "<itunes:author>Host</itunes:author><itunes:duration>30:00</itunes:duration>"
                        "<enclosure url='{link}.mp3' length='1000' type='audio/mpeg'/>"
                        "<itunes:explicit>no</itunes:explicit>",
             "item_image": "<image><url>{link}.jpg</url><title>Picture</title></image><author>desk@site.test</author>",
             "latin1": "<author>Rédaction</author>"}[shape]
    items = "".join(
        f"<item><title>Feed {n} story {i}, été</title><link>{site}/{n}/{i}</link>"
        f"<guid isPermaLink='false'>f{n}-{i}</guid><pubDate>{when}</pubDate>"
        f"<description><![CDATA[<p>{summary.format(i=i, n=n)}</p>]]></description>"
        + extra.format(body=body.format(i=i), link=f"{site}/{n}/{i}") + "</item>" for i in stories)
    encoding = "ISO-8859-1" if shape == "latin1" else "UTF-8"
    return (f'<?xml version="1.0" encoding="{encoding}"?><rss version="2.0" {NS}><channel><title>Feed {n}</title>'
            f"<link>{site}/{n}/</link><atom:link rel='self' href='{site}/{n}/feed'/><language>en</language>"
            f"<sy:updatePeriod>hourly</sy:updatePeriod><image><url>{site}/logo.png</url><title>Feed {n}</title>"
            f"<link>{site}/</link></image>{items}</channel></rss>").encode(encoding.lower())


def big_feed(n: int, cycle: int) -> bytes:
    """A valid feed of about 5 MB and 10,000 entries, the first of which is new every cycle."""
    items = "".join(f"<item><title>Big feed {n} story {i}</title><link>https://big{n}.test/{i}</link>"
                    f"<guid>big{n}-{i}</guid><description>{'words and more words ' * 20}</description></item>"
                    for i in [-cycle - 1, *range(9999)])
    return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>Big {n}</title>'
            f"<link>https://big{n}.test/</link>{items}</channel></rss>").encode()


def hostile_answer(n: int, kind: str, cycle: int, bomb: bytes) -> bytes:
    if kind == "bigfeed":
        body = big_feed(n, cycle)
        return OK + f"Content-Length: {len(body)}\r\n\r\n".encode() + body
    if kind == "bomb":
        return OK + f"Content-Encoding: gzip\r\nContent-Length: {len(bomb)}\r\n\r\n".encode() + bomb
    body = b"<rss>" + b" " * 20_000_000  # huge: declared as it is, over the 10 MB limit
    return OK + f"Content-Length: {len(body)}\r\n\r\n".encode() + body


def serve(hosts: list[str], port: int, ready: multiprocessing.synchronize.Event,  # type: ignore[name-defined]
          hostile: bool, mix: str = "plain") -> None:
    counters: dict[int, int] = {}
    bomb = gzip.compress(b"\0" * 200_000_000, compresslevel=9) if hostile else b""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                path = head.split(b" ", 2)[1].decode()
                n = int(path.strip("/").split(".")[0])
                kind = kind_of(n, hostile)
                if kind == "slow":
                    await asyncio.sleep(2.0)
                if kind == "trickle":  # a byte a second, for ever
                    writer.write(OK + b"\r\n<rss>")
                    while True:
                        await writer.drain()
                        await asyncio.sleep(1.0)
                        writer.write(b" ")
                bare = b"x-baseline: 1" in head.lower()  # the baseline's GETs leave the feeds as they are
                if kind in ("bomb", "huge", "bigfeed"):
                    counters[n] = counters.get(n, 0) + (not bare)
                    response = hostile_answer(n, kind, counters[n], bomb)
                elif kind == "fail":
                    response = b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\n\r\nfail"
                elif kind == "etag" and b'if-none-match: "v1"' in head.lower():
                    response = b'HTTP/1.1 304 Not Modified\r\nETag: "v1"\r\n\r\n'
                else:
                    cycle = counters.get(n, 0)
                    counters[n] = cycle + (not bare)
                    shape = shape_of(n, mix)
                    body = feed_body(n, cycle, kind, shape)
                    etag = b'ETag: "v1"\r\n' if kind == "etag" else b""
                    ok = OK if shape not in MEDIA else OK.replace(b"application/rss+xml", MEDIA[shape].encode())
                    response = ok + etag + f"Content-Length: {len(body)}\r\n\r\n".encode() + body
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


def thread_cpu_seconds() -> dict[str, float]:
    """CPU seconds of this process's threads so far, by role (the Python thread name without its number:
    the event loop's "bench", "poll-db", "poll-parse", asyncio's default executor...; gone threads not)."""
    names = {t.native_id: t.name for t in threading.enumerate()}
    tick, by_role = os.sysconf("SC_CLK_TCK"), {}
    for entry in os.scandir("/proc/self/task"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            with open(f"/proc/self/task/{entry.name}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            role = re.sub(r"[_-]?\d+$", "", names.get(int(entry.name), "other (not Python's)"))
            by_role[role] = by_role.get(role, 0.0) + (int(fields[11]) + int(fields[12])) / tick
    return by_role


def children_cpu_seconds(exclude: set[int]) -> float:
    """CPU seconds of this process's living children (the poller's parse workers), but ``exclude``."""
    me, total = os.getpid(), 0.0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) in exclude:
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            with open(f"/proc/{entry.name}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            if int(fields[1]) == me:  # its parent
                total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime
    return total


async def baseline(urls: list[str], limits: FetchLimits, per_host: int, concurrency: int) -> tuple[float, float]:
    """Bare GETs of every URL with the poller's HTTP client and limits (the same deadline, the same size
    limit), and no processing at all: (wall seconds, CPU seconds). The server answers them as it would
    the poller, but they do not count as a feed's poll (a feed publishing every poll publishes nothing)."""
    async with make_async_session(limits, "bench", LOOPBACK_POLICY, concurrency, per_host) as session:

        async def get(url: str) -> None:
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with session.get(url, headers={"If-None-Match": '"v1"', "X-Baseline": "1"}) as response:
                    size = 0
                    async with asyncio.timeout(limits.deadline):  # from the answer on: not while queued for a host
                        async for chunk in response.content.iter_chunked(65536):
                            size += len(chunk)
                            if size > limits.max_bytes:
                                return

        cpu0, start = cpu_seconds(), time.perf_counter()
        await asyncio.gather(*(get(u) for u in urls))
        return time.perf_counter() - start, cpu_seconds() - cpu0


def recorded_within(store: IngestStore, urls: list[str], start: datetime, hostile: bool) -> str:
    """How soon after the cycle's start the normal feeds (those answering at once) were recorded."""
    normal = {u for n, u in enumerate(urls) if kind_of(n, hostile) in ("etag", "same", "new", "fail")}
    with store.engine.connect() as conn:
        rows = conn.execute(select(feeds.c.url, feeds.c.last_polled))
        times = sorted((when.replace(tzinfo=UTC) - start).total_seconds() for url, when in rows if url in normal)
    return (f"normal feeds recorded within {times[len(times) // 2]:.1f} s (half), "
            f"{times[int(len(times) * 0.95)]:.1f} s (95 %), {times[-1]:.1f} s (all) of the cycle's start")


def grown_since(previous: tracemalloc.Snapshot | None, cycle: int) -> tracemalloc.Snapshot:
    """With ``--trace-memory``: the Python allocations that grew since ``previous`` (taken at the end
    of cycle 2), by line, the largest first; the new snapshot is kept only at the end of cycle 2."""
    snapshot = tracemalloc.take_snapshot().filter_traces([tracemalloc.Filter(False, tracemalloc.__file__)])
    if previous is None:
        return snapshot
    stats = snapshot.compare_to(previous, "lineno")
    grown = sum(s.size_diff for s in stats)
    print(f"  traced Python memory, end of cycle 2 -> end of cycle {cycle}: {grown / 1e6:+.2f} MB; largest growth:")
    for stat in stats[:8]:
        frame = stat.traceback[0]
        print(f"    {stat.size_diff / 1e3:+9.1f} kB {stat.count_diff:+7d} blocks  {frame.filename}:{frame.lineno}")
    return previous


def fast_reader() -> Callable[[bytes, dict[str, str]], object]:
    """The checkout's fast reading: fast_feed's, or main's plain-RSS one before it (measured as "before")."""
    try:
        from wirewatch.ingest.fast_feed import read_fast
        return read_fast
    except ImportError:
        from wirewatch.ingest.rss_fast import read_plain_rss  # type: ignore[attr-defined]
        return read_plain_rss  # type: ignore[no-any-return]


def parse_only(count: int, mix: str) -> None:
    """CPU seconds per feed of :func:`read_feed` (what a parse worker runs: the fast path where it takes
    the feed, else feedparser) and of ``feedparser.parse`` alone, on the first cycle's bodies."""
    read_fast = fast_reader()
    served = [(feed_body(n, 0, kind_of(n), shape_of(n, mix)), MEDIA.get(shape_of(n, mix), "application/rss+xml"))
              for n in range(count) if kind_of(n) in ("etag", "same", "new")]
    plain = sum(read_fast(b, {"Content-Type": ctype}) is not None for b, ctype in served)
    cpu0 = cpu_seconds()
    for b, ctype in served:
        read_feed(b, "http://127.0.1.1/feed.xml", {"Content-Type": ctype})
    ours = cpu_seconds() - cpu0
    cpu0 = cpu_seconds()
    for b, ctype in served:
        feedparser.parse(io.BytesIO(b), response_headers={"content-type": ctype},
                         sanitize_html=True, resolve_relative_uris=True)
    alone = cpu_seconds() - cpu0
    print(f"{len(served)} bodies (--mix {mix}), {plain} taken by the fast path: read_feed "
          f"{1e6 * ours / len(served):.0f} us of CPU per feed; feedparser.parse alone "
          f"{1e6 * alone / len(served):.0f} us ({alone / ours:.1f}x)")


def real_parse(rounds: int = 5) -> None:
    """CPU per parse of the real feed snapshots of ../shared (RSS, Atom, RDF; JSON Feed is not
    feedparser's): how many the fast reading takes, and on those, read_feed beside read_feed with the
    fast reading off (feedparser), each ``rounds`` times over; then over all of them, read_feed as
    the checkout has it."""
    shared = Path(os.environ.get("WIREWATCH_SHARED", Path(__file__).resolve().parents[2] / "shared"))
    paths = sorted(p for p in (shared / "data" / "feeds").rglob("*")
                   if p.is_file() and p.suffix not in (".txt", ".json") and not p.name.startswith("LICENSE"))
    if not paths:
        raise SystemExit(f"no feed snapshots under {shared}/data/feeds (set WIREWATCH_SHARED)")
    headers = {"Content-Type": "application/rss+xml"}
    bodies = [p.read_bytes() for p in paths]
    read_fast = fast_reader()
    taken = [b for b in bodies if read_fast(b, headers) is not None]
    print(f"{len(bodies)} real RSS/Atom/RDF snapshots (of {len(bodies) + 11} with JSON Feed): {len(taken)} taken "
          "by the fast path")

    def per_parse(docs: list[bytes], **kwargs: object) -> float:
        cpu0 = cpu_seconds()
        for _ in range(rounds):
            for b in docs:
                with contextlib.suppress(ValueError):  # FeedError: an unreadable snapshot counts its cost
                    read_feed(b, "https://feeds.test/feed", headers, **kwargs)  # type: ignore[call-arg]
        return 1e6 * (cpu_seconds() - cpu0) / (rounds * len(docs))

    if taken and "fast" in inspect.signature(read_feed).parameters:
        fast, slow = per_parse(taken), per_parse(taken, fast=False)
        print(f"  on those {len(taken)}: fast path {fast:.0f} us of CPU per parse, feedparser {slow:.0f} us "
              f"({slow / fast:.1f}x)")
        from wirewatch.ingest.feed_text import MarkupMemo
        memo = MarkupMemo()
        for b in taken:  # the memo of a parse worker that has read these feeds once
            read_feed(b, "https://feeds.test/feed", headers, memo=memo)
        warm = per_parse(taken, memo=memo)
        print(f"  the same {len(taken)} read again (their entries' HTML in the worker's memo, as when a feed "
              f"repeats its entries): {warm:.0f} us per parse ({slow / warm:.1f}x feedparser)")
        ratios = sorted((per_parse([b], fast=False) / per_parse([b]), per_parse([b], fast=False) /
                         per_parse([b], memo=memo)) for b in taken)
        print(f"  per feed, feedparser's CPU over the fast path's: median {ratios[len(ratios) // 2][0]:.1f}x "
              f"(least {ratios[0][0]:.1f}x); with the memo warm: median "
              f"{sorted(r[1] for r in ratios)[len(ratios) // 2]:.1f}x")
        every, every_slow = per_parse(bodies), per_parse(bodies, fast=False)
        print(f"  on all {len(bodies)}: read_feed {every:.0f} us per parse, feedparser for all {every_slow:.0f} us "
              f"({every_slow / every:.1f}x)")
    else:
        print(f"  on all {len(bodies)}: read_feed {per_parse(bodies):.0f} us per parse")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--feeds", type=int, default=10_000)
    parser.add_argument("--cycles", type=int, default=5)
    parser.add_argument("--hosts", type=int, default=200)
    parser.add_argument("--hostile", action="store_true",
                        help="put trickling servers, gzip bombs, huge bodies and huge valid feeds among the feeds")
    parser.add_argument("--trace-memory", action="store_true",
                        help="trace the poller's Python allocations (slower): print what grew from the end of "
                             "cycle 2 to the end of the last cycle, by line")
    parser.add_argument("--mix", choices=("plain", "real"), default="plain",
                        help="plain RSS 2.0 feeds, or a mix shaped like real ones (Atom, dc:creator, "
                             "content:encoded, ISO-8859-1, RSS 1.0, JSON Feed...)")
    parser.add_argument("--threads", action="store_true",
                        help="after each cycle, the poller process's CPU by thread (event loop, database, "
                             "parse-pool pipes, delivery...)")
    parser.add_argument("--real-parse", action="store_true",
                        help="no polling: CPU per parse of ../shared's real feed snapshots, the fast reading "
                             "beside feedparser, in this process")
    parser.add_argument("--parse-only", action="store_true",
                        help="no polling: the CPU per feed of reading the cycle-1 bodies in this process, as the "
                             "parse workers do (read_feed), beside feedparser alone on the same bodies")
    args = parser.parse_args()
    if args.parse_only:
        parse_only(args.feeds, args.mix)
        return
    if args.real_parse:
        real_parse()
        return
    if args.trace_memory:
        tracemalloc.start(8)
    print(f"poller code: {poller_module.__file__}; feeds: --mix {args.mix}", flush=True)  # which checkout

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    hosts = [f"127.0.1.{i}" for i in range(1, min(args.hosts, 254) + 1)]
    ready = multiprocessing.get_context("spawn").Event()
    server = multiprocessing.get_context("spawn").Process(target=serve, daemon=True,
                                                          args=(hosts, port, ready, args.hostile, args.mix))
    server.start()
    ready.wait(60)
    # host and behaviour independent: the slow and failing feeds spread over all hosts, as on the web
    urls = [f"http://{hosts[(n + n // 100) % len(hosts)]}:{port}/{n}.xml" for n in range(args.feeds)]

    poll = PollSettings(timeout_seconds=10, deadline_seconds=10, concurrency=200)
    http = HttpSettings(allow_networks=["127.0.0.0/8"])
    kafka = KafkaSettings()
    limits = FetchLimits(poll.timeout_seconds, poll.deadline_seconds, poll.max_bytes, http.max_redirects)

    with tempfile.TemporaryDirectory() as tmp, EmbeddedBroker() as broker:
        store = IngestStore.open(f"sqlite:///{tmp}/bench.db")
        for url in urls:
            store.add_feed(url)
        wiring = KafkaWiring(kafka, broker.bootstrap)
        wiring.ensure_topics()
        delivery = Delivery(wiring, "poll")
        progress = Progress()
        source = PollSource(poll, http, kafka, store, progress)  # the poll stage's source, as the runner drives it
        source.open()
        broker_proc = getattr(broker, "_proc", None)
        others = {server.pid or 0, broker_proc.pid if broker_proc is not None else 0}
        traced: tracemalloc.Snapshot | None = None
        for cycle in range(1, args.cycles + 1):
            base, base_cpu = asyncio.run(baseline(urls, limits, http.per_host_concurrency, poll.concurrency))
            start = datetime.now(UTC)
            with store.engine.begin() as conn:  # every feed due now, whatever its schedule
                conn.execute(update(feeds).values(next_poll=start))
            before = progress.snapshot()
            threads0 = thread_cpu_seconds()
            cpu0, kids0, t0 = cpu_seconds(), children_cpu_seconds(others), time.perf_counter()
            source.cycle(delivery)
            wall, cpu = time.perf_counter() - t0, cpu_seconds() - cpu0
            kids = children_cpu_seconds(others) - kids0
            after = progress.snapshot()
            events = {k: v - before["events"].get(k, 0) for k, v in after["events"].items()}
            new = after["produced"].get(ENTRIES, 0) - before["produced"].get(ENTRIES, 0)
            polled = events.get("feeds_polled", 0)
            print(f"cycle {cycle}: baseline (bare GETs, just before) {len(urls) / base:5.0f} feeds/s ({base:4.1f} s, "
                  f"CPU {base_cpu:4.1f} s); poller {polled / wall:5.0f} feeds/s ({wall:5.1f} s) = "
                  f"{base / wall * polled / len(urls):.2f}x the baseline; CPU {cpu:5.1f} s + parse workers "
                  f"{kids:4.1f} s; RSS {rss_mb():6.1f} MB; {events.get('feeds_not_modified', 0)} not modified, "
                  f"{new} new entries, {events.get('feeds_failed', 0)} failed", flush=True)
            if args.threads:
                spent = {k: v - threads0.get(k, 0.0) for k, v in thread_cpu_seconds().items()}
                print("  the poller process's CPU by thread: " + ", ".join(
                    f"{k} {v:.1f} s" for k, v in sorted(spent.items(), key=lambda kv: -kv[1]) if v >= 0.05))
            if args.hostile:
                print(f"  {recorded_within(store, urls, start, args.hostile)}", flush=True)
            if args.trace_memory and cycle >= 2:
                traced = grown_since(traced, cycle)
        source.close()
        delivery.close()
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6  # ru_maxrss is in KiB
        print(f"peak RSS of the poller process: {peak:.0f} MB")
        store.close()
    server.terminate()


if __name__ == "__main__":
    threading.current_thread().name = "bench"
    main()
