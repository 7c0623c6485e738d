"""Property-based tests (hypothesis): whatever comes in, a result or a recorded failure — never an
uncaught exception. Over URL handling, HTTP responses and headers (served by a real loopback TCP
server to both HTTP clients), feed bytes, and the message decoder.

Bounded: a modest ``max_examples`` per property, so that the suite stays fast.
"""

import asyncio
import socket
import string
import threading
from datetime import UTC, datetime
from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from wirewatch.ingest.feed_parsing import FeedError, dedup_keys, parse_feed
from wirewatch.ingest.schedule import retry_after_seconds
from wirewatch.process.extractor import page_problem

from wirewatch.canonical_url import canonical_url
from wirewatch.config import KafkaSettings
from wirewatch.http import (
    AddressPolicy,
    Fetched,
    FetchError,
    FetchLimits,
    afetch,
    fetch,
    make_async_session,
    make_client,
)
from wirewatch.kafka import DEADLETTER, KafkaWiring
from wirewatch.runner import StageRunner
from wirewatch.safe_display import one_line, web_link
from wirewatch.schema import Article, BadMessage, DeadLetter, Entry, Message, TaggedArticle, decode

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
NETWORK = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                         HealthCheck.function_scoped_fixture])

# -- URLs ----------------------------------------------------------------------------------------
url_parts = st.sampled_from(["http://", "https://", "HTTP://", "javascript:", "data:", "ftp://", "//", "", "http:"])
hosts = st.one_of(st.sampled_from(["news.test", "[::1", "[::1]", "0251.0376.0251.0376", "127.0.0.1", "xn--d1a",
                                   "a..b", "exa mple.org", "[fe80::1%25eth0]", "user:pw@host", ":80", "host:99999"]),
                  st.text(alphabet=string.ascii_letters + string.digits + ".-_[]:%@", max_size=30))
tails = st.text(max_size=40)
urls = st.one_of(st.text(max_size=80), st.builds(lambda a, b, c: a + b + c, url_parts, hosts, tails))


@FAST
@given(urls)
def test_url_handling_never_raises(url: str) -> None:
    link = web_link(url)
    assert link == "" or urlsplit(link).scheme.lower() in ("http", "https")
    assert "\n" not in one_line(url)
    canonical = canonical_url(url)  # a feed's link of any shape: a key, never an exception
    assert isinstance(canonical, str)
    policy = AddressPolicy(resolve=lambda host: ["93.184.215.14"] if "a" in host else ["127.0.0.1"])
    try:
        policy.check(url)
    except FetchError as exc:
        assert str(exc)


# -- HTTP responses and headers, from a real socket ----------------------------------------------
class RawServer:
    """A loopback TCP server answering every connection with the bytes in ``answer`` (then closing)."""

    def __init__(self) -> None:
        self.answer = b""
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(2)
                try:
                    conn.recv(65536)
                    conn.sendall(self.answer)
                except OSError:
                    pass


@pytest.fixture(scope="module")
def raw_server() -> RawServer:
    return RawServer()


header_names = st.one_of(st.sampled_from(["Content-Length", "Content-Encoding", "Location", "Content-Type",
                                          "Transfer-Encoding", "Retry-After", "ETag", "Set-Cookie"]),
                         st.text(alphabet=string.printable, min_size=1, max_size=12))
header_values = st.one_of(st.sampled_from(["gzip", "chunked", "-1", "99999999999", "http://[::1/", "javascript:x",
                                           "/next", "text/html; charset=utf-8", "deflate, br", "1e3"]),
                          st.text(alphabet=string.printable, max_size=30), st.binary(max_size=20).map(
                              lambda b: b.decode("latin-1")))
responses = st.builds(
    lambda status, reason, headers, body, version: (
        f"{version} {status} {reason}\r\n".encode("latin-1", "replace")
        + b"".join(f"{k}: {v}\r\n".encode("latin-1", "replace") for k, v in headers)
        + b"\r\n" + body),
    st.one_of(st.integers(100, 599), st.sampled_from([0, 999, -1])),
    st.text(alphabet=string.ascii_letters + " ", max_size=10),
    st.lists(st.tuples(header_names, header_values), max_size=6),
    st.binary(max_size=300),
    st.sampled_from(["HTTP/1.1", "HTTP/1.0", "HTTP/9", "garbage"]),
) | st.binary(max_size=200)


