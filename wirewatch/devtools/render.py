"""Rendering of news items into the documents a real site serves: RSS 2.0, Atom 1.0 and HTML pages.

In: plain article records (title, body paragraphs, date, author, summary). Out: bytes. The pages
carry navigation, a cookie banner and a footer around the article, as real pages do, so that the
extractor has boilerplate to remove.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime
from html import escape


@dataclass(frozen=True)
class Item:
    url: str
    title: str
    body: list[str]
    published: str  # ISO 8601
    author: str = ""
    summary: str = ""
    guid: str = ""
    site: str = ""


def _when(iso: str) -> datetime:
    return datetime.fromisoformat(iso.replace("Z", "+00:00"))


def html_page(item: Item) -> bytes:
    paragraphs = "\n".join(f"<p>{escape(p)}</p>" for p in item.body)
    site = escape(item.site or "News")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{escape(item.title)} | {site}</title>
<meta name="author" content="{escape(item.author)}">
<meta property="article:published_time" content="{escape(item.published)}">
<meta property="og:site_name" content="{site}"></head>
<body>
<header><nav><a href="/">Home</a> | <a href="/world">World</a> | <a href="/business">Business</a> |
<a href="/sport">Sport</a> | <a href="/subscribe">Subscribe</a></nav></header>
<div class="cookie-banner">We use cookies to improve your experience. <button>Accept all</button></div>
<main><article>
<h1>{escape(item.title)}</h1>
<p class="byline">By {escape(item.author)} ·
<time datetime="{escape(item.published)}">{escape(item.published)}</time></p>
{paragraphs}
</article>
<aside><h3>Most read</h3><ul><li><a href="/a">Markets close higher</a></li>
<li><a href="/b">Ten tips for your garden</a></li></ul></aside></main>
<footer><p>© {site}. All rights reserved. <a href="/privacy">Privacy</a> · <a href="/terms">Terms</a></p></footer>
</body></html>""".encode()


def rss_feed(title: str, link: str, items: list[Item]) -> bytes:
    entries = "\n".join(
        f"""<item><title>{escape(i.title)}</title><link>{escape(i.url)}</link>
<guid isPermaLink="false">{escape(i.guid or i.url)}</guid>
<pubDate>{format_datetime(_when(i.published))}</pubDate>
<author>{escape(i.author)}</author><description>{escape(i.summary)}</description></item>"""
        for i in items)
    return f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>{escape(title)}</title><link>{escape(link)}</link>
<description>{escape(title)}</description>
{entries}
</channel></rss>""".encode()


def atom_feed(title: str, link: str, items: list[Item]) -> bytes:
    updated = max((i.published for i in items), default="2024-01-01T00:00:00Z")
    entries = "\n".join(
        f"""<entry><title>{escape(i.title)}</title><link rel="alternate" href="{escape(i.url)}"/>
<id>{escape(i.guid or i.url)}</id><updated>{escape(i.published)}</updated><published>{escape(i.published)}</published>
<author><name>{escape(i.author)}</name></author><summary>{escape(i.summary)}</summary></entry>"""
        for i in items)
    return f"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>{escape(title)}</title>
<link href="{escape(link)}"/><id>{escape(link)}</id><updated>{escape(updated)}</updated>
{entries}
</feed>""".encode()
