"""The fast reading of RSS 2.0 and Atom 1.0 (``ingest/fast_feed.py``) against feedparser: on every feed
and parser case of ../shared (the real feeds as application/rss+xml, application/atom+xml and text/xml
in UTF-8; the cases with their own headers and as application/rss+xml) and on feeds written here,
whatever the fast path accepts must give the entries feedparser gives — ids, links, titles,
summaries, authors, dates, warnings, the feed's title and what was skipped; and what it must not
guess at (other encodings it cannot settle, byte order marks, DTDs and entities, base URIs, elements
feedparser reads into our fields) goes to feedparser."""

from __future__ import annotations

from pathlib import Path

import pytest
from wirewatch.ingest.fast_feed import read_fast, why_not_fast
from wirewatch.ingest.feed_parsing import FeedError, ParsedFeed, parse_feed
from wirewatch.ingest.feed_text import MarkupMemo

from tests.test_feed_cases import headers_of

RSS = {"Content-Type": "application/rss+xml"}
ATOM = {"Content-Type": "application/atom+xml"}


def by_feedparser(content: bytes, url: str, headers: dict[str, str]) -> ParsedFeed | str:
    try:
        return parse_feed(content, url, headers, fast=False)
    except FeedError as exc:
        return str(exc)


def comparable(parsed: ParsedFeed) -> tuple[object, ...]:
    entries = [e.model_dump(exclude={"seen_at"}) for e in parsed.entries]
    return parsed.title, parsed.warning, parsed.skipped, entries


def same_as_feedparser(content: bytes, url: str, headers: dict[str, str], memo: MarkupMemo | None = None) -> bool:
    """Whether the fast path took the document; if it did, it must read what feedparser reads (with the
    HTML it cleaned before taken from ``memo`` where one is given)."""
    if read_fast(content, headers) is None:
        return False
    fast = parse_feed(content, url, headers, memo=memo)
    slow = by_feedparser(content, url, headers)
    assert not isinstance(slow, str), f"{url}: feedparser finds no feed ({slow}), the fast path does"
    assert comparable(fast) == comparable(slow), url
    return True


def shared_documents(shared: Path) -> list[tuple[Path, dict[str, str]]]:
    feeds = sorted(p for p in (shared / "data" / "feeds").rglob("*") if p.is_file() and p.suffix != ".txt")
    cases = sorted((shared / "data" / "feed-cases" / "tests").rglob("*.xml"))
    served = [RSS, ATOM, {"Content-Type": "text/xml; charset=UTF-8"}]
    return [(p, h) for p in feeds for h in served] + [(p, {**RSS, **headers_of(p.read_bytes())}) for p in cases] + \
        [(p, RSS) for p in cases]


def real_feeds(shared: Path) -> list[Path]:
    return sorted(p for p in (shared / "data" / "feeds").rglob("*")
                  if p.is_file() and p.suffix not in (".txt", ".json") and not p.name.startswith("LICENSE"))


def test_every_shared_feed_the_fast_path_takes_reads_as_feedparser_reads_it(
        shared: Path) -> None:
    documents = shared_documents(shared)
    assert len(documents) > 4000
    memo = MarkupMemo()  # one, as a parse worker has: documents met again are read from it
    taken = sum(same_as_feedparser(path.read_bytes(), f"https://feeds.test/{path.relative_to(shared)}", headers,
                                   memo) for path, headers in documents)
    assert memo.chars > 0
    assert taken >= 1480  # the fast path's case is common enough there to be held to feedparser (1,488)


def test_the_fast_path_takes_most_real_rss_and_atom_feeds(shared: Path) -> None:
    """Of the real RSS, Atom and RDF snapshots, the fast path takes the most; what it leaves has a
    reason feedparser's reading would differ on (a title inside an unknown element, xhtml content...)."""
    feeds = real_feeds(shared)
    reasons = {p.name: why_not_fast(p.read_bytes(), RSS) for p in feeds}
    taken = [name for name, why in reasons.items() if not why]
    assert len(taken) > len(feeds) / 2, reasons
    assert not reasons.get("bio.rdf", "RDF")  # RSS 1.0: its items' ids from rdf:about
    assert not reasons.get("DaringFireball.atom", "")  # under xml:base: followed as feedparser follows it
    assert not reasons.get("medscape.rss", "")  # a picture in each item, beside the channel's logo


def item(**fields: str) -> str:
    return "<item>" + "".join(f"<{k}>{v}</{k.split()[0]}>" for k, v in fields.items()) + "</item>"