@NETWORK
@given(responses)
def test_any_http_response_gives_a_page_or_a_fetch_error_on_both_clients(raw_server: RawServer, answer: bytes) -> None:
    raw_server.answer = answer
    url = f"http://127.0.0.1:{raw_server.port}/feed.xml"
    policy = AddressPolicy.from_strings(["127.0.0.0/8"])
    limits = FetchLimits(timeout=2, deadline=3, max_bytes=10_000, max_redirects=2)
    with make_client(2, "t", 2, policy) as client:
        try:
            page = fetch(client, url, 10_000, deadline=3)
            assert isinstance(page, Fetched) and isinstance(page_problem(page), str)
        except FetchError:
            pass

    async def poll() -> None:
        async with make_async_session(limits, "t", policy) as session:
            try:
                page = await afetch(session, url, limits, policy=policy)
                assert isinstance(page, Fetched)
                retry_after_seconds(page.headers.get("retry-after"), datetime.now(UTC))
            except FetchError:
                pass

    asyncio.run(poll())


# -- feed bytes ----------------------------------------------------------------------------------
feed_texts = st.builds(
    lambda title, link, guid, summary, date, extra: (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>W</title>'
        f"<item><title>{title}</title><link>{link}</link><guid>{guid}</guid>"
        f"<description>{summary}</description><pubDate>{date}</pubDate>{extra}</item></channel></rss>"
    ).encode("utf-8", "surrogatepass"),
    st.text(max_size=30), urls, st.text(max_size=20), st.text(max_size=60),
    st.sampled_from(["", "Tue, 10 Aug 2024 10:00:00 GMT", "yesterday", "9999-99-99",
                     "Mon, 31 Feb 2024 25:61:00 +9900"]),
    st.sampled_from(["", "<enclosure url='x'/>", "<![CDATA[x", "&bogus;", "<item>"]),
)
json_feeds = st.builds(lambda items: f'{{"version": "https://jsonfeed.org/version/1.1", "items": {items}}}'.encode(),
                       st.sampled_from(["[]", "[{}]", '[{"url": 5}]', '[{"id": null, "url": "javascript:x"}]',
                                        '"x"', "[[1]]", '[{"id": "a", "date_published": "never"}]']))


@FAST
@given(st.one_of(st.binary(max_size=400), feed_texts, json_feeds),
       st.sampled_from([{}, {"content-type": "application/json"}, {"content-type": "text/html; charset=bogus"}]))
def test_any_feed_bytes_give_entries_or_a_feed_error(content: bytes, headers: dict[str, str]) -> None:
    try:
        parsed = parse_feed(content, "https://wire.test/feed.xml", headers)
    except FeedError as exc:
        assert "wire.test" in str(exc)
        return
    for entry in parsed.entries:
        assert entry.url == "" or web_link(entry.url) == entry.url
        assert dedup_keys(entry) and "\n" not in entry.title


# -- the message decoder ---------------------------------------------------------------------------
def json_values() -> st.SearchStrategy[object]:
    leaves = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
    return st.recursive(leaves, lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids,
                                                                                          max_size=4), max_leaves=12)


def near_messages() -> st.SearchStrategy[bytes]:
    """Real messages with one field broken or changed, and plain JSON of any shape."""
    good = Entry(article_id="a", url="https://n.test/a", canonical_url="", feed_url="f").model_dump(mode="json")
    import json

    def mutate(key: str, value: object, kind: str) -> bytes:
        data = {"schema": kind, **good, key: value}
        return json.dumps(data).encode()

    return st.one_of(st.builds(mutate, st.sampled_from([*good, "schema", "v", "entry", "article"]), json_values(),
                               st.sampled_from(["entry", "article", "tagged", "deadletter", "x"])),
                     json_values().map(lambda v: json.dumps(v).encode()))


records = st.one_of(st.none(), st.binary(max_size=200), near_messages(), st.text(max_size=50).map(str.encode))


@FAST
@given(records, st.sampled_from([Entry, Article, TaggedArticle, DeadLetter]))
def test_any_record_decodes_to_a_message_or_a_bad_message(raw: bytes | None, kind: type[Message]) -> None:
    try:
        message = decode(raw, kind, max_bytes=1_000_000)
    except BadMessage as exc:
        assert exc.reason in ("tombstone", "empty", "too_large", "bad_json", "bad_schema")
        return
    assert isinstance(message, kind) and decode(message.to_bytes(), kind) == message


@FAST
@given(records)
def test_the_stage_runner_turns_any_record_into_outputs_or_a_dead_letter(raw: bytes | None) -> None:
    wiring = KafkaWiring(KafkaSettings(), "127.0.0.1:1")  # not contacted: process() only decides
    runner = StageRunner("extract", wiring, "entries", Entry, lambda entry: [], retries=0)
    outputs = runner.process(raw, 3, 42, b"k")
    assert outputs == [] or (outputs[0].topic == DEADLETTER and outputs[0].message.offset == 42
                             and outputs[0].message.partition == 3)
