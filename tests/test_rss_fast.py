"""The fast reading of plain RSS 2.0 (``ingest/rss_fast.py``) against feedparser: on every feed and
parser case of ../shared (read with each case's own headers, and as application/rss+xml) and on feeds
written here, whatever the fast path accepts must give the entries feedparser gives — ids, links,
titles, summaries, authors, dates, warnings, the feed's title and what was skipped."""

from __future__ import annotations

from pathlib import Path

import pytest
from wirewatch.ingest import feed_parsing
from wirewatch.ingest.fast_feed import read_fast
from wirewatch.ingest.feed_parsing import FeedError, ParsedFeed, parse_feed

from tests.test_feed_cases import headers_of

RSS = {"Content-Type": "application/rss+xml"}


def by_feedparser(content: bytes, url: str, headers: dict[str, str], monkeypatch: pytest.MonkeyPatch
                  ) -> ParsedFeed | str:
    with monkeypatch.context() as patched:
        patched.setattr(feed_parsing, "read_fast", lambda content, headers: None)
        try:
            return parse_feed(content, url, headers)
        except FeedError as exc:
            return str(exc)


def comparable(parsed: ParsedFeed) -> tuple[object, ...]:
    entries = [e.model_dump(exclude={"seen_at"}) for e in parsed.entries]
    return parsed.title, parsed.warning, parsed.skipped, entries


def same_as_feedparser(content: bytes, url: str, headers: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> bool:
    """Whether the fast path took the document; if it did, it must read what feedparser reads."""
    if read_fast(content, headers) is None:
        return False
    fast = parse_feed(content, url, headers)
    slow = by_feedparser(content, url, headers, monkeypatch)
    assert not isinstance(slow, str), f"{url}: feedparser finds no feed ({slow}), the fast path does"
    assert comparable(fast) == comparable(slow), url
    return True


def shared_documents(shared: Path) -> list[tuple[Path, dict[str, str]]]:
    feeds = sorted(p for p in (shared / "data" / "feeds").rglob("*") if p.is_file() and p.suffix != ".txt")
    cases = sorted((shared / "data" / "feed-cases" / "tests").rglob("*.xml"))
    return [(p, RSS) for p in feeds] + [(p, {**RSS, **headers_of(p.read_bytes())}) for p in cases] + \
        [(p, RSS) for p in cases]


def test_every_shared_feed_the_fast_path_takes_reads_as_feedparser_reads_it(
        shared: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    documents = shared_documents(shared)
    assert len(documents) > 4000
    taken = sum(same_as_feedparser(path.read_bytes(), f"https://feeds.test/{path.relative_to(shared)}", headers,
                                   monkeypatch) for path, headers in documents)
    assert taken >= 100  # the fast path's case is common enough there to be held to feedparser


def item(**fields: str) -> str:
    return "<item>" + "".join(f"<{k}>{v}</{k.split()[0]}>" for k, v in fields.items()) + "</item>"


def rss(*items: str, title: str = "A feed", head: str = '<?xml version="1.0" encoding="UTF-8"?>') -> bytes:
    return (f'{head}<rss version="2.0"><channel><title>{title}</title><link>https://site.test/</link>'
            f'<atom:link xmlns:atom="http://www.w3.org/2005/Atom" rel="self" href="https://site.test/rss"/>'
            + "".join(items) + "</channel></rss>").encode()


PLAIN = [
    rss(item(title="Talks resume", link="https://site.test/a?x=1", guid="a-1",
             pubDate="Sat, 17 Aug 2024 10:00:00 GMT", description="Delegations met in Doha on Saturday.")),
    rss(item(title="  Spaced  ", link="http:///site.test/b", description="\n  text  \n")),
    rss(item(guid="https://site.test/by-guid"), item(**{"guid isPermaLink=\"false\"": "tag:site.test,2024:1"})),
    rss(item(title="Crème brûlée — über", link="https://site.test/é", pubDate="2024-08-17T10:00:00+02:00")),
    rss(item(title="Ã©tÃ© doubly encoded", link="https://site.test/c", pubDate="not a date")),
    rss(item(title="No link, no id")),
    rss(item(title="Relative", link="/relative/path", guid="relative-guid")),
    rss(item(title="JS", link="javascript:alert(1)", guid="g")),
    rss(item(title="<![CDATA[ cdata title ]]>", link="https://site.test/d", category="x", comments="https://c.test")),
    rss(item(title="Numeric &#233; reference", link="https://site.test/e", pubDate="Sun, 18 Aug 24 10:00 EST")),
    rss(item(title="Quote \" and ' apostrophe", link="https://site.test/f", description="it's \"quoted\"")),
    rss(item(title="t", link="https://site.test/g"), head=""),
    rss(item(title="Markup", link="https://site.test/a", description="&lt;b&gt;bold&lt;/b&gt; &lt;a href='/x'&gt;"
             "rel&lt;/a&gt;&lt;script&gt;alert(1)&lt;/script&gt;")),
    rss(item(title="Fish &amp; chips &lt;/b&gt; &amp;amp;", link="https://site.test/a?a=1&amp;b=2&amp;amp;c=3")),
    rss(item(title="<![CDATA[<b>Bold</b> title]]>", link="https://site.test/h",
             description="<![CDATA[<p onclick='x()'>para</p><img src='/i.png'>]]>")),
    rss(item(title="c1 \u0093quoted\u0094", link="https://site.test/\u0080", description="x\r\ny")),
]

NOT_PLAIN = [
    rss(item(title="Author", link="https://site.test/a", author="jo@site.test (Jo)")),
    rss(item(title="t", link="https://site.test/a"), head='<?xml version="1.0" encoding="ISO-8859-1"?>'),
    rss(item(title="Two", link="https://site.test/a"), item(title="t", link="https://site.test/b", guid="1",
                                                            **{"guid isPermaLink=\"false\"": "2"})),
    b'<?xml version="1.0"?><rss version="0.91"><channel><title>t</title></channel></rss>',
    b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><item><title>unclosed</item></channel>',
    rss(item(title="NS", link="https://site.test/a")).replace(b"<item>", b'<item><dc:creator xmlns:dc="http://purl.org/dc/elements/1.1/">x</dc:creator>'),
]


@pytest.mark.parametrize("content", PLAIN)
def test_plain_rss_is_read_as_feedparser_reads_it(content: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    assert same_as_feedparser(content, "https://site.test/rss", RSS, monkeypatch)


@pytest.mark.parametrize("content", NOT_PLAIN)
def test_anything_unusual_is_left_to_feedparser(content: bytes) -> None:
    assert read_fast(content, RSS) is None


def test_only_xml_media_types_in_utf8_take_the_fast_path() -> None:
    content = PLAIN[0]
    assert read_fast(content, {"content-type": "application/xml; charset=utf-8"}) is not None
    for headers in ({}, {"Content-Type": "text/html"}, {"Content-Type": "application/rss+xml; charset=iso-8859-1"},
                    {**RSS, "Content-Location": "https://elsewhere.test/"}):
        assert read_fast(content, headers) is None


def test_a_feedparser_without_its_inner_steps_reads_every_feed_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    from wirewatch.ingest import rss_fast

    content = PLAIN[0]
    assert read_fast(content, RSS) is not None
    monkeypatch.setattr(rss_fast, "FEEDPARSER_STEPS", False)
    assert read_fast(content, RSS) is None
    parsed = parse_feed(content, "https://site.test/rss", RSS)
    assert parsed.entries and parsed.entries[0].title  # feedparser read it