NAMESPACES = ('xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:content="http://purl.org/rss/1.0/modules/content/" '
              'xmlns:media="http://search.yahoo.com/mrss/" xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd" '
              'xmlns:slash="http://purl.org/rss/1.0/modules/slash/" xmlns:wfw="http://wellformedweb.org/CommentAPI/" '
              'xmlns:sy="http://purl.org/rss/1.0/modules/syndication/" xmlns:wp="com-wordpress:feed-additions:1" '
              'xmlns:atom="http://www.w3.org/2005/Atom"')


def rss(*items: str, title: str = "A feed", head: str = '<?xml version="1.0" encoding="UTF-8"?>',
        channel: str = "") -> bytes:
    return (f'{head}<rss version="2.0" {NAMESPACES}><channel><title>{title}</title><link>https://site.test/</link>'
            f'<atom:link rel="self" href="https://site.test/rss"/>{channel}'
            + "".join(items) + "</channel></rss>").encode()


def rdf(*items: str, about: list[str | None] | None = None, after: str = "", version: str = "1.0") -> bytes:
    """An RSS 1.0 (or 0.90) document: the channel, its table of items, the items beside it."""
    ns = "http://purl.org/rss/1.0/" if version == "1.0" else "http://my.netscape.com/rdf/simple/0.9/"
    about = about or [f"https://site.test/item/{i}" for i in range(len(items))]
    seq = "".join(f'<rdf:li rdf:resource="{a}"/>' for a in about if a is not None)
    body = "".join(i.replace("<item>", f'<item rdf:about="{a}">' if a is not None else "<item>")
                   for i, a in zip(items, about, strict=True))
    return (f'<?xml version="1.0" encoding="utf-8"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
            f'xmlns="{ns}" xmlns:dc="http://purl.org/dc/elements/1.1/" '
            f'xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel rdf:about="https://site.test/">'
            f"<title>An RDF feed</title><link>https://site.test/</link><description>d</description>"
            f"<items><rdf:Seq>{seq}</rdf:Seq></items></channel>{body}{after}</rdf:RDF>").encode()


def entry(*parts: str) -> str:
    return "<entry>" + "".join(parts) + "</entry>"


def atom(*entries: str, title: str = "<title>An Atom feed</title>", feed: str = "",
         head: str = '<?xml version="1.0" encoding="utf-8"?>') -> bytes:
    return (f'{head}<feed xmlns="http://www.w3.org/2005/Atom">{title}<id>urn:x:feed</id>'
            f'<updated>2024-08-17T10:00:00Z</updated><link href="https://site.test/"/>{feed}'
            + "".join(entries) + "</feed>").encode()


ENTRY = ('<id>tag:site.test,2024:1</id><title>Talks resume</title><link rel="alternate" type="text/html" '
         'href="https://site.test/a"/><published>2024-08-17T10:00:00Z</published><updated>2024-08-18T10:00:00Z'
         '</updated>')
