"""The fast reading of an RSS 2.0 channel, or of an RSS 1.0/0.90 (RDF) document, already parsed by
lxml, to the fields feedparser gives.

In: the ``<rss>`` (or ``rdf:RDF``) element. Out: the channel's title and, per item, link, id, title,
summary, author and date as :class:`~wirewatch.ingest.feed_text.RawItem` — or
:class:`~wirewatch.ingest.feed_charset.NotPlain` where the channel is not the plain case.

feedparser costs about 0.5 ms for a one-item feed (a SAX parse in pure Python, with HTML sanitising),
most of a poll cycle's CPU when every feed has something new. Read here: items with at most one each
of link, guid (``isPermaLink`` its one attribute), description, ``content:encoded``, pubDate,
an update date (``dc:date`` or ``atom:updated``), any number of titles (``title``, ``dc:title``:
feedparser keeps the first that is not empty) and of authors (``author``, ``dc:creator``,
``itunes:author``: feedparser keeps the last), no elements inside those; besides them only elements
whose effect in feedparser leaves our fields alone (:mod:`~wirewatch.ingest.rss_elements`:
categories, enclosures, comments, thumbnails, podcast details, an item's picture, the channel's image
and syndication hints...). What feedparser does, and so what is done here: the title is plain text
unless it looks like HTML, the description and content are HTML; the summary is the description,
else the content; a permalink GUID is the link where there is none; the date is pubDate, else the
update date. In RDF the items stand beside the channel, and an item's id is its ``rdf:about`` (no
guid, never the link). Anything else — RSS 0.9x, ``source``, ``media:title`` or ``itunes:summary``
in an item, an ``atom:link`` in an item, attributes on a field, a ``textinput`` — goes to feedparser.
"""

from __future__ import annotations

from lxml import etree
from wirewatch.ingest.feed_bases import XML_BASE
from wirewatch.ingest.feed_charset import NotPlain
from wirewatch.ingest.feed_text import RawItem, Steps, date, mended
from wirewatch.ingest.rss_elements import (
    CHANNEL_PASSED,
    ITEM_NESTED,
    ITEM_PASSED,
    feedparser_name,
    holds_image,
    holds_title,
    passable,
)

DC = "{http://purl.org/dc/elements/1.1/}"
CONTENT_ENCODED = "{http://purl.org/rss/1.0/modules/content/}encoded"
RDF = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}"
RDF_ABOUT = f"{RDF}about"
RDF_VERSIONS = {"http://purl.org/rss/1.0/", "http://my.netscape.com/rdf/simple/0.9/"}
ATOM_NS = "http://www.w3.org/2005/Atom"
ITUNES_AUTHOR = "{http://www.itunes.com/dtds/podcast-1.0.dtd}author"
# the item elements read here, by the field each fills: a title or dc:title, an author from RSS or Dublin Core, the body
# from content:encoded when there is no description, the date from pubDate or else dc:date/atom:updated
FIELD_OF = {"title": "title", f"{DC}title": "title", "link": "link", "guid": "guid", "description": "description",
            "pubDate": "published",
            "author": "author", f"{DC}creator": "author", ITUNES_AUTHOR: "author", CONTENT_ENCODED: "content",
            f"{DC}date": "updated", "{http://www.w3.org/2005/Atom}updated": "updated"}


