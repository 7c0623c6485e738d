"""The character encoding of a fetched feed as feedparser settles it, for the fast reading to parse
the same text — or the reason it cannot.

In: the feed's bytes and response headers. Out: what lxml should parse (the bytes themselves when
they are UTF-8, else the text decoded as feedparser decodes it, its XML declaration removed) and the
encoding's name as feedparser reports it (its repair of doubly encoded UTF-8 applies to 'utf-8'
only). :class:`NotPlain` is raised for anything where feedparser would guess or override: a charset
in the headers other than UTF-8, a byte order mark other than UTF-8's, UTF-16/32 or EBCDIC, bytes
that do not decode in the declared encoding (feedparser then tries others and flags the feed), a
declaration that lxml and feedparser's pattern would read differently.

feedparser (RFC 3023 for application/*+xml): the charset parameter, else the declaration, else
UTF-8; gb2312 read as gb18030; a UTF-8 byte order mark dropped.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Mapping

try:
    from feedparser.encodings import RE_XML_DECLARATION, RE_XML_PI_ENCODING
except ImportError:  # an older or newer feedparser: its own pattern, as in 6.0
    RE_XML_PI_ENCODING = re.compile(rb'^<\?.*encoding=[\'"](.*?)[\'"].*\?>')
    RE_XML_DECLARATION = re.compile(r"^<\?xml[^>]*?>")

XML_TYPES = ("application/rss+xml", "application/xml")
LIBXML_DECLARATION = re.compile(rb"^<\?xml[^>]*?encoding\s*=\s*[\"']([^\"']*)[\"']")
UNICODE_WIDE = ("utf-16", "utf-32", "utf_16", "utf_32", "cp037")


class NotPlain(Exception):
    """Why a document is not for the fast path (feedparser reads it)."""


def header(headers: Mapping[str, str], name: str) -> str:
    """A response header by its lower-case name; of two spellings, the last (as feedparser is given them)."""
    return {k.lower(): v for k, v in headers.items()}.get(name, "")


def _charset(headers: Mapping[str, str]) -> str:
    media, _, params = header(headers, "content-type").partition(";")
    if media.strip().lower() not in XML_TYPES:
        raise NotPlain("media type")
    charset = params.strip().lower().replace(" ", "")
    if charset and charset not in ("charset=utf-8", 'charset="utf-8"'):
        raise NotPlain("charset other than UTF-8 in the headers")
    return "utf-8" if charset else ""


def decoded(content: bytes, headers: Mapping[str, str]) -> tuple[bytes | str, str]:
    """What to parse, and the encoding feedparser would report (see the module doc)."""
    charset = _charset(headers)
    bom = content.startswith(codecs.BOM_UTF8)
    if bom:
        content = content[3:]
    elif content.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or b"\0" in content[:4] \
            or content[:4] == b"Lo\xa7\x94":
        raise NotPlain("byte order mark, UTF-16/32 or EBCDIC")
    theirs, ours = RE_XML_PI_ENCODING.match(content), LIBXML_DECLARATION.match(content)
    declared = theirs.group(1).lower() if theirs else b""
    if declared != (ours.group(1).lower() if ours else b""):
        raise NotPlain("an encoding declaration lxml and feedparser read differently")
    try:
        encoding = declared.decode("ascii")
    except UnicodeDecodeError:
        raise NotPlain("an encoding declaration lxml and feedparser read differently") from None
    if charset and encoding not in ("", "utf-8"):
        raise NotPlain("headers and declaration disagree on the encoding")
    encoding = encoding or "utf-8"
    if encoding == "utf-8":
        return content, encoding
    if bom:
        raise NotPlain("a UTF-8 byte order mark on a document declared otherwise")
    encoding = "gb18030" if encoding == "gb2312" else encoding
    try:
        if codecs.lookup(encoding).name.startswith(UNICODE_WIDE):
            raise NotPlain("UTF-16/32 or EBCDIC declared")
        text = content.decode(encoding)
    except (LookupError, UnicodeDecodeError):
        raise NotPlain(f"bytes that are not the declared {encoding}") from None
    return RE_XML_DECLARATION.sub("", text, count=1), encoding