WORDPRESS = item(title="Talks", link="https://site.test/w", **{"dc:creator": "<![CDATA[Jo Writer]]>",
                 "guid isPermaLink=\"false\"": "https://site.test/?p=1", "pubDate": "Sat, 17 Aug 2024 10:00:00 +0000",
                 "category": "<![CDATA[News]]>", "description": "<![CDATA[<p>Short</p>]]>",
                 "content:encoded": "<![CDATA[<p>Long <a href='/rel'>link</a></p><script>x()</script>]]>",
                 "slash:comments": "3", "wfw:commentRss": "https://site.test/w/feed", "wp:post-id": "1"})

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
    # what real feeds carry: authors, bodies, Dublin Core dates, thumbnails, podcast details, a logo
    rss(item(title="Author", link="https://site.test/a", author="jo@site.test (Jo)")),
    rss(item(title="Two authors", link="https://site.test/a", author="a@site.test", **{"dc:creator": "B"}),
        item(title="Three", link="https://site.test/b", author="e@x.test",
             **{"dc:creator": "C", "itunes:author": "D"})),
    rss(WORDPRESS, channel="<sy:updatePeriod>hourly</sy:updatePeriod><image><url>https://site.test/i.png</url>"
        "<title>A feed</title><link>https://site.test/</link></image><dc:creator>Desk</dc:creator>"),
    rss(item(title="Body only", link="https://site.test/b", **{"content:encoded": "<![CDATA[<p>Body <b>b</b></p>]]>",
                                                              "x:title xmlns:x=\"urn:x\"": "apart from ours"})),
    rss(item(title="Empty description", link="https://site.test/c", description="",
             **{"content:encoded": "&lt;p&gt;Body&lt;/p&gt;"})),
    rss(item(title="Body first", link="https://site.test/c", **{"content:encoded": "Body"}, description="Summary")),
    rss(item(title="DC date", link="https://site.test/d", **{"dc:date": "2024-08-17T10:00:00+02:00"})),
    rss(item(title="Bad pubDate", link="https://site.test/d", pubDate="17/08/2024",
             **{"dc:date": "2024-08-17", "dc:creator": "Ana"})),
    rss(item(title="Episode", link="https://site.test/e", enclosure="", **{
        "itunes:author": "Host", "itunes:explicit": "no", "itunes:duration": "10:00", "itunes:subtitle": "sub",
        "media:thumbnail url=\"https://site.test/t.jpg\" width=\"90\"": "", "smallimage": "https://site.test/s.jpg"}),
        channel="<itunes:owner><itunes:name>Host</itunes:name><itunes:email>h@site.test</itunes:email></itunes:owner>"
                "<itunes:category text='News'><itunes:category text='Politics'/></itunes:category>"),
    # encodings feedparser settles without a guess: declared, in the headers, a UTF-8 byte order mark
    rss(item(title="Crème", link="https://site.test/é"), head='<?xml version="1.0" encoding="ISO-8859-1"?>')
    .decode().encode("iso-8859-1"),
    rss(item(title="\u201cquoted\u201d €", link="https://site.test/q"),
        head='<?xml version="1.0" encoding="windows-1252"?>').decode().encode("cp1252"),
    rss(item(title="Новости", link="https://site.test/r"), head='<?xml version="1.0" encoding="KOI8-R"?>')
    .decode().encode("koi8-r"),
    rss(item(title="Ã© in Latin-1", link="https://site.test/m"), head="<?xml version='1.0' encoding='iso-8859-1'?>")
    .decode().encode("iso-8859-1"),
    b"\xef\xbb\xbf" + rss(item(title="After a BOM", link="https://site.test/bom")),
    rss(item(title="ASCII, odd declaration", link="https://site.test/o"),
        head='<?xml version="1.0" encoding = "iso-8859-1"?>'),
    # Atom 1.0
    atom(entry(ENTRY, '<summary type="html">&lt;p&gt;Short &lt;a href="/x"&gt;x&lt;/a&gt;&lt;/p&gt;</summary>',
               '<content type="html">&lt;p&gt;Long&lt;/p&gt;&lt;script&gt;x()&lt;/script&gt;</content>',
               "<author><name>Jo Writer</name><email>jo@site.test</email><uri>https://site.test/jo</uri></author>",
               '<category term="news"/>')),
    atom(entry("<id>https://site.test/by-id</id><title type='text'>Plain &lt;b&gt;not bold&lt;/b&gt;</title>",
               "<updated>Sat, 17 Aug 2024 10:00:00 GMT</updated><author><email>jo@site.test</email></author>"),
         entry("<id>urn:uuid:1</id><title type='html'>&lt;b&gt;Bold&lt;/b&gt; &amp;amp; co</title>",
               "<link rel='self' href='https://site.test/self'/><link href='https://site.test/one'/>",
               "<link rel='alternate' href='https://site.test/two'/><content>Text body</content>",
               "<published>2024-08-17</published><author><name>Ana</name></author>")),
    atom(entry("<id>tag:x</id><title>Relative</title><link href='/relative'/><summary>s</summary>",
               "<link rel='enclosure' type='audio/mpeg' href='https://site.test/a.mp3'/>"),
         feed="<author><name>Desk</name></author><subtitle>Sub</subtitle><generator uri='https://g.test'>G</generator>"),
    atom(entry(ENTRY), title="<title type='html'>Wire &amp;amp; more</title>"),
    # base URIs, as feedparser keeps them: joined, unsafe schemes refused, and (its quirk) a base set
    # under a parent without one staying for the siblings that follow
    rss(item(title="t", link="/a", guid="/g", description="&lt;a href='x'&gt;x&lt;/a&gt;")).replace(
        b"<item>", b'<item xml:base="https://base.test/dir/">'),
    rss(item(title="<![CDATA[<a href='t'>T</a>]]>", link="a", **{"enclosure base=\"https://b.test/\"": ""}),
        item(title="second", link="b", description="&lt;img src='i.png'&gt;")).replace(
        b"<channel>", b'<channel xml:base="https://base.test/">'),
    atom(entry(ENTRY.replace("https://site.test/a", "a"), "<content type='html'>&lt;a href='rel'&gt;r&lt;/a&gt;"
               "</content>"), entry("<id>/relative-id</id><title>No link</title>")).replace(
        b"<feed ", b'<feed xml:base="https://base.test/x/" '),
    atom(entry("<id>b</id><title>t</title><link xml:base='https://other.test/p/' href='q'/>",
               "<summary type='html' xml:base='javascript:alert(1)'>&lt;a href='s'&gt;s&lt;/a&gt;</summary>"),
         entry("<id>c</id><title>after the quirk</title><link href='r'/>")),
    atom(entry("<id>d</id><title>t</title><link href='x'/>")).replace(b"<feed ", b'<feed xml:base="../up/" '),
    # a <feed> in no namespace: feedparser's "atom", read as Atom 1.0
    atom(entry("<title>Café</title>"), entry(ENTRY, "<content type='html'>&lt;p&gt;x&lt;/p&gt;</content>",
                                              "<author><name>Jo</name><email>jo@site.test</email></author>"),
         ).replace(b' xmlns="http://www.w3.org/2005/Atom"', b""),
    atom(entry("<title type='html'>&lt;b&gt;T&lt;/b&gt;</title><link href='/rel'/><id>i</id>"),
         title="<title>테스트 피드</title>").replace(b' xmlns="http://www.w3.org/2005/Atom"', b' xml:base="https://b.test/"'),
    # elements inside an item that feedparser files apart from ours: an image (a logo or a picture with
    # its title, before or after the item's own), a media element's title, a list of categories
    rss(item(title="With a picture", link="https://site.test/p",
             image="<url>https://site.test/p.jpg</url><title>Picture</title><link>https://site.test/p</link>"),
        item(image="<url>https://site.test/q.jpg</url><title>Picture first</title><width>9</width>",
             title="Own title after", link="https://site.test/q", description="d"),
        item(title="", link="https://site.test/r", image="<title>Not the title</title>"),
        item(title="Bare", link="https://site.test/s", image="https://site.test/s.jpg"),
        channel="<image><url>https://site.test/logo.png</url><title>A feed</title><link>https://site.test/</link>"
                "</image>"),
    rss(item(image="<title>Picture first</title>", title="", link="https://site.test/a"),
        item(**{"media:content url=\"https://site.test/m.mp3\"": "<media:title>M</media:title>"}, title="",
             link="https://site.test/b")),
    rss(item(title="Episode", link="https://site.test/e", **{
        "media:content url=\"https://site.test/e.mp3\" type=\"audio/mpeg\"":
            "<media:title type='plain'>M</media:title>"}),
        item(**{"media:content url=\"https://site.test/f.mp3\"": "<media:title>First</media:title>"}, title="Own",
             link="https://site.test/f"),
        item(title="Filed", link="https://site.test/c",
             categories="<category>Home</category><category>Tech</category>")),
    # RSS 1.0 and 0.90 (RDF): the item's id is its rdf:about, as it stands
    rdf(item(title="Talks", link="https://site.test/a?x=1&amp;y=2", description="&lt;p&gt;Body &lt;a href='/r'&gt;r"
             "&lt;/a&gt;&lt;/p&gt;", **{"dc:date": "2024-08-17T10:00:00+02:00", "dc:creator": "Jo"}),
        item(title="<![CDATA[<b>Second</b>]]>", link="/relative", **{"content:encoded": "<![CDATA[<p>Body</p>]]>"}),
        about=["https://site.test/a?x=1&amp;y=2", " urn:x:2 "],
        after="<image rdf:about='https://site.test/i.png'><title>A feed</title><url>https://site.test/i.png</url>"
              "<link>https://site.test/</link></image>"),
    rdf(item(title="Paper", link="https://site.test/p", **{"dc:publisher": "Press", "dc:subject": "Biology",
                                                           "dc:rights": "CC"})),
    rdf(item(title="Old", link="https://site.test/old"), item(title="No about"), about=[None, None], version="0.9"),
    rdf(item(title="", **{"dc:title": "Dublin Core title", "link": "https://site.test/dc"}),
        item(**{"dc:title": "First"}, title="Second", link="https://site.test/two")),
    rss(item(title="Own", link="https://site.test/o", **{"dc:title": "Other"})),
    rdf(item(title="Based", link="b")).replace(b"<rdf:RDF ", b'<rdf:RDF xml:base="https://base.test/d/" '),
]