def _item(item: etree._Element, steps: Steps, rdf: str = "") -> RawItem:
    """One item (of RSS 2.0, or of RSS 1.0/0.90 when ``rdf`` is its namespace, read as feedparser reads
    an item of either: the same names)."""
    fields: dict[str, str] = {}
    body: etree._Element | None = None  # content:encoded, worked on only where there is no description
    permalink = not rdf  # an RDF item's id is its rdf:about, never its link
    nested_title = False
    titles, image = 0, False  # an image resets feedparser's title depth: then of two titles the last wins
    if set(item.attrib) - ({XML_BASE, RDF_ABOUT} if rdf else {XML_BASE}):
        raise NotPlain("item attributes")
    for child in item:
        tag = child.tag
        if not isinstance(tag, str):
            raise NotPlain("comment or instruction in an item")
        if rdf and tag.startswith(rdf):
            tag = tag[len(rdf):]
        field = FIELD_OF.get(tag)
        if field is None:
            if not passable(child, ITEM_PASSED, ITEM_NESTED):
                raise NotPlain(f"item element {feedparser_name(child)}")
            nested_title = nested_title or holds_title(child)
            image = image or holds_image(child)
            continue
        if rdf and field == "guid":
            raise NotPlain("a guid in an RDF item")
        if len(child):  # markup inside: feedparser reads it as text of its own
            raise NotPlain(f"item element {feedparser_name(child)} with elements inside")
        # of several authors feedparser keeps the last one's text (each starts an empty detail of its own)
        twice = field in fields and field not in ("author", "title")
        if twice or set(child.attrib.keys()) - {"isPermaLink", XML_BASE}:
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
        elif field == "title":  # of several, feedparser keeps the first that is not empty, else the last
            titles += 1
            value = steps.text(child)
            fields[field] = value if not fields.get(field) else fields[field]
        elif field == "description":
            fields[field] = steps.text(child, html=True)
        else:  # author, dates: text as it stands
            fields[field] = mended((child.text or "").strip())
    if titles > 1 and image:
        raise NotPlain("two titles and an image in an item")
    if nested_title and "title" not in fields:
        raise NotPlain("a title only inside an item's image or media element")
    if rdf:  # feedparser takes the attribute as it stands, not mended (and parse_feed strips every field)
        fields["guid"] = item.get(RDF_ABOUT, "").strip()
    link = fields.get("link", fields["guid"] if "guid" in fields and permalink else "")
    # feedparser's summary is the description, or content:encoded where there is none; wirewatch takes
    # the content when the summary is empty
    summary = fields.get("description") or (steps.text(body, html=True) if body is not None else "")
    return RawItem(link, fields.get("guid", ""), fields.get("title", ""), summary, fields.get("author", ""),
                   date(fields.get("published"), fields.get("updated")))


def _title(child: etree._Element, title: str | None, steps: Steps) -> str:
    if len(child) or child.attrib or title is not None:
        raise NotPlain(f"channel element {feedparser_name(child)}")
    return steps.text(child)


def read_rdf(root: etree._Element, steps: Steps) -> tuple[str, list[RawItem]]:
    """An RSS 1.0 or 0.90 document (``rdf:RDF``, its channel and items side by side) as feedparser reads
    it: as RSS 2.0 but for the item's id, its ``rdf:about`` (never its link), and no guid."""
    rss = root.nsmap.get(None)
    if rss not in RDF_VERSIONS or ATOM_NS in root.nsmap.values() or set(root.attrib) - {XML_BASE}:
        raise NotPlain("RDF in neither RSS 1.0 nor 0.90, or with Atom declared")  # feedparser's version would move
    title: str | None = None
    items, channels = [], 0
    for child in root:
        tag = child.tag
        if not isinstance(tag, str):
            raise NotPlain("comment or instruction in the RDF")
        if tag == f"{{{rss}}}item":
            items.append(_item(child, steps, rdf=f"{{{rss}}}"))
        elif tag == f"{{{rss}}}channel" and not channels and not set(child.attrib) - {XML_BASE, RDF_ABOUT}:
            channels += 1
            for part in child:
                if not isinstance(part.tag, str):
                    raise NotPlain("comment or instruction in the channel")
                if part.tag == f"{{{rss}}}title":
                    title = _title(part, title, steps)
                elif part.tag == f"{{{rss}}}items":  # the items' table of contents: an rdf:Seq of rdf:li
                    if not _contents(part):
                        raise NotPlain("an RDF channel's items other than a sequence")
                elif not passable(part, CHANNEL_PASSED):
                    raise NotPlain(f"channel element {feedparser_name(part)}")
        elif tag != f"{{{rss}}}image" or not passable(child, CHANNEL_PASSED):
            raise NotPlain(f"RDF element {feedparser_name(child)}")  # a textinput is feedparser's
    if not channels:
        raise NotPlain("RDF without a channel")
    return title or "", items


def _contents(items: etree._Element) -> bool:
    """``<items><rdf:Seq><rdf:li rdf:resource="…"/>…</rdf:Seq></items>``: filed by feedparser apart from ours."""
    return not items.attrib and len(items) == 1 and items[0].tag == f"{RDF}Seq" and not items[0].attrib \
        and all(li.tag == f"{RDF}li" and not len(li) and not (li.text or "").strip() for li in items[0])


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
        elif tag == "title":
            title = _title(child, title, steps)
        elif not passable(child, CHANNEL_PASSED):
            raise NotPlain(f"channel element {feedparser_name(child)}")
    return title or "", items
