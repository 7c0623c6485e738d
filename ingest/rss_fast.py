"""The fast reading of an RSS 2.0 channel (already parsed by lxml) to the fields feedparser gives.

In: the ``<rss>`` element. Out: the channel's title and, per item, link, id, title, summary, author
and date as :class:`~wirewatch.ingest.feed_text.RawItem` — or
:class:`~wirewatch.ingest.feed_charset.NotPlain` where the channel is not the plain case.

feedparser costs about 0.5 ms for a one-item feed (a SAX parse in pure Python, with HTML sanitising),
most of a poll cycle's CPU when every feed has something new. Read here: items with at most one each
of title, link, guid (``isPermaLink`` its one attribute), description, ``content:encoded``, pubDate,
an update date (``dc:date`` or ``atom:updated``), and any number of authors (``author``,
``dc:creator``, ``itunes:author``: feedparser keeps the last), no elements inside those; besides them
only elements whose effect in feedparser leaves our fields alone (:mod:`~wirewatch.ingest.rss_elements`:
categories, enclosures, comments, thumbnails, podcast details, the channel's image and syndication
hints...). What feedparser does,
and so what is done here: the title is plain text unless it looks like HTML, the description and
content are HTML; the summary is the description, else the content; a permalink GUID is the link
where there is none; the date is pubDate, else the update date. Anything else — RSS 0.9x, ``source``,
``media:title``, ``itunes:summary``, an ``atom:link`` in an item, attributes on a field — goes to
feedparser.
"""

from __future__ import annotations

from lxml import etree
from wirewatch.ingest.feed_bases import XML_BASE
from wirewatch.ingest.feed_charset import NotPlain
from wirewatch.ingest.feed_text import RawItem, Steps, date, mended
from wirewatch.ingest.rss_elements import CHANNEL_PASSED, ITEM_PASSED, feedparser_name, passable

DC = "{http://purl.org/dc/elements/1.1/}"
CONTENT_ENCODED = "{http://purl.org/rss/1.0/modules/content/}encoded"
ITUNES_AUTHOR = "{http://www.itunes.com/dtds/podcast-1.0.dtd}author"
# the item elements read here, by the field each fills: an author from RSS or Dublin Core, the body
# from content:encoded when there is no description, the date from pubDate or else dc:date/atom:updated
FIELD_OF = {"title": "title", "link": "link", "guid": "guid", "description": "description", "pubDate": "published",
            "author": "author", f"{DC}creator": "author", ITUNES_AUTHOR: "author", CONTENT_ENCODED: "content",
            f"{DC}date": "updated", "{http://www.w3.org/2005/Atom}updated": "updated"}


def _item(item: etree._Element, steps: Steps) -> RawItem:
    fields: dict[str, str] = {}
    body: etree._Element | None = None  # content:encoded, worked on only where there is no description
    permalink = True
    if set(item.attrib) - {XML_BASE}:
        raise NotPlain("item attributes")
    for child in item:
        tag = child.tag
        if not isinstance(tag, str):
            raise NotPlain("comment or instruction in an item")
        field = FIELD_OF.get(tag)
        if field is None:
            if not passable(child, ITEM_PASSED):
                raise NotPlain(f"item element {feedparser_name(child)}")
            continue
        if len(child):  # markup inside: feedparser reads it as text of its own
            raise NotPlain(f"item element {feedparser_name(child)} with elements inside")
        # of several authors feedparser keeps the last one's text (each starts an empty detail of its own)
        if (field in fields and field != "author") or set(child.attrib.keys()) - {"isPermaLink", XML_BASE}:
            raise NotPlain(f"item {feedparser_name(child)} twice or with attributes")
        if tag == "guid":
            permalink = child.get("isPermaLink", "true") == "true"
        elif "isPermaLink" in child.attrib:
            raise NotPlain("isPermaLink outside a guid")
        if field == "link":
            fields[field] = steps.rss_link(child)
        elif field == "guid":
            fields[field] = steps.uri(child) if permalink else mended((child.text or "").strip())
        elif field == "content":
            fields[field], body = "", child
        elif field in ("title", "description"):
            fields[field] = steps.text(child, html=field == "description")
        else:  # author, dates: text as it stands
            fields[field] = mended((child.text or "").strip())
    link = fields.get("link", fields["guid"] if "guid" in fields and permalink else "")
    # feedparser's summary is the description, or content:encoded where there is none; wirewatch takes
    # the content when the summary is empty
    summary = fields.get("description") or (steps.text(body, html=True) if body is not None else "")
    return RawItem(link, fields.get("guid", ""), fields.get("title", ""), summary, fields.get("author", ""),
                   date(fields.get("published"), fields.get("updated")))


def read_rss(root: etree._Element, steps: Steps) -> tuple[str, list[RawItem]]:
    """The channel's title and items, as feedparser reads them; :class:`NotPlain` if not the plain case."""
    if root.tag != "rss" or root.get("version") != "2.0" or len(root) != 1 or root[0].tag != "channel":
        raise NotPlain("not an RSS 2.0 channel")
    if set(root.attrib) - {"version", XML_BASE} or set(root[0].attrib) - {XML_BASE}:
        raise NotPlain("attributes on rss or channel")
    title: str | None = None
    items = []
    for child in root[0]:
        tag = child.tag
        if not isinstance(tag, str):
            raise NotPlain("comment or instruction in the channel")
        if tag == "item":
            items.append(_item(child, steps))
        elif tag == "title" and not len(child) and not child.attrib and title is None:
            title = steps.text(child)
        elif tag == "title" or not passable(child, CHANNEL_PASSED):
            raise NotPlain(f"channel element {feedparser_name(child)}")
    return title or "", items
