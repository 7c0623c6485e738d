"""One fetched page's HTML → the article fields trafilatura finds in it, and the text's language.

In: the page's bytes and URL. Out: a dict of ``title``, ``author``, ``date``, ``text``, ``sitename``,
``description``, ``language`` (with ``language_source``), or a string saying why extraction failed.
A plain function of bytes, so that it runs in a worker process; it never raises, and it never
fetches anything.

What it costs, and why it is done this way (figures in docs/benchmarks.md, issue 14):
- the page is parsed once: trafilatura reads metadata, the date (htmldate, on the same tree) and
  the text from one lxml tree; there is no second htmldate pass over the bytes (with the same
  parameters it found no date trafilatura had not found, on any of the 181 real gold pages);
- ``fast=True`` (no fallback extractors): cheaper, and its token F1 on the gold pages is higher;
- when the feed already gives the date (``need_date=False``), htmldate's extensive search is skipped;
- the language is identified here, in the worker, from the start of the extracted text;
- a page over :data:`LIGHT_BYTES` (1 MB; 3 of the 181 real pages, which their scripts make 1.1–1.5 MB) loses
  its scripts, styles, SVG and comments before extraction, and what is still over is cut: trafilatura's cost
  grows with the page, and the stage keeps at most ``[extract] max_text_chars`` of text anyway, so a page of
  megabytes costs what a page of 1 MB costs.

This module imports trafilatura, htmldate and py3langid; only extraction imports it, so commands
that do not extract do not pay for them.
"""

from __future__ import annotations

import re
from typing import Any

import py3langid
import trafilatura
from trafilatura.settings import set_date_params

WARM_UP_PAGE = (b"<html><head><title>Warm-up</title></head><body><article><p>"
                + b"Each extraction worker reads this page once as the stage starts, before any entry comes. " * 4
                + b"</p></article></body></html>")
LANGID_CHARS = 600  # enough: on 338 labeled texts in 16 languages and the 181 gold pages, as good as 2,000
FIELDS = ("title", "author", "date", "text", "sitename", "description")
LIGHT_BYTES = 1_000_000  # a larger page is lightened before extraction (see the module's docstring)
_NOT_TEXT = re.compile(rb"<(script|style|noscript|svg|template)\b.*?</\1\s*>|<!--.*?-->", re.S | re.I)


def lighten(content: bytes, limit: int = LIGHT_BYTES) -> bytes:
    """A page of at most ``limit`` bytes as it is; a larger one without its scripts, styles, SVG, templates and
    comments, cut before the last tag that starts within ``limit`` bytes if it is still larger."""
    if len(content) <= limit:
        return content
    content = _NOT_TEXT.sub(b"", content)
    if len(content) <= limit:
        return content
    end = content.rfind(b"<", 0, limit)
    return content[:end] if end > 0 else content[:limit]


def detect_language(text: str) -> str:
    """ISO 639-1 code of the text's language by py3langid, or '' for too little text."""
    if len(text.strip()) < 20:
        return ""
    lang, _score = py3langid.classify(text[:LANGID_CHARS])
    return str(lang)


def extract_page(content: bytes, url: str, need_date: bool = True) -> dict[str, Any] | str:
    """The fields trafilatura finds on the page ({} for none), or why extraction failed."""
    try:
        doc = trafilatura.bare_extraction(lighten(content), url=url, fast=True, with_metadata=True,
                                          include_comments=False, include_tables=False,
                                          date_extraction_params=set_date_params(need_date))
    except Exception as exc:  # trafilatura/lxml can raise on hostile markup; fall back, keep the reason
        return f"extraction failed: {type(exc).__name__}: {exc}"
    if doc is None:
        return {}
    found: dict[str, Any] = {k: getattr(doc, k, None) for k in FIELDS}
    text = (found["text"] or "").strip()
    try:
        language = detect_language(f"{found['title'] or ''}\n{text}") if text else ""
    except Exception:  # py3langid on odd text: no language is an answer, the stage detects it again
        language = ""
    found.update(language=language, language_source="detected" if language else "")
    return found


def warm_up() -> None:
    """Extract :data:`WARM_UP_PAGE`: py3langid's model and trafilatura's lazy tables are loaded after it
    (the extraction pool's fork server does it once for all its workers: ``process.pool_preload``)."""
    extract_page(WARM_UP_PAGE, "https://warm-up.invalid/")
