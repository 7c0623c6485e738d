"""What of a link or a title may reach a page or an email.

In: a URL or a title as a feed or a page gave it. Out: :func:`web_link` — the URL when it is an
http(s) URL with a host and no control characters, else '' (``javascript:``, ``data:``, ``file:``
and the like never become a link anyone clicks); :func:`one_line` — the text on one line (line
breaks and other control characters become spaces), for headlines in text bodies and headers.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

SCHEMES = ("http", "https")
CONTROL = re.compile(r"[\x00-\x1f\x7f\u0085\u2028\u2029]")


def web_link(url: str) -> str:
    """``url`` (trimmed) if it is http(s) with a host and no control characters or spaces, else ''."""
    url = (url or "").strip()
    if not url or CONTROL.search(url) or " " in url:
        return ""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - a port that is not a number is no link
    except ValueError:
        return ""
    return url if parts.scheme.lower() in SCHEMES and host else ""


def one_line(text: str) -> str:
    """The text with every run of whitespace and control characters made one space."""
    return " ".join(CONTROL.sub(" ", text or "").split())
