"""The fast reading of a fetched feed: plain RSS 2.0, RSS 1.0/0.90 (RDF) and Atom 1.0 by lxml, to what
feedparser would give, or nothing (then feedparser reads it).

In: the feed's bytes and response headers. Out: the feed's title and its entries' fields as
:class:`~wirewatch.ingest.feed_text.RawItem` — or ``None``, and :func:`why_not_fast` says why.

Taken here: a document served as XML whose encoding feedparser would settle without a guess
(:mod:`~wirewatch.ingest.feed_charset`), well-formed to lxml, with no DTD and no Content-Location
(``xml:base`` is followed as feedparser follows it: :mod:`~wirewatch.ingest.feed_bases`), whose root
is ``<rss version="2.0">`` or ``rdf:RDF`` (:mod:`~wirewatch.ingest.rss_fast`) or an Atom 1.0 ``<feed>``
(:mod:`~wirewatch.ingest.atom_fast`), each holding only elements whose effect on our fields in feedparser is known.
``tests/test_rss_fast.py`` holds the result to feedparser's on every feed and parser case of
``../shared`` taken here.
"""

from __future__ import annotations

from collections.abc import Mapping

from lxml import etree
from wirewatch.ingest.atom_fast import ATOM_FEED, read_atom
from wirewatch.ingest.feed_bases import bases
from wirewatch.ingest.feed_charset import NotPlain, decoded, header
from wirewatch.ingest.feed_text import FEEDPARSER_STEPS, MarkupMemo, RawItem, Steps
from wirewatch.ingest.rss_fast import RDF, read_rdf, read_rss

RDF_ROOT = f"{RDF}RDF"
ATOM_03_FEED = "{http://purl.org/atom/ns#}feed"
PARSER = etree.XMLParser(resolve_entities=False, no_network=True)


def read_fast(content: bytes, headers: Mapping[str, str], memo: MarkupMemo | None = None
              ) -> tuple[str, list[RawItem]] | None:
    """The feed's title and entries if the fast reading takes the document (see the module doc), else None;
    the HTML steps remembered in ``memo`` where one is given."""
    try:
        return _read(content, headers, memo)
    except NotPlain:
        return None


def why_not_fast(content: bytes, headers: Mapping[str, str]) -> str:
    """Why the fast reading leaves the document to feedparser ('' if it takes it)."""
    try:
        _read(content, headers)
    except NotPlain as exc:
        return str(exc)
    return ""


def _read(content: bytes, headers: Mapping[str, str], memo: MarkupMemo | None = None
          ) -> tuple[str, list[RawItem]]:
    if not FEEDPARSER_STEPS:
        raise NotPlain("feedparser's inner steps moved")
    if header(headers, "content-location"):
        raise NotPlain("a base URI from the headers")
    head = content[:4096]
    if b"<rss" not in head and b"feed" not in head and b"RDF" not in head:
        raise NotPlain("neither RSS, RDF nor Atom")  # the rest are not parsed twice
    if b"<!DOCTYPE" in content or b"<!ENTITY" in content:
        raise NotPlain("a DTD")  # none is read
    document = decoded(content, headers)  # after the cheap looks: it may decode the whole document
    try:
        root = etree.fromstring(document, PARSER)
    except (etree.XMLSyntaxError, ValueError):
        raise NotPlain("not well-formed") from None
    steps = Steps(memo, bases(content, root))
    if root.tag in (ATOM_FEED, "feed"):
        return read_atom(root, steps)
    if root.tag == RDF_ROOT:
        return read_rdf(root, steps)
    if root.tag == ATOM_03_FEED:
        raise NotPlain("Atom 0.3")  # its content modes and dates are feedparser's
    return read_rss(root, steps)
