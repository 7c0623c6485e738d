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
- the metadata is only what the article keeps (:func:`page_metadata`: trafilatura's ``extract_metadata``
  without its categories, tags and licence, which wirewatch never reads), its author found without copying the
  page (``process.page_author``): the same fields, a few ms less;
- when the feed already gives the date (``need_date=False``), the page is not searched for one (the article
  takes the feed's: ``process.extractor.assemble``), and ``date`` is None;
- the language is identified here, in the worker, from the start of the extracted text;
- a page over :data:`LIGHT_BYTES` (1 MB; 3 of the 181 real pages, which their scripts make 1.1–1.5 MB) loses
  its scripts, styles, SVG and comments before extraction, and what is still over is cut: trafilatura's cost
  grows with the page, and the stage keeps at most ``[extract] max_text_chars`` of text anyway, so a page of
  megabytes costs what a page of 1 MB costs.

This module imports trafilatura, htmldate and py3langid; only extraction imports it, so commands
that do not extract do not pay for them.
"""

from __future__ import annotations

import contextlib
import re
from typing import Any

import py3langid
import trafilatura
from htmldate import find_date
from trafilatura import metadata as trafilatura_metadata
from trafilatura.settings import DEFAULT_CONFIG, Document, set_date_params
from trafilatura.utils import load_html
from wirewatch.process.page_author import page_author

WARM_UP_PAGE = (b"<html><head><title>Warm-up</title></head><body><article><p>"
                + b"Each extraction worker reads this page once as the stage starts, before any entry comes. " * 4
                + b"</p></article></body></html>")
LANGID_CHARS = 600  # enough: on 338 labeled texts in 16 languages and the 181 gold pages, as good as 2,000
FIELDS = ("title", "author", "date", "text", "sitename", "description")
LIGHT_BYTES = 1_000_000  # a larger page is lightened before extraction (see the module's docstring)
MAX_FILE_SIZE = DEFAULT_CONFIG.getint("DEFAULT", "MAX_FILE_SIZE")  # as bare_extraction reads a page
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


def page_metadata(tree: Any, url: str, date_params: dict[str, Any] | None) -> Document:
    """What ``trafilatura.metadata.extract_metadata(tree, url, date_params)`` finds, step by step as it does,
    less the steps whose fields the article never keeps (categories, tags, licence: a tenth of the page's
    extraction on the 181 real pages, ``benchmarks/bench_extraction.py``), and less the date when
    ``date_params`` is None (not searched for). The fields kept are the same (``tests/test_page_text.py``
    compares them with ``extract_metadata``'s on those pages). Reads the tree only."""
    meta = trafilatura_metadata
    found = meta.examine_meta(tree)
    if found.author and " " not in found.author:
        found.author = None
    with contextlib.suppress(Exception):  # bugs in trafilatura's JSON-LD reading: as extract_metadata, go on
        found = meta.extract_meta_json(tree, found)
    if not found.title:
        found.title = meta.extract_title(tree)
    if not found.author:
        found.author = page_author(tree)  # extract_author's, without its copy of the whole page
    if not found.url:
        found.url = meta.extract_url(tree, url)
    date_config = {**date_params, "url": found.url} if date_params is not None else {}
    found.date = find_date(tree, **date_config) if date_params is not None else None
    if not found.sitename:
        found.sitename = meta.extract_sitename(tree)
    if found.sitename:
        found.sitename = found.sitename.lstrip("@")
        if found.sitename and "." not in found.sitename and not found.sitename[0].isupper():
            found.sitename = found.sitename.title()
    elif found.url and (match := meta.META_URL.match(found.url)):
        found.sitename = match[1]
    found.filedate = date_config.get("max_date")
    found.clean_and_trim()
    return found


def extract_page(content: bytes, url: str, need_date: bool = True) -> dict[str, Any] | str:
    """The fields trafilatura finds on the page ({} for none), or why extraction failed."""
    try:
        tree = load_html(lighten(content), MAX_FILE_SIZE)
        if tree is None:
            return {}
        meta = page_metadata(tree, url, set_date_params(True) if need_date else None)
        # the metadata read the tree and changed nothing; the text's extraction cleans a copy of it
        doc = trafilatura.bare_extraction(tree, url=url or meta.url, fast=True, include_comments=False,
                                          include_tables=False)
    except Exception as exc:  # trafilatura/lxml can raise on hostile markup; fall back, keep the reason
        return f"extraction failed: {type(exc).__name__}: {exc}"
    if doc is None:
        return {}
    found: dict[str, Any] = {k: getattr(meta, k, None) for k in FIELDS}
    found["text"] = getattr(doc, "text", None)  # a Document (as_dict is not asked for)
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
