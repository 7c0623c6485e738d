"""The extract stage: fetch an entry's page and extract the article with trafilatura.

In: :class:`Entry`. Out: :class:`Article`. The page is fetched with limits (``wirewatch.http``),
then trafilatura extracts text, title, author, date and site name; the language is identified
with py3langid. When the page cannot be fetched, is not HTML, or yields less than
``min_text_chars`` of text, the feed's summary is used instead and the article says so
(``text_source = "feed_summary"``, ``fetch_error``). ``provenance`` names the source of each field.
"""

from __future__ import annotations

import logging
from typing import Any

import httpx
import py3langid
import trafilatura
from lxml import html as lxml_html

from wirewatch.config import ExtractSettings
from wirewatch.http import Fetched, FetchError, fetch
from wirewatch.kafka import ARTICLES, Output
from wirewatch.schema import Article, Entry

log = logging.getLogger(__name__)

HTML_TYPES = ("text/html", "application/xhtml+xml", "text/xml", "application/xml")
MAX_LANGID_CHARS = 2000


def strip_html(fragment: str) -> str:
    """Plain text of an HTML fragment such as a feed summary."""
    if "<" not in fragment:
        return fragment.strip()
    try:
        return " ".join(lxml_html.fromstring(f"<div>{fragment}</div>").text_content().split())
    except Exception:
        return fragment.strip()


def detect_language(text: str) -> str:
    if len(text.strip()) < 20:
        return ""
    lang, _score = py3langid.classify(text[:MAX_LANGID_CHARS])
    return str(lang)


def page_problem(page: Fetched) -> str:
    """Why a fetched page cannot be extracted, or '' if it can."""
    if page.status >= 400:
        return f"HTTP {page.status}"
    ctype = page.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype and not ctype.startswith(HTML_TYPES):
        return f"not HTML (content-type {ctype})"
    head = page.content[:1024]
    if b"\x00" in head:
        return "not HTML (binary content)"
    if not page.content.strip():
        return "empty page"
    return ""


def extract_from_page(page: Fetched) -> dict[str, Any]:
    """Run trafilatura on a page; an empty dict when it finds no article."""
    doc = trafilatura.bare_extraction(page.content, url=page.url, with_metadata=True, include_comments=False,
                                      include_tables=False)
    if doc is None:
        return {}
    data = doc.as_dict() if hasattr(doc, "as_dict") else dict(doc)
    return {k: data.get(k) for k in ("title", "author", "date", "text", "sitename", "description", "language")}


def build_article(entry: Entry, page: Fetched | None, fetch_error: str, settings: ExtractSettings) -> Article:
    """Combine the page's extraction (if usable) with the feed entry into an :class:`Article`."""
    problem = fetch_error or (page_problem(page) if page is not None else "no page fetched")
    extracted: dict[str, Any] = {}
    if not problem and page is not None:
        try:
            extracted = extract_from_page(page)
        except Exception as exc:  # trafilatura/lxml can raise on hostile markup; fall back, keep the reason
            problem = f"extraction failed: {type(exc).__name__}: {exc}"
        if not problem and len((extracted.get("text") or "").strip()) < settings.min_text_chars:
            problem = f"page yielded {len((extracted.get('text') or '').strip())} chars of text"
    provenance: dict[str, str] = {}

    def pick(field: str, page_value: Any, feed_value: Any) -> Any:
        if page_value:
            provenance[field] = "page"
            return page_value
        provenance[field] = "feed" if feed_value else "none"
        return feed_value

    if problem:
        text = strip_html(entry.summary) or entry.title
        provenance["text"] = "feed" if entry.summary else "feed_title"
        source = "feed_summary"
    else:
        text = extracted["text"].strip()
        provenance["text"] = "page"
        source = "page"
    title = pick("title", extracted.get("title"), entry.title)
    author = pick("author", extracted.get("author"), entry.author)
    published = entry.published or extracted.get("date") or None
    provenance["published"] = "feed" if entry.published else ("page" if published else "none")
    language = extracted.get("language") or ""
    if language:
        provenance["language"] = "page"
    else:
        language = detect_language(f"{title}\n{text}")
        provenance["language"] = "detected" if language else "none"
    return Article(entry=entry, title=title or "", text=text, author=author or "", published=published,
                   language=language, sitename=extracted.get("sitename") or "",
                   description=extracted.get("description") or "", text_source=source, fetch_error=problem,
                   provenance=provenance)


class Extractor:
    """The extract stage: ``handle(entry) -> [Output(articles, ...)]``."""

    def __init__(self, settings: ExtractSettings, client: httpx.Client) -> None:
        self.settings = settings
        self.client = client

    def handle(self, entry: Entry) -> list[Output]:
        page, error = None, ""
        if entry.url.lower().startswith(("http://", "https://")):
            try:
                page = fetch(self.client, entry.url, self.settings.max_bytes)
            except FetchError as exc:
                error = str(exc)
        else:
            error = f"entry has no http(s) link: {entry.url!r}"
        article = build_article(entry, page, error, self.settings)
        if article.fetch_error:
            log.warning("extract %s: using the feed summary: %s", entry.article_id, article.fetch_error)
        return [Output(ARTICLES, entry.article_id, article)]
