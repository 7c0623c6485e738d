"""The text of a fetched feed as feedparser decodes it, for the fast reading to parse the same text —
or the reason it cannot.

In: the feed's bytes and response headers. Out: what lxml should parse: the bytes themselves when
feedparser reads them as UTF-8 and lxml would too, else the text decoded as feedparser decodes it,
its XML declaration removed. :class:`NotPlain` is raised where feedparser would guess, override or
flag: a media type that is not XML, bytes that do not decode in the encoding feedparser settles on
(it then tries others and flags the feed), UTF-16/32 or EBCDIC, an unknown encoding.

feedparser's rule (RFC 3023), followed here with its own header parser and declaration pattern: for
application/xml and application/*+xml the charset parameter, else the XML declaration, else UTF-8;
for text/xml the charset parameter, else US-ASCII; gb2312 read as gb18030; a UTF-8 byte order mark
dropped. Whatever the encoding, feedparser then parses UTF-8 and mends each text as UTF-8 read as
Latin-1 where it can, and so does :mod:`~wirewatch.ingest.feed_text`.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Mapping

try:
    from feedparser.encodings import RE_XML_DECLARATION, RE_XML_PI_ENCODING, parse_content_type
except ImportError:  # a feedparser without them: nothing is taken (feed_text.FEEDPARSER_STEPS is False too)
    RE_XML_PI_ENCODING = RE_XML_DECLARATION = None
    parse_content_type = None

APPLICATION_XML = ("application/xml", "application/xml-dtd", "application/xml-external-parsed-entity")
TEXT_XML = ("text/xml", "text/xml-external-parsed-entity")
LIBXML_DECLARATION = re.compile(rb"^<\?xml[^>]*?encoding\s*=\s*[\"']([^\"']*)[\"']")
WIDE = ("utf-16", "utf-32", "utf_16", "utf_32", "cp037")
WIDE_MARKS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE, b"Lo\xa7\x94")  # and UTF-32's, which hold a zero byte


class NotPlain(Exception):
    """Why a document is not for the fast path (feedparser reads it)."""


def header(headers: Mapping[str, str], name: str) -> str:
    """A response header by its lower-case name; of two spellings, the last (as feedparser is given them)."""
    return {k.lower(): v for k, v in headers.items()}.get(name, "")


def _settled(headers: Mapping[str, str], declared: str) -> str:
    """The encoding feedparser tries first, from the media type, its charset and the declaration."""
    assert parse_content_type is not None
    media, charset = parse_content_type(header(headers, "content-type"))
    if media in APPLICATION_XML or (media.startswith("application/") and media.endswith("+xml")):
        encoding = charset or declared or "utf-8"
    elif media in TEXT_XML or (media.startswith("text/") and media.endswith("+xml")):
        encoding = charset or "us-ascii"
    else:
        raise NotPlain("media type")
    return "gb18030" if encoding.lower() == "gb2312" else encoding


def _codec(name: str) -> str:
    try:
        return codecs.lookup(name).name
    except LookupError:
        return ""


def decoded(content: bytes, headers: Mapping[str, str]) -> bytes | str:
    """What lxml is to parse (see the module doc)."""
    if RE_XML_PI_ENCODING is None or RE_XML_DECLARATION is None:
        raise NotPlain("feedparser's encoding steps moved")
    if content.startswith(codecs.BOM_UTF8):
        content = content[3:]
    elif content.startswith(WIDE_MARKS) or b"\0" in content[:4]:
        raise NotPlain("byte order mark, UTF-16/32 or EBCDIC")
    theirs = RE_XML_PI_ENCODING.match(content)
    try:
        declared = theirs.group(1).decode("utf-8").lower() if theirs else ""
    except UnicodeDecodeError:
        raise NotPlain("an encoding declaration that is not text") from None
    encoding = _settled(headers, declared)
    codec = _codec(encoding)
    if not codec or codec.startswith(WIDE):
        raise NotPlain(f"encoding {encoding!r}: unknown, UTF-16/32 or EBCDIC")
    ours = LIBXML_DECLARATION.match(content)
    if codec == "utf-8" and (ours is None or _codec(ours.group(1).decode("latin-1")) == "utf-8"):
        return content  # lxml reads the bytes as feedparser does (bytes that are not UTF-8 fail both)
    try:
        text = content.decode(encoding)
    except UnicodeDecodeError:
        raise NotPlain(f"bytes that are not the {encoding} feedparser would read") from None
    return str(RE_XML_DECLARATION.sub("", text, count=1))