NOT_PLAIN = [
    rss(item(title="Two", link="https://site.test/a"), item(title="t", link="https://site.test/b", guid="1",
                                                            **{"guid isPermaLink=\"false\"": "2"})),
    b'<?xml version="1.0"?><rss version="0.91"><channel><title>t</title></channel></rss>',
    b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><item><title>unclosed</item></channel>',
    # elements feedparser reads into our fields, which the fast path does not follow
    rss(item(title="t", link="https://site.test/a", **{"media:title": "another title"})),
    rss(item(title="t", link="https://site.test/a", **{"itunes:summary": "another summary"})),
    rss(item(title="t", link="https://site.test/a", **{"atom:link href=\"https://site.test/b\"": ""})),
    rss(item(title="t", link="https://site.test/a", **{"source url=\"https://s.test/\"": "S"})),
    rss(item(Title="Capitalised", link="https://site.test/a")),
    rss(item(title="t", link="https://site.test/a", date="2024-08-17")),
    rss(item(title="t", link="https://site.test/a", **{"title xmlns=\"urn:x\"": "t2"})),
    # a title only inside an item's image or media element (feedparser would take it for the entry's),
    # an image with a description (read as the summary), an unknown element holding a title
    rss(item(link="https://site.test/a", image="<url>https://site.test/i.png</url><title>img</title>")),
    rss(item(title="t", link="https://site.test/a",
             image="<url>https://site.test/i.png</url><description>d</description>")),
    rss(item(link="https://site.test/a",
             **{"media:content url=\"https://site.test/a.mp3\"": "<media:title>m</media:title>"})),
    rss(item(title="t", link="https://site.test/a", **{"og": "<type>article</type><title>other</title>"})),
    rss(item(title="t", link="https://site.test/a", categories="<category>a</category><link>https://x.test/</link>")),
    # two titles and an image between them: the image resets feedparser's title depth, the last title wins
    rss(item(title="First", image="https://x.test/i.jpg", **{"dc:title": "Second"}, link="https://site.test/a")),
    rss(item(title="First", categories="<image>https://x.test/i.jpg</image>", **{"dc:title": "Second"})),
    # RDF feedparser reads otherwise: a guid, a textinput, Atom declared (its version), an item attribute
    rdf(item(title="t", link="https://site.test/a", guid="g")),
    rdf(item(title="t", link="https://site.test/a"), after="<textinput><title>Search</title></textinput>"),
    rdf(item(title="t", link="https://site.test/a")).replace(
        b"<rdf:RDF ", b'<rdf:RDF xmlns:atom="http://www.w3.org/2005/Atom" '),
    rdf(item(title="t", link="https://site.test/a")).replace(
        b'xmlns="http://purl.org/rss/1.0/"', b'xmlns="http://purl.org/rss/1.0/" xmlns:r="urn:r"').replace(
        b"<item ", b'<item r:x="1" '),
    rss(item(title="t", link="https://site.test/a", **{"description type=\"text/plain\"": "x"})),
    rss(item(title="t", link="https://site.test/a", **{"content:encoded": "<p>markup, not <b>escaped</b></p>"})),
    rss(item(title="t", link="https://site.test/a")).replace(b"<channel>", b'<channel base="https://base.test/">'),
    rss(item(title="t", link="https://site.test/a"), channel="<textInput><title>Search</title></textInput>"),
    # encodings feedparser would guess at or override, DTDs and entities
    rss(item(title="Crème", link="https://site.test/a"), head='<?xml version="1.0" encoding="windows-1252"?>')
    .decode().encode("cp1252").replace(b"Cr", b"\x81Cr"),
    rss(item(title="Crème", link="https://site.test/a"), head='<?xml version="1.0" encoding="UTF-8"?>')
    .decode().encode("iso-8859-1"),
    "\ufeff".encode("utf-16-le") + rss(item(title="UTF-16", link="https://site.test/a"),
                                       head='<?xml version="1.0" encoding="UTF-16"?>').decode().encode("utf-16-le"),
    b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY e "entity">]><rss version="2.0"><channel><title>&e;</title>'
    b"</channel></rss>",
    rss(item(title="t", link="https://site.test/a"), head='<?xml version="1.0" encoding="x-unknown"?>'),
    # Atom that feedparser reads in ways the fast path does not follow
    atom(entry(ENTRY, '<content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><p>x</p></div></content>')),
    atom(entry(ENTRY, '<content src="https://site.test/body"/>')),
    atom(entry(ENTRY, "<title>Second title</title>")),
    atom(entry(ENTRY, "<link>https://site.test/text-link</link>")),
    atom(entry(ENTRY, "<source><title>Elsewhere</title></source>")),
    atom(entry(ENTRY, "<author><name>A</name></author><author><name>B</name></author>")),
    atom(entry(ENTRY, '<content type="image/png">aGVsbG8=</content>')),
    atom(entry(ENTRY), title="<title type='xhtml'><div xmlns='http://www.w3.org/1999/xhtml'>T</div></title>"),
    atom(entry(ENTRY)).replace(b'xmlns="http://www.w3.org/2005/Atom"', b'xmlns="http://purl.org/atom/ns#"'),
    atom(entry(ENTRY)).replace(b"<feed ", b'<feed xmlns:rss="http://purl.org/rss/1.0/" '),
    atom(entry(ENTRY)).replace(b'xmlns="http://www.w3.org/2005/Atom"', b'version="0.3"'),
    atom(entry(ENTRY)).replace(b' xmlns="http://www.w3.org/2005/Atom"', b"").replace(
        b"<entry>", b'<entry xmlns="http://www.w3.org/2005/Atom">'),
    atom(entry(ENTRY, "<title>unclosed")),
]


