"""feedparser's own steps for one element's text, for the fast readings (RSS and Atom) to give the text
feedparser gives.

In: an element (its text, or an attribute's value), whether it is HTML. Out: the string feedparser's
``pop`` would store — stripped, relative URIs resolved in and dangerous markup sanitised out of HTML
against the element's base URI, doubly encoded UTF-8 mended, C1 codes mapped as cp1252 — each step done
by feedparser's function for it. :class:`Steps` holds one document's bases and the parse worker's
:class:`MarkupMemo` of HTML already cleaned. :data:`FEEDPARSER_STEPS` is False when a feedparser
release moved these functions; then the fast readings take nothing.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

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


@dataclass(frozen=True)
class RawItem:
    """One entry's fields as feedparser gives them (the summary is content where feedparser's is empty)."""
    link: str
    id: str
    title: str
    summary: str
    author: str
    published: time.struct_time | None


def _cleaned(value: str, base: str) -> str:
    """feedparser's two HTML steps: relative URIs resolved against the base, then sanitised."""
    return str(_sanitize_html(resolve_relative_uris(value, base, "utf-8", "text/html"), "utf-8", "text/html"))


class MarkupMemo:
    """feedparser's HTML steps for texts met before, remembered: they are nearly all of a parse's CPU
    (two passes of feedparser's pure-Python HTML parser), and a feed polled again repeats most of its
    entries. Bounded: the least recently used are forgotten past ``max_chars`` characters in all, and a
    text longer than an eighth of that is never kept. One per parse worker, used by one thread."""

    def __init__(self, max_chars: int = 4_000_000) -> None:
        self.max_chars = max_chars
        self.chars = 0
        self._done: OrderedDict[tuple[str, str], str] = OrderedDict()

    def cleaned(self, value: str, base: str = "") -> str:
        done = self._done.get((value, base))
        if done is not None:
            self._done.move_to_end((value, base))
            return done
        done = _cleaned(value, base)
        size = len(value) + len(done) + len(base)
        if size <= self.max_chars // 8:
            self._done[value, base] = done
            self.chars += size
            while self.chars > self.max_chars:
                (old, old_base), old_done = self._done.popitem(last=False)
                self.chars -= len(old) + len(old_done) + len(old_base)
        return done


@dataclass
class Steps:
    """What the text steps of one document need besides the text: the parse worker's memo (or none),
    and each element's base URI (:func:`~wirewatch.ingest.feed_bases.bases`; none: every base is '')."""
    memo: MarkupMemo | None = None
    bases: dict[Any, str] = field(default_factory=dict)

    def base(self, element: Any) -> str:
        return self.bases.get(element, "") if self.bases else ""

    def text(self, element: Any, html: bool = False, guess: bool = True) -> str:
        """An element's text through the steps feedparser's ``pop`` takes: HTML (``html``), or plain text
        that feedparser guesses is HTML when it looks like it (``guess``, RSS only), or plain text; the
        HTML steps remembered in the memo where there is one."""
        value = (element.text or "").strip()
        if html or (guess and looks_like_html(value)):
            base = self.base(element)
            value = self.memo.cleaned(value, base) if self.memo is not None else _cleaned(value, base)
        return mended(value)

    def uri(self, element: Any) -> str:
        """A link or permalink id in an element's text as feedparser gives it: resolved against its base."""
        return mended(_urljoin(self.base(element), (element.text or "").strip()))

    def href(self, element: Any) -> str:
        """A URI from an attribute (an Atom link's href): feedparser resolves it, nothing else."""
        return str(_urljoin(self.base(element), element.get("href", "")))

    def rss_link(self, element: Any) -> str:
        """An RSS item's link, with feedparser's repair of query strings escaped twice."""
        return re.sub("&([A-Za-z0-9_]+);", r"&\g<1>", self.uri(element).replace("&amp;", "&"))


def mended(value: str) -> str:
    """feedparser's repair of UTF-8 read as Latin-1 (it parses every document as UTF-8, so for all), and
    its map of C1 codes as cp1252."""
    with contextlib.suppress(UnicodeEncodeError, UnicodeDecodeError):
        value = value.encode("iso-8859-1").decode("utf-8")
    return value.translate(_cp1252)


def date(first: str | None, second: str | None) -> time.struct_time | None:
    """feedparser's parse of the published date, or else of the updated one (what wirewatch takes)."""
    return (_parse_date(first) if first else None) or (_parse_date(second) if second else None)
