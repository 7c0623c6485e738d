"""The poller against a real loopback HTTP server: conditional GET, dedup, errors that name the feed."""

from pathlib import Path

import pytest

from ingest.poller import FeedPoller
from wirewatch.config import FeedSettings, PollSettings
from wirewatch.demo.render import Item, rss_feed
from wirewatch.demo.site import LoopbackSite, Resource
from wirewatch.http import make_client
from wirewatch.storage import Store

pytestmark = pytest.mark.integration

ITEMS = [Item(url=f"https://news.test/{i}?utm_source=rss", title=f"Story {i}", body=["b"],
              published=f"2024-08-1{i}T10:00:00Z", summary="s") for i in range(1, 4)]


@pytest.fixture()
def poller(tmp_path: Path):  # type: ignore[no-untyped-def]
    settings = PollSettings(timeout_seconds=2)
    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    with make_client(settings.timeout_seconds, settings.user_agent) as client:
        yield FeedPoller(settings, store, client)
    store.close()


def test_new_entries_then_nothing_new_then_304(poller: FeedPoller) -> None:
    with LoopbackSite({"/f.xml": Resource(rss_feed("W", "https://news.test/", ITEMS), "application/rss+xml",
                                          headers={"ETag": '"v1"'})}) as site:
        feed = FeedSettings(url=site.url("/f.xml"))
        first = poller.poll(feed)
        assert [e.title for e in first.new_entries] == ["Story 1", "Story 2", "Story 3"]
        assert site.requests[0][1]["User-Agent"].startswith("wirewatch/")
        poller.record(first)
        second = poller.poll(feed)
        assert second.not_modified and second.status == 304 and second.new_entries == []
        assert site.requests[1][1]["If-None-Match"] == '"v1"'
        # the same entries under another feed's URL and with other tracking parameters are not new
        site.resources["/g.xml"] = Resource(rss_feed("Other", "https://x.test/", [
            Item(url="https://NEWS.test/2?utm_medium=x", title="Story 2 again", body=[],
                 published="2024-08-12T10:00:00Z"),
            Item(url="https://news.test/4", title="Story 4", body=[], published="2024-08-14T10:00:00Z")]),
            "application/rss+xml")
        third = poller.poll(FeedSettings(url=site.url("/g.xml")))
        assert [e.title for e in third.new_entries] == ["Story 4"]
        assert third.seen_before == 1


def test_failures_are_reported_with_the_feed_and_the_reason(poller: FeedPoller) -> None:
    with LoopbackSite({"/gone.xml": Resource(b"no", "text/plain", 410),
                       "/page.html": Resource(b"<html><body>hello</body></html>")}) as site:
        gone = poller.poll(FeedSettings(url=site.url("/gone.xml")))
        assert gone.error == f"{site.url('/gone.xml')}: HTTP 410"
        page = poller.poll(FeedSettings(url=site.url("/page.html")))
        assert "not a feed" in page.error
    unreachable = poller.poll(FeedSettings(url="http://127.0.0.1:1/feed.xml"))
    assert unreachable.error.startswith("http://127.0.0.1:1/feed.xml: ConnectError")


def test_a_body_over_the_limit_is_cut_off(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    settings = PollSettings(max_bytes=1000)
    with LoopbackSite({"/big.xml": Resource(b"<rss>" + b"x" * 5000)}) as site, \
            make_client(2, settings.user_agent) as client:
        result = FeedPoller(settings, store, client).poll(FeedSettings(url=site.url("/big.xml")))
    assert "exceeds the limit of 1000" in result.error
