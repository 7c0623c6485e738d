"""What one poll of a feed found, and the sorting of its parsed entries: new, revised, republished, seen.

In: a feed's parsed entries (each with its dedup keys and content hash), what the database knows of
those keys and hashes, and the cycle's memory of what it accepted so far. Out: the :class:`PollResult`
filled in — new entries (a changed one as its next revision), republished copies, the count seen before.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from wirewatch.ingest.feed_parsing import Keyed
from wirewatch.ingest.feed_store import FeedRow
from wirewatch.ingest.seen_entries import KnownEntry

from wirewatch.schema import Entry

log = logging.getLogger(__name__)


@dataclass
class PollResult:
    feed: FeedRow
    status: int | None = None
    new_entries: list[Entry] = field(default_factory=list)
    republished: list[tuple[list[str], str]] = field(default_factory=list)
    seen_before: int = 0
    not_modified: bool = False
    error: str = ""
    warning: str = ""
    etag: str = ""
    last_modified: str = ""
    moved_to: str = ""
    retry_after: float | None = None
    published: tuple[datetime, ...] = ()
    keyed: list[Keyed] = field(default_factory=list)  # parsed entries still to sort (FeedPoller.sort)
    body_digest: bytes = b""  # of the 200's body, remembered once recorded
    unchanged: bool = False  # a 200 with the body last recorded: not parsed again


@dataclass
class CycleMemory:
    """What this cycle already accepted, so that two feeds carrying one entry publish it once."""

    keys: set[str] = field(default_factory=set)
    hashes: set[str] = field(default_factory=set)


LookedUp = tuple[dict[str, str], dict[str, KnownEntry], dict[str, str]]  # key owners, their versions, hash owners


def sort_entries(keyed: list[Keyed], looked_up: LookedUp, result: PollResult, memory: CycleMemory) -> None:
    """Sort the entries into new, updated, republished and seen (on the loop: ``memory`` is the cycle's)."""
    known, versions, copies = looked_up
    for entry, keys, digest in keyed:
        if memory.keys.intersection(keys):
            result.seen_before += 1
            continue
        owner = next((known[k] for k in keys if k in known), None)
        if owner is not None:
            stored = versions.get(owner)
            if stored and digest and stored.content_hash and digest != stored.content_hash:
                update = entry.model_copy(update={"article_id": owner, "content_hash": digest,
                                                  "revision": stored.revision + 1})
                result.new_entries.append(update)
                memory.keys.update(keys)
                log.info("feed %s: entry %s changed; re-sent as revision %d", result.feed.url, owner,
                         update.revision)
            else:
                result.seen_before += 1
            continue
        if digest and (digest in memory.hashes or digest in copies):
            result.republished.append((keys, copies.get(digest, "")))
            result.seen_before += 1
            continue
        memory.keys.update(keys)
        if digest:
            memory.hashes.add(digest)
        result.new_entries.append(entry.model_copy(update={"content_hash": digest}))
