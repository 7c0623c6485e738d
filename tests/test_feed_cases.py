"""Robustness of ingest on feedparser's 2,106 edge cases (../shared/data/feed-cases), each with its
HTTP headers (from its ``Header:`` lines), through the poller's parsing path: no case may raise
anything but a :class:`FeedError` that names the feed; every ill-formed case that still yields
entries is read and flagged, not dropped."""

import re
from pathlib import Path

import pytest
from wirewatch.ingest.feed_parsing import FeedError, parse_feed

HEADER = re.compile(r"^Header:\s*([\w-]+):\s*(.*)$", re.MULTILINE)


def cases(shared: Path) -> list[Path]:
    return sorted((shared / "data" / "feed-cases" / "tests").rglob("*.xml"))


def headers_of(raw: bytes) -> dict[str, str]:
    comment = raw[:2000].decode("latin-1")
    return {k: v.strip() for k, v in HEADER.findall(comment)}


def test_every_feedparser_case_goes_through_without_an_uncaught_exception(shared: Path) -> None:
    files = cases(shared)
    assert len(files) > 2000
    not_feeds, read, flagged = 0, 0, 0
    for path in files:
        raw = path.read_bytes()
        url = f"https://cases.test/{path.relative_to(shared)}"
        try:
            parsed = parse_feed(raw, url, headers_of(raw))
        except FeedError as exc:
            assert url in str(exc)
            not_feeds += 1
            continue
        except Exception as exc:  # pragma: no cover - the failure message is the point
            pytest.fail(f"{path}: {type(exc).__name__}: {exc}")
        read += 1
        if "/illformed/" in str(path) and parsed.entries:
            flagged += bool(parsed.warning)
    print(f"feed cases: {read} read, {not_feeds} reported as not a feed, {flagged} ill-formed read and flagged")
    assert read > 0.9 * len(files)


def test_ill_formed_cases_with_entries_are_flagged(shared: Path) -> None:
    ill = [p for p in cases(shared) if "/illformed/" in str(p)]
    with_entries = flagged = 0
    for path in ill:
        raw = path.read_bytes()
        try:
            parsed = parse_feed(raw, f"https://cases.test/{path.name}", headers_of(raw))
        except FeedError:
            continue
        if parsed.entries:
            with_entries += 1
            flagged += bool(parsed.warning)
    assert with_entries > 0
    assert flagged / with_entries > 0.5, f"{flagged} of {with_entries} ill-formed feeds with entries were flagged"
