"""Probes of issue 11 on real loopback servers: a malformed redirect, DNS rebinding, slow servers, odd links.

Each test reproduces what broke: one feed or page must never stop or hold back the others, and the
address policy must hold for the very address a connection is made to.
"""

import asyncio
import random
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from wirewatch.ingest.ingest_store import IngestStore
from wirewatch.ingest.poller import FeedPoller, poll_due
from wirewatch.process.extractor import Extractor

from wirewatch.config import ExtractSettings, HttpSettings, KafkaSettings, PollSettings
from wirewatch.devtools.render import Item, html_page, rss_feed
from wirewatch.devtools.site import LoopbackSite, Resource
from wirewatch.http import AddressPolicy, FetchError, FetchLimits, afetch, fetch, make_async_session, make_client
from wirewatch.kafka import ARTICLES, ENTRIES, Delivery, KafkaWiring
from wirewatch.progress import Progress
from wirewatch.schema import Entry

pytestmark = pytest.mark.integration

LOOPBACK = HttpSettings(allow_networks=["127.0.0.0/8"])
BODY = ["The talks in Doha resumed on Tuesday with both delegations present. " * 8] * 3


def feed(host: str, n: int) -> Resource:
    its = [Item(url=f"https://{host}/{i}", title=f"{host} story {i}", body=["b"], published="2024-08-10T10:00:00Z",
                summary=f"Summary {i} of {host} " * 6) for i in range(n)]
    return Resource(rss_feed(host, f"https://{host}/", its), "application/rss+xml")


def poll_cycle(store: IngestStore, broker: str, poll: PollSettings, on_progress: threading.Event | None = None) -> list:
    wiring = KafkaWiring(KafkaSettings(topic_prefix=f"t{uuid.uuid4().hex[:8]}-"), broker)
    wiring.ensure_topics()
    delivery = Delivery(wiring, "poll")

    async def go() -> list:
        policy = AddressPolicy.from_strings(LOOPBACK.allow_networks)
        limits = FetchLimits(poll.timeout_seconds, poll.deadline_seconds, poll.max_bytes, 5)
        async with make_async_session(limits, LOOPBACK.agent, policy) as session:
            poller = FeedPoller(poll, LOOPBACK, store, session, random.Random(1), policy)
            try:
                return await poll_due(poller, store, delivery, Progress())
            finally:
                poller.close()

    try:
        return asyncio.run(go())
    finally:
        delivery.close()


def test_a_malformed_redirect_fails_its_feed_only(tmp_path: Path, broker: str) -> None:
    store = IngestStore.open(f"sqlite:///{tmp_path / 's.db'}")
    with LoopbackSite({"/good.xml": feed("good.test", 3),
                       "/bad.xml": Resource(b"", status=302, headers={"Location": "http://[::1/"})}) as site:
        store.add_feed(site.url("/bad.xml"))
        store.add_feed(site.url("/good.xml"))
        results = poll_cycle(store, broker, PollSettings(timeout_seconds=2, deadline_seconds=3))
    by_url = {r.feed.url: r for r in results}
    assert "redirected to an invalid URL" in by_url[site.url("/bad.xml")].error
    assert len(by_url[site.url("/good.xml")].new_entries) == 3
    good, bad = store.feed(site.url("/good.xml")), store.feed(site.url("/bad.xml"))
    assert good is not None and good.entries_total == 3 and good.last_error == ""
    assert bad is not None and bad.failures == 1 and "Invalid IPv6 URL" in bad.last_error


