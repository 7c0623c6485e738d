"""The fast reading of an Atom 1.0 feed (already parsed by lxml) to the fields feedparser gives.

In: the ``<feed>`` element. Out: the feed's title and, per
entry, link, id, title, summary, author and date as :class:`~wirewatch.ingest.feed_text.RawItem`, or
:class:`~wirewatch.ingest.feed_charset.NotPlain` where the feed is not the plain case.

What feedparser does, and so what is done here: a text construct (title, summary, content) of type
``text`` (the default) is taken as it stands — no HTML guess in Atom — and one of type ``html`` has its
relative URIs resolved and is sanitised; ``xhtml``, other types, ``src`` and base64 go to feedparser.
The link is the href of the last ``rel="alternate"`` link of an HTML type, else the id. The summary
is the ``summary``, else a text or HTML ``content``. The author is "name (email)", or whichever of the
two is there, as written (feedparser does not mend these). The date is ``published``, else
``updated``. Each entry and the feed may hold at most one title, id, summary, content, author, date of
each kind; other elements only where passing over them leaves our fields alone
(:mod:`~wirewatch.ingest.rss_elements`).
"""

from __future__ import annotations

from lxml import etree
from wirewatch.ingest.feed_bases import XML_BASE
from wirewatch.ingest.feed_charset import NotPlain
from wirewatch.ingest.feed_text import RawItem, Steps, date, mended
from wirewatch.ingest.rss_elements import ENTRY_PASSED, FEED_PASSED, feedparser_name, passable

ATOM = "{http://www.w3.org/2005/Atom}"
ATOM_FEED = f"{ATOM}feed"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
HTML_TYPES = {"text/html", "application/xhtml+xml"}  # feedparser's, for a link to be the entry's link
# namespaces whose declaration would make feedparser read the document as another version
OTHER_VERSIONS = {"http://purl.org/rss/1.0/", "http://my.netscape.com/rdf/simple/0.9/"}
LINK_ATTRIBUTES = {"href", "rel", "type", "title", "hreflang", "length"}
TEXT_FIELDS = {"title", "summary", "content"}
SINGLE_FIELDS = {"id", "published", "updated"}
AUTHOR_PARTS = ("name", "email", "uri")


def _no_attributes(element: etree._Element, allowed: frozenset[str] = frozenset()) -> None:
    if set(element.attrib) - allowed - {XML_LANG, XML_BASE}:
        raise NotPlain(f"attributes on {feedparser_name(element)}")


def _construct(element: etree._Element) -> bool:
    """Whether a text construct (title, summary, content) is HTML; NotPlain unless it is text or HTML."""
    _no_attributes(element, frozenset({"type"}))
    kind = element.get("type", "text").lower()
    if kind not in ("text", "html", "text/plain", "text/html") or len(element):
        raise NotPlain(f"{feedparser_name(element)} of type {kind}")
    return kind in ("html", "text/html")


def _text(element: etree._Element, steps: Steps) -> str:
    """A text construct as feedparser gives it."""
    return steps.text(element, html=_construct(element), guess=False)


def _blank(value: str | None) -> bool:
    return not (value or "").strip()


def _local(tag: object, ns: str) -> str | None:
    """An element's name within the feed's namespace (Atom 1.0's, or none), else None."""
    return tag[len(ns):] if isinstance(tag, str) and tag.startswith(ns) and "}" not in tag[len(ns):] else None


def _author(element: etree._Element, ns: str) -> str:
    """feedparser's author string: "name (email)", or either; texts stripped, not mended."""
    _no_attributes(element)
    parts: dict[str, str] = {}
    if not _blank(element.text):
        raise NotPlain("text in an author")
    for child in element:
        part = _local(child.tag, ns)
        if part is None or part not in AUTHOR_PARTS or part in parts or len(child) or not _blank(child.tail):
            raise NotPlain("an author of other parts")
        _no_attributes(child)
        parts[part] = (child.text or "").strip()
    name, email = parts.get("name", ""), parts.get("email", "")
    return f"{name} ({email})" if name and email else name or email


def _link(element: etree._Element, steps: Steps) -> str | None:
    """The href if the link is one feedparser takes for the entry's link, else None."""
    _no_attributes(element, frozenset(LINK_ATTRIBUTES))
    if "href" not in element.attrib or len(element):
        raise NotPlain("a link without href")
    rel = element.get("rel", "alternate").lower()
    kind = element.get("type", "application/atom+xml" if rel == "self" else "text/html").lower()
    kind = {"text": "text/plain", "plain": "text/plain", "html": "text/html", "xhtml": "application/xhtml+xml"
            }.get(kind, kind)
    return steps.href(element) if rel == "alternate" and kind in HTML_TYPES else None


def _entry(entry: etree._Element, steps: Steps, ns: str) -> RawItem:
    _no_attributes(entry)
    fields: dict[str, str] = {}
    link = None
    body: etree._Element | None = None  # the content, worked on only where the summary is empty
    for child in entry:
        tag = child.tag
        if not isinstance(tag, str):
            raise NotPlain("comment or instruction in an entry")
        name = _local(tag, ns)
        if name == "link":  # feedparser sets the link on each alternate one; the id stands in for none
            found = _link(child, steps)
            link = found if found is not None else link
            continue
        if name not in TEXT_FIELDS | SINGLE_FIELDS | {"author"}:
            if not passable(child, ENTRY_PASSED):
                raise NotPlain(f"entry element {feedparser_name(child)}")
            continue
        if name in fields:
            raise NotPlain(f"entry {name} twice")
        if name == "content":
            _construct(child)
            fields[name], body = "", child
        elif name in TEXT_FIELDS:
            fields[name] = _text(child, steps)
        elif name == "author":
            fields[name] = _author(child, ns)
        else:
            _no_attributes(child)
            if len(child):
                raise NotPlain(f"entry {name} with elements inside")
            fields[name] = steps.uri(child) if name == "id" else mended((child.text or "").strip())
    summary = fields.get("summary") or (_text(body, steps) if body is not None else "")
    return RawItem(link if link is not None else fields.get("id", ""), fields.get("id", ""), fields.get("title", ""),
                   summary, fields.get("author", ""), date(fields.get("published"), fields.get("updated")))


def read_atom(root: etree._Element, steps: Steps) -> tuple[str, list[RawItem]]:
    """The feed's title and entries, as feedparser reads them; :class:`NotPlain` if not the plain case.
    A ``<feed>`` in no namespace (no ``version``) is read as Atom 1.0: feedparser's "atom" differs from
    its "atom10" only in xhtml content, which is left to it anyway."""
    ns = ATOM if root.tag == ATOM_FEED else ""
    if set(root.nsmap.values()) & OTHER_VERSIONS:
        raise NotPlain("Atom with an RSS 1.0 or 0.9 namespace")
    _no_attributes(root)
    title: str | None = None
    entries = []
    for child in root:
        tag = child.tag
        if not isinstance(tag, str):
            raise NotPlain("comment or instruction in the feed")
        if tag == f"{ns}entry":
            entries.append(_entry(child, steps, ns))
        elif tag == f"{ns}title" and title is None:
            title = _text(child, steps)
        elif tag == f"{ns}title" or not passable(child, FEED_PASSED):
            raise NotPlain(f"feed element {feedparser_name(child)}")
    return title or "", entries
