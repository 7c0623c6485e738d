"""Feed parsing: bytes and response headers in, :class:`Entry` messages out. No network here.

feedparser does the parsing (RSS 0.9x/1.0/2.0, Atom, CDF; JSON Feed is read here, since feedparser
does not). Plain RSS 2.0 and Atom 1.0 — most feeds — are read by :mod:`wirewatch.ingest.fast_feed`
instead, with lxml and feedparser's own text steps, to the same entries in a fraction of the time.
An ill-formed feed that feedparser can still read is used and flagged with the reason (``bozo``); a
document that yields no feed at all is reported as an error.

:func:`read_feed` is what the poller runs (in a worker process when it has them): the parse plus each
entry's dedup keys and content hash, all of it picklable.
"""

from __future__ import annotations

import calendar
import hashlib
import html
import io
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import feedparser
from wirewatch.ingest.fast_feed import read_fast
from wirewatch.ingest.feed_text import MarkupMemo

from wirewatch.canonical_url import article_id, canonical_url
from wirewatch.safe_display import one_line, web_link
from wirewatch.schema import Entry


class FeedError(ValueError):
    """A document that is not a feed, or has nothing a feed reader can use."""


@dataclass
class ParsedFeed:
    title: str
    entries: list[Entry]
    warning: str = ""
    skipped: list[str] = field(default_factory=list)


def _iso(struct: Any) -> str | None:
    if not struct:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(struct), UTC).isoformat(timespec="seconds")
    except (TypeError, ValueError, OverflowError):
        return None


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _make_entry(feed_url: str, feed_title: str, link: str, guid: str, title: str, summary: str, author: str,
                published: str | None, warning: str) -> Entry:
    """One entry; only an http(s) link becomes its URL (a ``javascript:`` link is dropped, the GUID
    still identifies the entry), and its title is put on one line."""
    link = web_link(link)
    canonical = canonical_url(link) if link else ""
    key = canonical or f"guid:{guid}"
    return Entry(article_id=article_id(key), url=link or web_link(guid), canonical_url=canonical, guid=guid,
                 feed_url=feed_url, feed_title=one_line(feed_title), title=one_line(title), summary=summary,
                 author=one_line(author), published=published, feed_warning=warning)


def _looks_like_json_feed(content: bytes, headers: Mapping[str, str]) -> bool:
    ctype = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
    return "json" in ctype.lower() or content.lstrip()[:1] == b"{"