def test_a_slow_loris_feed_does_not_hold_back_the_other_feeds_of_its_cycle(tmp_path: Path, broker: str) -> None:
    store = IngestStore.open(f"sqlite:///{tmp_path / 's.db'}")
    slow = Resource(rss_feed("slow", "https://slow.test/", []) + b" " * 400, "application/rss+xml", trickle=0.2)
    with LoopbackSite({"/slow.xml": slow, "/a.xml": feed("a.test", 2), "/b.xml": feed("b.test", 2)}) as site:
        for path in ("/slow.xml", "/a.xml", "/b.xml"):
            store.add_feed(site.url(path))
        seen: dict[str, float] = {}
        started = time.monotonic()

        def watch() -> None:  # when each fast feed's entries are recorded, as another process would see it
            while len(seen) < 2 and time.monotonic() - started < 15:
                for path in ("/a.xml", "/b.xml"):
                    row = store.feed(site.url(path))
                    if row is not None and row.entries_total and path not in seen:
                        seen[path] = time.monotonic() - started
                time.sleep(0.05)

        watcher = threading.Thread(target=watch)
        watcher.start()
        results = poll_cycle(store, broker, PollSettings(timeout_seconds=5, deadline_seconds=6))
        watcher.join()
        cycle = time.monotonic() - started
    assert "deadline" in next(r for r in results if r.feed.url.endswith("/slow.xml")).error
    print(f"fast feeds recorded after {sorted(seen.values())} s; the slow one cut off at {cycle:.1f} s")
    assert len(seen) == 2 and max(seen.values()) < 3.0 < cycle


def entry(url: str, i: int = 0) -> Entry:
    return Entry(article_id=f"a{i}", url=url, canonical_url=url, feed_url="f", title="Feed title",
                 summary="The feed's own summary of the story.")


@contextmanager
def slow_site(fast: int, trickle: float, settings: ExtractSettings) -> Iterator[tuple[Extractor, list[Entry]]]:
    """An extractor over a loopback site of ``fast`` normal pages and one trickled page, and their entries."""
    page = html_page(Item(url="x", title="Doha talks", body=BODY, published="2024-08-10", author="A"))
    with LoopbackSite({f"/{i}.html": Resource(page) for i in range(fast)} |
                      {"/slow.html": Resource(page, trickle=trickle)}) as site, \
            make_client(3, LOOPBACK.agent, 5, AddressPolicy.from_strings(LOOPBACK.allow_networks)) as client:
        extractor = Extractor(settings, LOOPBACK, client)
        try:
            slow = entry(site.url("/slow.html"), 99)
            yield extractor, [entry(site.url(f"/{i}.html"), i) for i in range(fast)] + [slow]
        finally:
            extractor.close()


def test_a_slow_article_page_does_not_hold_back_its_batch() -> None:
    settings = ExtractSettings(workers=1, deadline_seconds=4, timeout_seconds=3, page_patience_seconds=1,
                               respect_robots_txt=False)
    with slow_site(6, 0.2, settings) as (extractor, entries):
        started = time.monotonic()
        first = extractor.handle_batch(entries)
        took = time.monotonic() - started
        assert [o[0].topic for o in first] == [ARTICLES] * 6 + [ENTRIES]
        assert all(o[0].message.text_source == "page" for o in first[:6])
        again = []
        while not again or again[0][0].topic == ENTRIES:  # the entry as it comes back from the queue
            again = extractor.handle_batch([entries[-1]])
        took_slow = time.monotonic() - started
    print(f"6 normal pages out after {took:.1f} s; the slow page's article after {took_slow:.1f} s")
    assert took < 2.5 and again[0][0].topic == ARTICLES and "deadline" in again[0][0].message.fetch_error


def test_the_last_slow_page_gets_a_grace_not_the_whole_patience_nor_again_when_it_comes_back() -> None:
    """A patience of 30 s: once the nine fast pages are in, the slow one gets about a second more, and its entry
    coming back alone waits about a second; neither holds the batch or the stage for the 30 s."""
    settings = ExtractSettings(workers=1, deadline_seconds=60, page_patience_seconds=30, respect_robots_txt=False)
    with slow_site(9, 0.5, settings) as (extractor, entries):
        started = time.monotonic()
        first = extractor.handle_batch(entries)
        took = time.monotonic() - started
        again = extractor.handle_batch([entries[-1]])
        took_again = time.monotonic() - started - took
    print(f"9 pages out after {took:.1f} s, the slow one's entry back; its come-back batch took {took_again:.1f} s")
    assert [o[0].topic for o in first] == [ARTICLES] * 9 + [ENTRIES]
    assert again[0][0].topic == ENTRIES  # still loading: back to the queue again
    assert took < 15 and took_again < 15  # not the 30 s patience (about 1 s each on a quiet machine)


