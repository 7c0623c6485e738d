"""The poller against real loopback HTTP servers: conditional GET, dedup, redirects, errors, limits."""

import asyncio
import gzip
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from wirewatch.ingest.ingest_store import IngestStore
from wirewatch.ingest.poller import FeedPoller, PollResult, record

from wirewatch.config import HttpSettings, PollSettings
from wirewatch.devtools.render import Item, rss_feed
from wirewatch.devtools.site import LoopbackSite, Resource
from wirewatch.http import FetchLimits, make_async_session

pytestmark = pytest.mark.integration

LOOPBACK = HttpSettings(allow_networks=["127.0.0.0/8"])


def items(n: int, host: str = "news.test", summary: str = "") -> list[Item]:
    return [Item(url=f"https://{host}/{i}?utm_source=rss", title=f"Story {i}", body=["b"],
                 published=f"2024-08-1{i}T10:00:00Z", summary=summary or f"Summary number {i} " * 6)
            for i in range(1, n + 1)]


def feed_resource(its: list[Item], **headers: str) -> Resource:
    return Resource(rss_feed("W", "https://news.test/", its), "application/rss+xml", headers=dict(headers))


class Harness:
    """A store and an async poller; ``poll(url)`` polls the feed and records the result like a cycle."""

    def __init__(self, tmp_path: Path, poll: PollSettings | None = None, http: HttpSettings = LOOPBACK) -> None:
        self.store = IngestStore.open(f"sqlite:///{tmp_path / 's.db'}")
        self.poll_settings = poll or PollSettings(timeout_seconds=2, deadline_seconds=3)
        self.http = http

    def poll(self, url: str) -> PollResult:
        self.store.add_feed(url)
        feed = self.store.feed(url)
        assert feed is not None

        async def go() -> PollResult:
            from wirewatch.http import AddressPolicy

            limits = FetchLimits(self.poll_settings.timeout_seconds, self.poll_settings.deadline_seconds,
                                 self.poll_settings.max_bytes, self.http.max_redirects)
            policy = AddressPolicy.from_strings(self.http.allow_networks)
            async with make_async_session(limits, self.http.agent, policy) as session:
                poller = FeedPoller(self.poll_settings, self.http, self.store, session, random.Random(1), policy)
                result = await poller.poll(feed)
                record(self.store, poller, [result], datetime.now(UTC))
                return result

        return asyncio.run(go())


@pytest.fixture()
def harness(tmp_path: Path) -> Harness:
    return Harness(tmp_path)


def test_new_entries_then_304_then_dedup_across_feeds(harness: Harness) -> None:
    with LoopbackSite({"/f.xml": feed_resource(items(3), ETag='"v1"')}) as site:
        first = harness.poll(site.url("/f.xml"))
        assert [e.title for e in first.new_entries] == ["Story 1", "Story 2", "Story 3"]
        assert site.requests[0][1]["User-Agent"].startswith("wirewatch/")
        second = harness.poll(site.url("/f.xml"))
        assert second.not_modified and second.status == 304 and second.new_entries == []
        assert site.requests[1][1]["If-None-Match"] == '"v1"'
        feed = harness.store.feed(site.url("/f.xml"))
        assert feed is not None and feed.health == "ok" and feed.entries_total == 3
        # the same entries under another feed, other tracking parameters and host case: not new
        site.resources["/g.xml"] = feed_resource([
            Item(url="https://NEWS.test/2?utm_medium=x", title="Story 2", body=[], published="2024-08-12T10:00:00Z",
                 summary="Summary number 2 " * 6),
            Item(url="https://news.test/4", title="Story 4", body=[], published="2024-08-14T10:00:00Z")])
        third = harness.poll(site.url("/g.xml"))
        assert [e.title for e in third.new_entries] == ["Story 4"]
        assert third.seen_before == 1


def test_republished_text_is_skipped_and_changed_text_is_an_update(harness: Harness) -> None:
    text = "Delegations were due in Doha for talks on halting strikes on power plants, officials said."
    with LoopbackSite() as site:
        site.resources["/a.xml"] = feed_resource([Item(url="https://a.test/x", title="Doha talks", body=[],
                                                       published="2024-08-17T10:00:00Z", summary=text)])
        site.resources["/b.xml"] = feed_resource([Item(url="https://b.test/copy-of-x", title="Doha talks", body=[],
                                                       published="2024-08-17T11:00:00Z", summary=text)])
        first = harness.poll(site.url("/a.xml"))
        copy = harness.poll(site.url("/b.xml"))
        assert len(first.new_entries) == 1 and copy.new_entries == [] and copy.seen_before == 1
        site.resources["/a.xml"] = feed_resource([Item(url="https://a.test/x", title="Doha talks postponed", body=[],
                                                       published="2024-08-17T10:00:00Z", summary=text + " Updated.")])
        updated = harness.poll(site.url("/a.xml"))
        [entry] = updated.new_entries
        assert entry.article_id == first.new_entries[0].article_id and entry.revision == 1
        again = harness.poll(site.url("/a.xml"))
        assert again.new_entries == []