@pytest.mark.parametrize("content", PLAIN)
def test_plain_feeds_are_read_as_feedparser_reads_them(content: bytes) -> None:
    assert same_as_feedparser(content, "https://site.test/rss", RSS), why_not_fast(content, RSS)
    memo = MarkupMemo()
    assert same_as_feedparser(content, "https://site.test/rss", RSS, memo)  # the HTML cleaned and kept
    assert same_as_feedparser(content, "https://site.test/rss", RSS, memo)  # and taken from the memo


def test_the_markup_memo_is_bounded_and_gives_what_cleaning_gives() -> None:
    memo = MarkupMemo(max_chars=800)
    texts = [f"<p onclick='x()'>entry {i} <a href='/rel'>link</a></p>" for i in range(40)]
    first = [memo.cleaned(t) for t in texts]
    assert first[0] == "<p>entry 0 <a href=\"/rel\">link</a></p>"
    assert 0 < memo.chars <= 800
    assert [memo.cleaned(t) for t in texts] == first  # the forgotten are cleaned again, to the same
    kept = memo.chars
    assert memo.cleaned("<b>x</b>" * 20) == "<b>x</b>" * 20  # longer than an eighth of the bound: never kept
    assert memo.chars == kept


@pytest.mark.parametrize("content", NOT_PLAIN)
def test_anything_unusual_is_left_to_feedparser_with_a_reason(content: bytes) -> None:
    assert read_fast(content, RSS) is None
    assert why_not_fast(content, RSS)


