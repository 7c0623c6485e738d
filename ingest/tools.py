"""What the app may use of the ingest stage besides running it, reached through :mod:`wirewatch.app.registry`.

In: nothing at import (each name is imported when first used). Out: the poller's store of feeds and
seen entries, OPML reading and writing, and feed discovery from a site's page.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from wirewatch.exports import lazy_exports

if TYPE_CHECKING:
    from wirewatch.ingest.discover import discover
    from wirewatch.ingest.feed_parsing import FeedError
    from wirewatch.ingest.ingest_store import IngestStore
    from wirewatch.ingest.opml import OpmlError, read_opml, write_opml

__all__ = ["FeedError", "IngestStore", "OpmlError", "discover", "read_opml", "write_opml"]

__getattr__ = lazy_exports(__name__, {
    "FeedError": ("wirewatch.ingest.feed_parsing", "FeedError"),
    "IngestStore": ("wirewatch.ingest.ingest_store", "IngestStore"),
    "OpmlError": ("wirewatch.ingest.opml", "OpmlError"),
    "discover": ("wirewatch.ingest.discover", "discover"),
    "read_opml": ("wirewatch.ingest.opml", "read_opml"),
    "write_opml": ("wirewatch.ingest.opml", "write_opml"),
})