def parse_json_feed(content: bytes, feed_url: str) -> ParsedFeed:
    try:
        doc = json.loads(content)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FeedError(f"{feed_url}: JSON Feed is not valid JSON: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("items"), list):
        raise FeedError(f"{feed_url}: JSON document has no 'items' list; not a JSON Feed")
    title = _text(doc.get("title"))
    entries, skipped = [], []
    for i, item in enumerate(doc["items"]):
        if not isinstance(item, dict):
            skipped.append(f"item {i}: not an object")
            continue
        link = web_link(_text(item.get("url"))) or web_link(_text(item.get("external_url")))
        guid = str(item.get("id") or "")
        if not link and not guid:
            skipped.append(f"item {i}: neither an http(s) url nor an id")
            continue
        author = item.get("author") or (item.get("authors") or [{}])[0]
        entries.append(_make_entry(
            feed_url, title, link, guid, _text(item.get("title")),
            _text(item.get("summary")) or _text(item.get("content_text")) or _text(item.get("content_html")),
            _text(author.get("name")) if isinstance(author, dict) else "",
            _text(item.get("date_published")) or None, ""))
    return ParsedFeed(title, entries, "", skipped)


def parse_feed(content: bytes, feed_url: str, headers: Mapping[str, str] | None = None, fast: bool = True,
               memo: MarkupMemo | None = None) -> ParsedFeed:
    """Parse a fetched feed document into entries; raise :class:`FeedError` if it is no feed at all.
    ``fast`` False: feedparser reads it even where the fast reading would (to compare the two); ``memo``:
    where the fast reading keeps the HTML it has cleaned, for the entries a feed repeats."""
    headers = dict(headers or {})
    if _looks_like_json_feed(content, headers):
        try:
            return parse_json_feed(content, feed_url)
        except FeedError:
            if content.lstrip()[:1] == b"{":
                raise
    plain = read_fast(content, headers, memo) if fast else None  # plain RSS 2.0 and Atom, as feedparser reads them
    if plain is not None:
        title, items = plain
        return _parsed(feed_url, title, [(i.link, i.id, i.title, i.summary, i.author, i.published) for i in items], "")
    # a stream, never the bytes themselves: feedparser tries bytes as a file name first (a body reading
    # "/etc/passwd" would have been that file), a needless system call per feed besides
    parsed = feedparser.parse(io.BytesIO(content), response_headers={k.lower(): v for k, v in headers.items()},
                              sanitize_html=True, resolve_relative_uris=True)
    warning = ""
    if parsed.get("bozo"):
        exc = parsed.get("bozo_exception")
        warning = f"ill-formed feed, read anyway: {type(exc).__name__}: {exc}"[:500]
    if not parsed.get("version") and not parsed.entries:
        reason = warning or "no RSS, Atom or JSON Feed content found"
        raise FeedError(f"{feed_url}: not a feed ({reason})")
    rows = [(_text(item.get("link")), _text(item.get("id")), _text(item.get("title")), _summary(item),
             _text(item.get("author")), item.get("published_parsed") or item.get("updated_parsed"))
            for item in parsed.entries]
    return _parsed(feed_url, _text(parsed.feed.get("title")), rows, warning)


def _summary(item: Any) -> str:
    summary = _text(item.get("summary"))
    if not summary and item.get("content"):
        summary = _text(item["content"][0].get("value"))
    return summary


Row = tuple[str, str, str, str, str, Any]  # link, id, title, summary, author, published (a struct_time)


def _parsed(feed_url: str, title: str, rows: list[Row], warning: str) -> ParsedFeed:
    """The entries of a parsed feed, whichever parser read it."""
    entries, skipped = [], []
    for i, (link, guid, item_title, summary, author, published) in enumerate(rows):
        if not web_link(link) and not guid:  # a javascript: or broken link is no link
            skipped.append(f"entry {i}: neither an http(s) link nor an id")
            continue
        entries.append(_make_entry(feed_url, title, link, guid, item_title, summary, author, _iso(published), warning))
    return ParsedFeed(title, entries, warning, skipped)


MAX_KEY_CHARS = 2000  # seen_keys.dedup_key holds 2,100


def dedup_keys(entry: Entry) -> list[str]:
    """The keys under which an entry counts as seen: its canonical URL and its GUID (feed-scoped)."""
    keys = []
    if entry.canonical_url:
        keys.append(f"url:{entry.canonical_url}")
    if entry.guid:
        keys.append(f"guid:{entry.feed_url}|{entry.guid}")
    # a key longer than the column (a URL of kilobytes) is kept as its hash, so that it still dedups
    return [k if len(k) <= MAX_KEY_CHARS else f"sha256:{hashlib.sha256(k.encode()).hexdigest()}" for k in keys]


MIN_HASHED_CHARS = 80  # shorter title+summary texts are too generic to call two entries the same
TAG = re.compile(r"<[^>]+>")

Keyed = tuple[Entry, list[str], str]  # an entry, its dedup keys, its content hash


def content_hash(entry: Entry) -> str:
    """Hash of an entry's title and summary, folded (case, markup, entities, spacing); '' if too short."""
    text = " ".join(html.unescape(TAG.sub(" ", f"{entry.title}\n{entry.summary}")).casefold().split())
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32] if len(text) >= MIN_HASHED_CHARS else ""


def read_feed(content: bytes, feed_url: str, headers: Mapping[str, str] | None = None,
              fast: bool = True, memo: MarkupMemo | None = None) -> tuple[ParsedFeed, list[Keyed]]:
    """:func:`parse_feed`, and each entry with its dedup keys and content hash (what the poller looks up)."""
    parsed = parse_feed(content, feed_url, headers, fast, memo)
    return parsed, [(e, dedup_keys(e), content_hash(e)) for e in parsed.entries]
