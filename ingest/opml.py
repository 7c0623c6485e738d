"""OPML import and export of the feed list.

In: an OPML document (bytes). Out: (URL, title) pairs of every outline with an ``xmlUrl``, nested
folders included; and back: an OPML 2.0 document of the feeds. External entities and network
access are disabled when parsing.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from email.utils import format_datetime

from lxml import etree


class OpmlError(ValueError):
    """A document that is not OPML; the message says where it went wrong."""


def read_opml(data: bytes, source: str = "OPML") -> list[tuple[str, str]]:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, recover=False, huge_tree=False)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise OpmlError(f"{source}: not well-formed XML: {exc}") from None
    if etree.QName(root).localname != "opml":
        raise OpmlError(f"{source}: root element is <{etree.QName(root).localname}>, expected <opml>")
    feeds, seen = [], set()
    for outline in root.iter("{*}outline", "outline"):
        url = (outline.get("xmlUrl") or outline.get("xmlurl") or "").strip()
        if url and url not in seen:
            seen.add(url)
            feeds.append((url, (outline.get("title") or outline.get("text") or "").strip()))
    return feeds


def write_opml(feeds: Iterable[tuple[str, str]], title: str = "wirewatch feeds") -> bytes:
    root = etree.Element("opml", version="2.0")
    head = etree.SubElement(root, "head")
    etree.SubElement(head, "title").text = title
    etree.SubElement(head, "dateCreated").text = format_datetime(datetime.now(UTC))
    body = etree.SubElement(root, "body")
    for url, name in feeds:
        etree.SubElement(body, "outline", type="rss", text=name or url, title=name or url, xmlUrl=url)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))