def test_an_octal_ip_link_falls_back_to_the_feed_summary() -> None:
    with make_client(2, LOOPBACK.agent, 5, AddressPolicy()) as client:
        extractor = Extractor(ExtractSettings(workers=1, respect_robots_txt=True), LOOPBACK, client)
        try:
            for link in ("http://0251.0376.0251.0376/", "http://[::1/", "http://exa mple.org/\x00"):
                [out] = extractor.handle_batch([entry(link)])[0:1]
                article = out[0].message
                assert out[0].topic == ARTICLES and article.text_source == "feed_summary" and article.fetch_error
        finally:
            extractor.close()


class Rebinding:
    """A resolver whose answer changes between lookups: an allowed address, then loopback, and so on."""

    def __init__(self, *answers: str) -> None:
        self.answers = list(answers)
        self.calls = 0

    def __call__(self, host: str) -> list[str]:
        self.calls += 1
        return [self.answers[(self.calls - 1) % len(self.answers)]] if host == "rebind.test" else []


def twin_sites() -> tuple[LoopbackSite, LoopbackSite]:
    """An allowed site on 127.0.0.2 and a loopback-only one on 127.0.0.1, on the same port."""
    for _ in range(20):
        allowed = LoopbackSite({"/p.html": Resource(b"<p>public page</p>")}, host="127.0.0.2")
        try:
            secret = LoopbackSite({"/p.html": Resource(b"<p>loopback-only page</p>")},
                                  port=allowed.server.server_address[1])
        except OSError:
            allowed.stop()
            continue
        return allowed.start(), secret.start()
    raise RuntimeError("no common free port")


def test_dns_rebinding_cannot_reach_a_refused_address_on_either_client() -> None:
    allowed, secret = twin_sites()
    url = f"http://rebind.test:{allowed.server.server_address[1]}/p.html"
    try:
        resolver = Rebinding("127.0.0.2", "127.0.0.1")
        policy = AddressPolicy.from_strings(["127.0.0.2/32"], resolve=resolver)
        outcomes = []
        for _ in range(4):  # synchronous client (article pages, robots.txt): one client each, no kept connection
            with make_client(2, "t", 5, policy) as client:
                try:
                    outcomes.append(fetch(client, url, 10_000, deadline=3).content)
                except FetchError as exc:
                    outcomes.append(str(exc))

        async def poll_twice() -> list[bytes | str]:
            got: list[bytes | str] = []
            for _ in range(4):
                async with make_async_session(FetchLimits(2, 3), "t", policy) as session:
                    try:
                        got.append((await afetch(session, url, FetchLimits(2, 3), policy=policy)).content)
                    except FetchError as exc:
                        got.append(str(exc))
            return got

        outcomes += asyncio.run(poll_twice())
    finally:
        allowed.stop()
        secret.stop()
    assert secret.requests == []
    assert b"<p>public page</p>" in outcomes
    refused = [o for o in outcomes if isinstance(o, str)]
    assert refused and all("127.0.0.1, a loopback address; refused" in o for o in refused)
    assert all(o == b"<p>public page</p>" for o in outcomes if isinstance(o, bytes))


def test_both_clients_refuse_a_host_written_as_a_refused_address_where_they_connect() -> None:
    """aiohttp asks no resolver for a host written as an address: its sockets are checked by the policy
    too, so a request through the session alone (no check of the URL before it) is refused as well."""
    with LoopbackSite({"/p.html": Resource(b"<p>loopback-only page</p>")}) as site:
        url = site.url("/p.html")
        strict = AddressPolicy()
        with make_client(2, "t", 5, strict) as client, pytest.raises(FetchError) as sync_refusal:
            fetch(client, url, 10_000, deadline=3)

        async def bare_get() -> str:
            async with make_async_session(FetchLimits(2, 3), "t", strict) as session:
                try:
                    await afetch(session, url, FetchLimits(2, 3))  # no policy given to afetch itself
                except FetchError as exc:
                    return str(exc)
            return "fetched"

        async_refusal = asyncio.run(bare_get())
        assert site.requests == []
    assert "127.0.0.1, a loopback address; refused" in str(sync_refusal.value)
    assert "127.0.0.1, a loopback address; refused" in async_refusal