def test_the_media_type_and_its_charset_are_followed_as_feedparser_follows_them() -> None:
    content = PLAIN[0]
    for ctype in ("application/xml; charset=utf-8", "application/atom+xml", "text/xml; charset=UTF-8", "text/xml",
                  "application/rss+xml; charset=iso-8859-1"):
        assert same_as_feedparser(content, "https://site.test/rss", {"Content-Type": ctype}), ctype
    latin = rss(item(title="Crème", link="https://site.test/é"), head='<?xml version="1.0" encoding="utf-8"?>'
                ).decode().encode("iso-8859-1")
    assert same_as_feedparser(latin, "https://site.test/rss", {"Content-Type": "application/xml; charset=ISO-8859-1"})
    utf8 = PLAIN[3]  # not ASCII: feedparser would read text/xml as US-ASCII, fail, and flag its guess
    for headers in ({}, {"Content-Type": "text/html"}, {"Content-Type": "text/xml"},
                    {**RSS, "Content-Location": "https://elsewhere.test/"}):
        assert read_fast(utf8, headers) is None, headers


def test_a_feedparser_without_its_inner_steps_reads_every_feed_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    from wirewatch.ingest import fast_feed

    content = PLAIN[0]
    assert read_fast(content, RSS) is not None
    monkeypatch.setattr(fast_feed, "FEEDPARSER_STEPS", False)
    assert read_fast(content, RSS) is None
    parsed = parse_feed(content, "https://site.test/rss", RSS)
    assert parsed.entries and parsed.entries[0].title  # feedparser read it
