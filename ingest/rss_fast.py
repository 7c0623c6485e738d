"""A fast reading of plain RSS 2.0 feeds with lxml, giving what feedparser would give, or nothing.

In: a fetched feed's bytes and response headers. Out: the feed's title and, per item, the fields
:mod:`wirewatch.ingest.feed_parsing` builds an entry from (link, id, title, summary, the published
time as feedparser's struct) as feedparser would give them — or ``None`` whenever the document is
not the plain case, and then feedparser reads it.

feedparser costs about 0.5 ms for a one-item feed (a SAX parse in pure Python, with HTML sanitising),
most of a poll cycle's CPU when every feed has something new. The plain case is read here instead:
``<rss version="2.0">`` served as application/rss+xml or application/xml in UTF-8 (no byte order
mark, no other charset or declared encoding), well-formed (lxml parses it; no DOCTYPE), no
``xml:base`` and no Content-Location (so there is no base URI), a channel of the plain RSS elements
(a namespaced ``atom:link`` allowed), items with at most one each of title, link, guid, pubDate and
description (besides category, comments and enclosure, which set none of those), no attributes but
``isPermaLink``, no elements inside them, no comments. Anything else — Atom, RDF, RSS 0.9x, an author,
``dc:`` or ``content:`` elements, an image — gives ``None``.

Each text then goes through the steps feedparser's ``pop`` takes, by feedparser's own functions: its
HTML guess for titles, its relative-URI resolver and sanitiser for what is HTML, its URI fix, its
repair of doubly encoded UTF-8 and of cp1252 codes, its date parser. ``tests/test_rss_fast.py`` holds
the result to feedparser's on every feed and parser case of ``../shared`` the fast path takes.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass

from lxml import etree

try:  # feedparser's inner steps; a release that moved them sends every feed to feedparser itself
    from feedparser.datetimes import _parse_date
    from feedparser.html import _cp1252
    from feedparser.mixin import _FeedParserMixin
    from feedparser.sanitizer import _sanitize_html
    from feedparser.urls import _urljoin, resolve_relative_uris

    looks_like_html = _FeedParserMixin.looks_like_html  # feedparser's guess for a plain-text title
    FEEDPARSER_STEPS = True
except (ImportError, AttributeError):
    FEEDPARSER_STEPS = False

XML_TYPES = ("application/rss+xml", "application/xml")
ITEM_FIELDS = {"title", "link", "guid", "pubDate", "description"}
ITEM_IGNORED = {"category", "comments", "enclosure"}  # feedparser keeps them apart from our fields
CHANNEL_PLAIN = {"title", "link", "description", "language", "copyright", "managingEditor", "webMaster",
                 "pubDate", "lastBuildDate", "category", "generator", "docs", "ttl", "item"}
ATOM_LINK = "{http://www.w3.org/2005/Atom}link"  # the channel's rel="self" link, common and harmless
DECLARATION = re.compile(rb"^<\?xml[^>]*?encoding\s*=\s*[\"']([^\"']*)[\"']")
PARSER = etree.XMLParser(resolve_entities=False, no_network=True)


@dataclass(frozen=True)
class RawItem:
    link: str
    id: str
    title: str
    summary: str
    published: time.struct_time | None


def _header(headers: Mapping[str, str], name: str) -> str:
    return next((v for k, v in headers.items() if k.lower() == name), "")


def _utf8_declared(content: bytes, headers: Mapping[str, str]) -> bool:
    media, _, params = _header(headers, "content-type").partition(";")
    if media.strip().lower() not in XML_TYPES:
        return False
    charset = params.strip().lower()
    if charset and charset.replace(" ", "") not in ("charset=utf-8", 'charset="utf-8"'):
        return False
    if content.startswith((b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")) or b"\0" in content[:4]:
        return False  # a byte order mark, or UTF-16 or -32 without one
    declared = DECLARATION.match(content)
    return declared is None or declared.group(1).lower() == b"utf-8"


def _text(text: str | None, html: bool = False) -> str:
    """An element's text through the steps feedparser's ``pop`` takes for a title (``html`` False: plain
    text unless it looks like HTML) or a description (HTML) when there is no base URI: strip, resolve
    relative URIs in and sanitise what is HTML, mend doubly encoded UTF-8, map C1 codes as cp1252.
    feedparser's own functions do each step, so the text is the one feedparser gives."""
    value = (text or "").strip()
    if html or looks_like_html(value):
        value = resolve_relative_uris(value, "", "utf-8", "text/html")
        value = _sanitize_html(value, "utf-8", "text/html")
    return _mended(value)


def _mended(value: str) -> str:
    with contextlib.suppress(UnicodeEncodeError, UnicodeDecodeError):
        value = value.encode("iso-8859-1").decode("utf-8")
    return value.translate(_cp1252)


def _uri(text: str | None) -> str:
    """A link or permalink GUID as feedparser gives it (resolved against no base: feedparser's fix of
    extra slashes only)."""
    return _mended(_urljoin("", (text or "").strip()))


def _link(text: str | None) -> str:
    """An item's link, with feedparser's repair of query strings escaped twice."""
    return re.sub("&([A-Za-z0-9_]+);", r"&\g<1>", _uri(text).replace("&amp;", "&"))


def _item(item: etree._Element) -> RawItem | None:
    fields: dict[str, str] = {}
    permalink = True
    for child in item:
        tag = child.tag
        if not isinstance(tag, str):
            return None
        if len(child):  # markup inside (or an element feedparser would read as one of ours): not plain
            return None
        if tag in ITEM_IGNORED:
            continue
        if tag not in ITEM_FIELDS or tag in fields or set(child.attrib.keys()) - {"isPermaLink"}:
            return None
        if tag == "guid":
            permalink = child.get("isPermaLink", "true") == "true"
        elif "isPermaLink" in child.attrib:
            return None
        if tag == "link":
            fields[tag] = _link(child.text)
        elif tag == "guid":
            fields[tag] = _uri(child.text) if permalink else _mended((child.text or "").strip())
        else:
            fields[tag] = _text(child.text, html=tag == "description")
    if item.attrib:
        return None
    link = fields.get("link", fields["guid"] if "guid" in fields and permalink else "")
    date = fields.get("pubDate")
    return RawItem(link, fields.get("guid", ""), fields.get("title", ""), fields.get("description", ""),
                   _parse_date(date) if date else None)


def read_plain_rss(content: bytes, headers: Mapping[str, str]) -> tuple[str, list[RawItem]] | None:
    """The feed's title and items if the document is plain RSS 2.0 (see the module doc), else None."""
    if not FEEDPARSER_STEPS:
        return None
    if not _utf8_declared(content, headers) or _header(headers, "content-location") or b"xml:base" in content:
        return None
    if b"<rss" not in content[:4096] or b"<!DOCTYPE" in content or b"<!ENTITY" in content:
        return None  # Atom and the rest are not parsed twice; no DTD is read
    try:
        root = etree.fromstring(content, PARSER)
    except (etree.XMLSyntaxError, ValueError):
        return None
    if root.tag != "rss" or root.get("version") != "2.0" or len(root) != 1 or root[0].tag != "channel":
        return None
    title, items = "", []
    for child in root[0]:
        tag = child.tag
        if not isinstance(tag, str):  # a comment or processing instruction
            return None
        if tag == "item":
            item = _item(child)
            if item is None:
                return None
            items.append(item)
        elif tag == ATOM_LINK and not len(child):
            continue
        elif tag not in CHANNEL_PLAIN or len(child):
            return None
        elif tag == "title":
            if title:
                return None
            title = _text(child.text)
    return title, items