def test_permanent_redirect_moves_the_feed_and_a_temporary_one_does_not(harness: Harness) -> None:
    with LoopbackSite({"/new.xml": feed_resource(items(1))}) as site:
        site.resources["/old.xml"] = Resource(b"", status=301, headers={"Location": site.url("/new.xml")})
        site.resources["/tmp.xml"] = Resource(b"", status=302, headers={"Location": site.url("/new.xml")})
        harness.poll(site.url("/old.xml"))
        assert harness.store.feed(site.url("/old.xml")) is None
        assert harness.store.feed(site.url("/new.xml")) is not None
        harness.poll(site.url("/tmp.xml"))
        assert harness.store.feed(site.url("/tmp.xml")) is not None


def test_failures_back_off_and_retry_after_is_honoured(harness: Harness) -> None:
    with LoopbackSite({"/busy.xml": Resource(b"slow down", "text/plain", 429, {"Retry-After": "1800"}),
                       "/down.xml": Resource(b"down", "text/plain", 503, {"Retry-After": "7200"}),
                       "/gone.xml": Resource(b"no", "text/plain", 410),
                       "/page.html": Resource(b"<html><body>hello</body></html>")}) as site:
        now = datetime.now(UTC)
        harness.poll(site.url("/busy.xml"))
        busy = harness.store.feed(site.url("/busy.xml"))
        assert busy is not None and busy.failures == 0 and busy.next_poll is not None
        assert timedelta(seconds=1790) < busy.next_poll - now < timedelta(seconds=1900)
        down = harness.poll(site.url("/down.xml"))
        assert down.error.endswith("HTTP 503")
        row = harness.store.feed(site.url("/down.xml"))
        assert row is not None and row.failures == 1 and row.health == "failing"
        assert row.next_poll is not None and row.next_poll - now >= timedelta(seconds=7190)
        harness.poll(site.url("/gone.xml"))
        gone = harness.store.feed(site.url("/gone.xml"))
        assert gone is not None and gone.health == "unhealthy"
        page = harness.poll(site.url("/page.html"))
        assert "not a feed" in page.error
    unreachable = harness.poll("http://127.0.0.1:1/feed.xml")
    assert unreachable.error.startswith("http://127.0.0.1:1/feed.xml: ConnectError")


@pytest.mark.parametrize(("resource", "reason"), [
    (Resource(b"<rss>" + b"x" * 50_000), "body of 50005 bytes exceeds the limit of 20000 bytes"),
    (Resource(gzip.compress(b"<rss>" + b" " * 5_000_000), "application/rss+xml", headers={"Content-Encoding": "gzip"}),
     "exceeds the limit of 20000 bytes (after decompression)"),
    (Resource(b"<rss>" + b" " * 400, trickle=0.3), "deadline"),
])
def test_big_bombs_and_slow_servers_are_cut_off(tmp_path: Path, resource: Resource, reason: str) -> None:
    harness = Harness(tmp_path, PollSettings(max_bytes=20_000, timeout_seconds=2, deadline_seconds=1.5))
    with LoopbackSite({"/f.xml": resource}) as site:
        result = harness.poll(site.url("/f.xml"))
    assert reason in result.error


def test_endless_redirects_stop(harness: Harness) -> None:
    with LoopbackSite() as site:
        site.resources["/loop.xml"] = Resource(b"", status=302, headers={"Location": site.url("/loop.xml")})
        result = harness.poll(site.url("/loop.xml"))
    assert result.error.endswith("too many redirects")


def test_private_addresses_are_refused_by_default_and_on_redirect_hops(tmp_path: Path) -> None:
    strict = Harness(tmp_path, http=HttpSettings())
    with LoopbackSite({"/f.xml": feed_resource(items(1))}) as site:
        result = strict.poll(site.url("/f.xml"))
        assert "a loopback address; refused" in result.error and site.requests == []
    only_one = Harness(tmp_path, http=HttpSettings(allow_networks=["127.0.0.1/32"]))
    with LoopbackSite({"/f.xml": feed_resource(items(1))}, host="127.0.0.2") as other, LoopbackSite() as site:
        site.resources["/jump.xml"] = Resource(b"", status=302, headers={"Location": other.url("/f.xml")})
        result = only_one.poll(site.url("/jump.xml"))
        assert "127.0.0.2 resolves to 127.0.0.2, a loopback address; refused" in result.error
        assert other.requests == []
