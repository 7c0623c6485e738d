"""Feed discovery: find the feeds of a site from one of its pages.

In: a URL (a home page, an article, or a feed itself). Out: the feed URLs found, each confirmed by
fetching and parsing it, with its title. Where to look, in order: the URL itself (it may be a feed),
the page's ``<link rel="alternate">`` tags for RSS, Atom and JSON Feed, its links whose address
says feed/rss/atom, then the usual paths (/feed, /rss.xml, /atom.xml, …) of the site.
"""

from __future__ import annotations

from urllib.parse import urljoin, urlsplit

import httpx
from lxml import html as lxml_html
from wirewatch.ingest.feed_parsing import FeedError, parse_feed

from wirewatch.http import FetchError, fetch

FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/feed+json", "application/json",
              "application/rdf+xml", "text/xml", "application/xml")
COMMON_PATHS = ("/feed", "/rss", "/feed.xml", "/rss.xml", "/atom.xml", "/index.xml", "/feed.json", "/feeds/all.xml")
MAX_CANDIDATES = 20


def _as_feed(client: httpx.Client, url: str, max_bytes: int) -> tuple[str, str] | None:
    try:
        page = fetch(client, url, max_bytes)
    except FetchError:
        return None
    if page.status >= 400:
        return None
    try:
        parsed = parse_feed(page.content, page.url, page.headers)
    except FeedError:
        return None
    return (page.url, parsed.title) if parsed.entries or parsed.title else None


def candidates(page_url: str, content: bytes) -> list[str]:
    try:
        doc = lxml_html.fromstring(content)
    except (ValueError, lxml_html.etree.ParserError):
        return []
    found: list[str] = []
    for link in doc.iter("link"):
        rel = (link.get("rel") or "").lower().split()
        if "alternate" in rel and (link.get("type") or "").lower().split(";")[0] in FEED_TYPES and link.get("href"):
            found.append(urljoin(page_url, link.get("href")))
    for anchor in doc.iter("a"):
        href = anchor.get("href") or ""
        if any(word in href.lower() for word in ("rss", "atom", "/feed", ".xml")):
            found.append(urljoin(page_url, href))
    return list(dict.fromkeys(u for u in found if u.startswith(("http://", "https://"))))


def discover(client: httpx.Client, url: str, max_bytes: int = 5_000_000) -> list[tuple[str, str]]:
    """Feeds of the site of ``url``, as (feed URL, title)."""
    try:
        page = fetch(client, url, max_bytes)
    except FetchError as exc:
        raise FeedError(str(exc)) from None
    if page.status >= 400:
        raise FeedError(f"{url}: HTTP {page.status}")
    try:
        parsed = parse_feed(page.content, page.url, page.headers)
        if parsed.entries or parsed.title:
            return [(page.url, parsed.title)]
    except FeedError:
        pass
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(page.url))
    tried = candidates(page.url, page.content) or [origin + p for p in COMMON_PATHS]
    feeds: list[tuple[str, str]] = []
    for candidate in tried[:MAX_CANDIDATES]:
        feed = _as_feed(client, candidate, max_bytes)
        if feed and feed[0] not in {f for f, _ in feeds}:
            feeds.append(feed)
    return feeds
