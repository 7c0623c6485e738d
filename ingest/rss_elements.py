"""Which elements of an RSS 2.0 channel or item the fast reading may pass over, by what feedparser does
with them.

In: an lxml element. Out: the name feedparser files it under (``media_thumbnail``, ``title``…) and
whether passing over it leaves every field wirewatch reads (the feed's title; an entry's link, id,
title, summary or content, author and dates) as feedparser would set them.

feedparser names an element by its namespace's usual prefix (``dc``, ``media``, ``itunes``…, none
for RSS and Atom) or, for a namespace it does not know, the document's own prefix, joined to the
lower-cased local name; it calls its handler of that name if it has one, or else stores the text
under the name. So an element is safe to pass over when it is a leaf and either (a) feedparser has
no handler for its name and the name is none of the keys we read (nor an alias feedparser maps onto
one, like ``date`` or ``guid``), or (b) its name is in the lists below, handlers read in feedparser's
source to touch none of our fields (categories, enclosures, thumbnails, podcast details, the
channel's own links and authors). Everything else — ``media:title`` and ``itunes:summary``, which
feedparser reads as the entry's title and summary, an ``atom:link`` in an item, an element named
like one of ours in an unknown namespace, a ``source`` — makes the document feedparser's.
"""

from __future__ import annotations

from lxml import etree

try:
    from feedparser.mixin import _FeedParserMixin

    MIXIN: type | None = _FeedParserMixin
    PREFIXES = {uri.lower(): prefix for uri, prefix in _FeedParserMixin.namespaces.items()}
except (ImportError, AttributeError):  # then rss_fast takes nothing
    MIXIN, PREFIXES = None, {}

# what wirewatch reads from an entry or the feed, and the names feedparser stores onto those keys
OURS = {"title", "link", "links", "id", "guid", "guidislink", "summary", "description", "content", "author",
        "authors", "author_detail", "published", "published_parsed", "updated", "updated_parsed", "date",
        "date_parsed", "modified", "modified_parsed", "issued", "issued_parsed", "href", "url", "entries",
        "items", "feed", "channel", "item", "entry", "source", "subtitle", "tagline"}

# handled by feedparser, filed apart from our fields (read in feedparser 6.0's namespaces/*.py)
ITEM_PASSED = {"category", "comments", "enclosure", "media_thumbnail", "media_content", "image", "itunes_image",
               "itunes_explicit", "itunes_keywords", "itunes_subtitle", "dc_publisher", "dc_subject", "dc_rights"}
CHANNEL_PASSED = {"link", "description", "language", "copyright", "managingeditor", "webmaster", "pubdate",
                  "lastbuilddate", "category", "generator", "cloud", "itunes_author", "itunes_subtitle",
                  "itunes_summary", "itunes_explicit", "itunes_image", "itunes_keywords", "itunes_category",
                  "itunes_owner", "dc_language", "dc_rights", "dc_creator", "dc_publisher", "dc_subject",
                  "dc_date", "media_thumbnail", "image"}
# Atom: the feed's own id, links, authors, dates and descriptions; an entry's categories and rights
FEED_PASSED = {"id", "updated", "published", "link", "author", "contributor", "subtitle", "generator", "icon",
               "logo", "rights", "category"}
ENTRY_PASSED = {"category", "rights", "media_thumbnail", "media_content"}
PERSON = {"name", "email", "uri"}
NESTED = {"image": {"url", "title", "link", "width", "height", "description"},  # the channel's logo
          "itunes_owner": {"itunes_name", "itunes_email"}, "itunes_category": {"itunes_category"},
          "author": PERSON, "contributor": PERSON}
# inside an item: an image (a picture's url, title, link, size: no description, which feedparser would
# read as the entry's summary) and a media element holding a title. feedparser files such a title as
# the entry's own only where the item has none: a title deeper in the item never replaces a shallower
# one (its depth map), and a shallower one after it is not held back (the image resets the title
# depth, ``media:title`` restores it). So these pass only in an item with a title of its own.
ITEM_NESTED = {"image": {"url", "title", "link", "width", "height"}, "media_content": {"media_title"}}
NESTED_TITLES = {"title", "media_title"}


def feedparser_name(element: etree._Element) -> str:
    """The name feedparser gives the element (its handler is ``_start_`` + this)."""
    qname = etree.QName(element)
    uri, local = qname.namespace, qname.localname.lower()
    if uri is None:
        return str(local)
    prefix = PREFIXES.get(uri.lower(), element.prefix)
    return f"{prefix.lower()}_{local}" if prefix else local


def _stored_apart(name: str) -> bool:
    """An element feedparser has no handler for, stored under a name that is none of ours."""
    return MIXIN is not None and name not in OURS and not hasattr(MIXIN, f"_start_{name}") \
        and not hasattr(MIXIN, f"_end_{name}")


def _leaf(element: etree._Element) -> bool:
    return isinstance(element.tag, str) and not len(element)


def passable(element: etree._Element, passed: set[str], nested: dict[str, set[str]] = NESTED) -> bool:
    """Whether the element (child of an item or channel) sets none of our fields in feedparser: a leaf
    passed over or stored apart; one of the ``nested`` holding only its listed leaves; or an element
    feedparser has no handler for (an item's ``<categories>``) holding only leaves that pass — feedparser
    handles those as if they stood in the item itself (one level deeper, which only our fields heed)."""
    name = feedparser_name(element)
    if not len(element):
        return name in passed or _stored_apart(name)
    inner = nested.get(name) if name in passed else None
    if inner is not None:
        return all(_leaf(c) and feedparser_name(c) in inner for c in element)
    return _stored_apart(name) and all(_leaf(c) and passable(c, passed, {}) for c in element)


def holds_image(element: etree._Element) -> bool:
    """Whether an element passed over in an item is or holds an ``<image>``: its start resets feedparser's
    title depth, so that a title after it replaces the item's first."""
    return feedparser_name(element) == "image" or any(
        isinstance(c.tag, str) and feedparser_name(c) == "image" for c in element)


def holds_title(element: etree._Element) -> bool:
    """Whether a nested element (:data:`ITEM_NESTED`) holds a title feedparser could take for the entry's."""
    return any(isinstance(c.tag, str) and feedparser_name(c) in NESTED_TITLES for c in element)
