"""The base URI feedparser resolves each element's relative URIs against, from ``xml:base`` (and
``base``) attributes, for the fast reading to resolve them the same.

In: a parsed document's root. Out: each element's base as feedparser holds it while that element is
open — a URI, or '' where there is none. feedparser's own bookkeeping is followed, quirks included: a
base is joined to the one before (kept only if its scheme is a safe one, else the one before stays),
and on an element's end the one before it comes back only if that one is not empty — so after an
element with ``xml:base`` whose parent had none, its base stays for its following siblings.
"""

from __future__ import annotations

import contextlib
import re

from lxml import etree
from wirewatch.ingest.rss_elements import PREFIXES

with contextlib.suppress(ImportError):  # else feed_text.FEEDPARSER_STEPS is False, and nothing is read here
    from feedparser.urls import _urljoin, make_safe_absolute_uri

XML_BASE = "{http://www.w3.org/XML/1998/namespace}base"
MAY_HAVE_BASE = re.compile(rb"(xml:|[\s:])base\s*=", re.IGNORECASE)  # a cheap look before the walk


def _given(element: etree._Element) -> str:
    """The element's base attribute as feedparser reads attributes: ``xml:base``, else the last
    attribute whose lower-cased name is ``base`` in no namespace or in one feedparser does not know."""
    if XML_BASE in element.attrib:
        return element.get(XML_BASE) or ""
    given = ""
    for name, attribute in element.attrib.items():
        qname = etree.QName(name)
        known = qname.namespace is not None and qname.namespace.lower() in PREFIXES
        if qname.localname.lower() == "base" and not known:
            given = attribute
    return given


def bases(content: bytes, root: etree._Element) -> dict[etree._Element, str]:
    """Each element's base ({} when the document has no base attribute: every base is '')."""
    if not MAY_HAVE_BASE.search(content):
        return {}
    current, stack, at = "", [], {}
    for event, element in etree.iterwalk(root, events=("start", "end")):
        if event == "start":
            given = _given(element) or current
            current = (make_safe_absolute_uri(current, given) or current) if current else _urljoin(current, given)
            stack.append(current)
            at[element] = current
        else:
            stack.pop()
            if stack and stack[-1]:
                current = stack[-1]
    return at
