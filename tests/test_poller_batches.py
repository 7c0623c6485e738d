"""The poller's cheaper paths keep its answers: an unchanged body is not parsed again (and still
schedules as before), feeds are parsed in worker processes bounded in time, and a feed body is never
taken for a file name.

Real parts: loopback HTTP servers, SQLite, worker processes.
"""

import asyncio
import random
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from wirewatch.ingest.feed_parsing import FeedError, parse_feed, read_feed
from wirewatch.ingest.ingest_store import IngestStore
from wirewatch.ingest.parse_pool import ParsePool
from wirewatch.ingest.poller import FeedPoller, PollResult, record

from wirewatch.config import HttpSettings, PollSettings
from wirewatch.devtools.render import Item, rss_feed
from wirewatch.devtools.site import LoopbackSite, Resource
from wirewatch.http import AddressPolicy, FetchLimits, make_async_session

LOOPBACK = HttpSettings(allow_networks=["127.0.0.0/8"])
POLL = PollSettings(timeout_seconds=5, deadline_seconds=5)


def feed(n: int, host: str = "news.test") -> bytes:
    its = [Item(url=f"https://{host}/{i}", title=f"Story {i}", body=["b"], published=f"2024-08-1{i}T10:00:00Z",
                summary=f"Summary number {i} of the {host} feed " * 4) for i in range(1, n + 1)]
    return rss_feed("W", f"https://{host}/", its)


def big_feed(items: int) -> bytes:
    its = "".join(f"<item><title>Big {i}</title><link>https://big.test/{i}</link><description>"
                  f"{'words ' * 60}</description></item>" for i in range(items))
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>Big</title>{its}</channel></rss>'.encode()


def polls(store: IngestStore, url: str, rounds: int, parse_workers: int = 0,
          between: dict[int, bytes] | None = None, site: LoopbackSite | None = None) -> list[PollResult]:
    """Poll one feed ``rounds`` times with one poller (recording each result, as a cycle does)."""

    async def go() -> list[PollResult]:
        policy = AddressPolicy.from_strings(LOOPBACK.allow_networks)
        limits = FetchLimits(POLL.timeout_seconds, POLL.deadline_seconds, POLL.max_bytes, LOOPBACK.max_redirects)
        async with make_async_session(limits, LOOPBACK.agent, policy) as session:
            poller = FeedPoller(POLL, LOOPBACK, store, session, random.Random(1), policy, parse_workers=parse_workers)
            results = []
            try:
                for i in range(rounds):
                    if between and i in between and site is not None:
                        site.resources["/f.xml"] = Resource(between[i], "application/rss+xml")
                    row = store.feed(url)
                    assert row is not None
                    result = await poller.poll(row)
                    await poller.db(record, store, poller, [result], datetime.now(UTC))
                    results.append(result)
            finally:
                poller.close()
            return results

    return asyncio.run(go())


@pytest.mark.integration
def test_the_same_body_again_is_not_parsed_and_schedules_as_before(tmp_path: Path) -> None:
    store = IngestStore.open(f"sqlite:///{tmp_path / 's.db'}")
    with LoopbackSite({"/f.xml": Resource(feed(3), "application/rss+xml")}) as site:  # no validators: 200 each time
        store.add_feed(site.url("/f.xml"))
        first, second, third = polls(store, site.url("/f.xml"), 3, between={2: feed(4)}, site=site)
        assert len(site.requests) == 3
    assert len(first.new_entries) == 3 and not first.unchanged
    assert second.unchanged and second.new_entries == [] and second.status == 200 and not second.error
    assert second.published == first.published  # the entries' dates, for the schedule, as if parsed again
    assert not third.unchanged and [e.title for e in third.new_entries] == ["Story 4"] and third.seen_before == 3
    row = store.feed(site.url("/f.xml"))
    assert row is not None and row.entries_total == 4 and row.health == "ok"


@pytest.mark.integration
def test_feeds_parsed_in_worker_processes_give_the_same_entries(tmp_path: Path) -> None:
    store = IngestStore.open(f"sqlite:///{tmp_path / 's.db'}")
    with LoopbackSite({"/f.xml": Resource(feed(3), "application/rss+xml"),
                       "/page.html": Resource(b"<html><body>hello</body></html>")}) as site:
        store.add_feed(site.url("/f.xml"))
        [pooled] = polls(store, site.url("/f.xml"), 1, parse_workers=2)
    parsed, keyed = read_feed(feed(3), site.url("/f.xml"))
    def fields(entries: list) -> list[dict]:
        return [e.model_dump(exclude={"seen_at"}) for e in entries]  # when it was parsed: not the same second

    assert fields(pooled.new_entries) == fields([e.model_copy(update={"content_hash": h}) for e, _keys, h in keyed])
    assert len(parsed.entries) == 3


def test_a_parse_over_its_time_is_given_up_and_the_others_go_on() -> None:
    slow, small = big_feed(6000), feed(2)

    async def go() -> tuple[str, list[float], float, int]:
        pool = ParsePool(2, timeout=0.5)
        try:
            await pool.read(small, "http://w.test/warm.xml", {})  # both workers started
            await asyncio.gather(*(pool.read(small, f"http://w.test/{i}.xml", {}) for i in range(2)))
            start = time.monotonic()

            async def timed(i: int) -> float:
                await pool.read(small, f"http://w.test/{i}.xml", {})
                return time.monotonic() - start

            hung = asyncio.ensure_future(pool.read(slow, "http://w.test/big.xml", {}))
            others = await asyncio.gather(*(timed(i) for i in range(6)))
            try:
                await hung
                error = ""
            except FeedError as exc:
                error = str(exc)
            given_up_after = time.monotonic() - start
            parsed, _ = await pool.read(small, "http://w.test/after.xml", {})  # a new worker took its place
            return error, others, given_up_after, len(parsed.entries)
        finally:
            pool.close()

    error, others, given_up_after, after = asyncio.run(go())
    assert error == "http://w.test/big.xml: parsing took more than 0.5s of CPU; given up"
    assert max(others) < given_up_after, "the small feeds waited for the slow one"
    assert after == 2


def test_a_parse_pool_reports_a_document_that_is_no_feed() -> None:
    async def go() -> str:
        pool = ParsePool(1, timeout=30)
        try:
            await pool.read(b"<html><body>hello</body></html>", "http://w.test/page.html", {})
        except FeedError as exc:
            return str(exc)
        finally:
            pool.close()
        return ""

    assert asyncio.run(go()).startswith("http://w.test/page.html: not a feed")


def test_a_body_naming_a_local_file_is_not_that_file(tmp_path: Path) -> None:
    local = tmp_path / "secret-feed.xml"
    local.write_bytes(feed(2, host="local.test"))
    with pytest.raises(FeedError, match="not a feed"):
        parse_feed(str(local).encode(), "http://w.test/f.xml")  # feedparser, given bytes, opened the file
