"""Feed parsing on plain bytes: rendered feeds, JSON Feed, ill-formed and non-feeds, real snapshots."""

from pathlib import Path

import pytest
from wirewatch.ingest.feed_parsing import FeedError, dedup_keys, parse_feed

from wirewatch.devtools.render import Item, atom_feed, rss_feed

ITEMS = [
    Item(url="https://news.test/a?utm_source=rss", title="Talks in Doha", body=["x"], published="2024-08-17T09:30:00Z",
         author="A. Writer", summary="<p>Delegations were <b>due</b> in Doha.</p>"),
    Item(url="https://news.test/b", title="Grid hit", body=["y"], published="2024-08-18T10:00:00Z"),
]


@pytest.mark.parametrize("render", [rss_feed, atom_feed])
def test_rss_and_atom_give_the_same_entries(render) -> None:  # type: ignore[no-untyped-def]
    parsed = parse_feed(render("Wire", "https://news.test/", ITEMS), "https://news.test/feed")
    assert parsed.title == "Wire"
    assert parsed.warning == ""
    first = parsed.entries[0]
    assert first.title == "Talks in Doha"
    assert first.canonical_url == "https://news.test/a"
    assert first.published == "2024-08-17T09:30:00+00:00"
    assert "Delegations" in first.summary
    assert dedup_keys(first)[0] == "url:https://news.test/a"


def test_json_feed() -> None:
    doc = b'{"version": "https://jsonfeed.org/version/1.1", "title": "J", "items": [' \
          b'{"id": "1", "url": "https://j.test/1", "title": "One", "content_text": "Body",' \
          b' "date_published": "2024-08-17T09:30:00Z", "authors": [{"name": "Ann"}]}, 42]}'
    parsed = parse_feed(doc, "https://j.test/feed.json", {"Content-Type": "application/feed+json"})
    assert [e.title for e in parsed.entries] == ["One"]
    assert parsed.entries[0].author == "Ann"
    assert parsed.skipped == ["item 1: not an object"]


def test_ill_formed_feed_is_used_and_flagged() -> None:
    broken = rss_feed("Wire", "https://news.test/", ITEMS).replace(b"</channel></rss>", b"<item><title>x & y")
    parsed = parse_feed(broken, "https://news.test/feed")
    assert len(parsed.entries) >= 2
    assert parsed.warning.startswith("ill-formed feed, read anyway")
    assert parsed.entries[0].feed_warning == parsed.warning


@pytest.mark.parametrize("body", [b"<html><body>Just a page</body></html>", b"", b"\x89PNG\r\n\x1a\n\x00\x00"])
def test_not_a_feed_is_an_error_naming_the_url(body: bytes) -> None:
    with pytest.raises(FeedError, match=r"https://news\.test/feed"):
        parse_feed(body, "https://news.test/feed")


def test_every_real_feed_snapshot_parses_without_exception(shared: Path) -> None:
    files = [p for p in (shared / "data" / "feeds").rglob("*") if p.is_file() and p.suffix in
             (".xml", ".rss", ".atom", ".json", ".rdf", "")]
    assert len(files) > 40
    read = 0
    for path in files:
        try:
            parsed = parse_feed(path.read_bytes(), f"https://feeds.test/{path.name}")
        except FeedError:
            continue  # a snapshot that is no feed at all is reported, not raised past the poller
        read += bool(parsed.entries)
    assert read >= 0.8 * len(files), f"only {read} of {len(files)} snapshots gave entries"
