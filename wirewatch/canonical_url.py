"""Canonical URLs and stable article ids: one definition for every stage.

In: a URL as a feed, a page or a user gives it. Out: the canonical form (scheme and host in lower
case, ``www.`` dropped, default port, fragment and tracking parameters dropped, remaining query
sorted) and the article id derived from it. The poller deduplicates on it; the alert stage matches
a watch's seed URL to an article with it, so both agree on when two URLs name one page.
"""

from __future__ import annotations

import hashlib
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

TRACKING_PREFIXES = ("utm_", "mc_", "pk_", "piwik_", "hsa_", "oly_")
TRACKING_PARAMS = frozenset({
    "fbclid", "gclid", "dclid", "msclkid", "yclid", "igshid", "twclid", "ocid", "cmpid", "cmp", "ref",
    "ref_src", "ref_url", "referrer", "source", "src", "at_medium", "at_campaign", "s_cid", "ito", "rss",
    "feature", "_ga", "_gl", "spm", "share", "smid", "mbid", "taid", "wt_mc", "wt.mc_id", "__twitter_impression",
})
DEFAULT_PORTS = {"http": 80, "https": 443}


def canonical_url(url: str) -> str:
    """The canonical form of ``url`` (see module doc). A non-URL is returned stripped, unchanged."""
    url = url.strip()
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:  # "http://[::1/", "http://host:port/": not a URL one can canonicalise
        return url
    if not parts.scheme or not parts.netloc:
        return url
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower().rstrip(".")
    if host.startswith("www."):
        host = host[4:]
    netloc = host
    if port and port != DEFAULT_PORTS.get(scheme):
        netloc = f"{host}:{port}"
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
             if not (k.lower() in TRACKING_PARAMS or k.lower().startswith(TRACKING_PREFIXES))]
    query.sort()
    path = parts.path or "/"
    if len(path) > 1 and path.endswith("/"):
        path = path.rstrip("/")
    return urlunsplit((scheme, netloc, path, urlencode(query), ""))


def article_id(canonical: str) -> str:
    """A short stable id for an article: the first 16 hex digits of SHA-256 of its canonical URL or GUID."""
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]
