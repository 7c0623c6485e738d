"""Inputs of megabytes: a page lightened before extraction, a text cut to a bounded length, and an article too
large for its Kafka message, dead-lettered while the run still ends when the rest is done (real broker, loopback
site)."""

from __future__ import annotations

import logging
import threading
import uuid
from pathlib import Path

import pytest
from wirewatch.alerts.alert_store import AlertStore
from wirewatch.process.extractor import assemble, cut_text
from wirewatch.process.page_text import LIGHT_BYTES, extract_page, lighten

from wirewatch.app.pipeline import Pipeline
from wirewatch.config import ExtractSettings, Settings
from wirewatch.devtools.render import Item, html_page, rss_feed
from wirewatch.devtools.site import LoopbackSite, Resource
from wirewatch.kafka import DEADLETTER
from wirewatch.schema import Entry

PARAGRAPH = ("Negotiators met again on Tuesday to discuss the exchange of prisoners and the opening of a "
             "humanitarian corridor, officials said after the talks ended late in the evening.")


def paragraphs(n: int) -> list[str]:
    """Distinct paragraphs (trafilatura drops repeated ones)."""
    return [f"In session {i} of the talks: {PARAGRAPH}" for i in range(n)]


def entry(n: int = 0) -> Entry:
    return Entry(article_id=f"a{n}", url=f"https://news.test/{n}", canonical_url="", feed_url="https://news.test/feed",
                 title=f"Talks resume, day {n}", summary="Talks resumed.", published="2024-08-20T10:00:00+00:00")


def test_a_text_of_megabytes_is_cut_at_a_paragraph_end_and_says_so() -> None:
    text = "\n".join([PARAGRAPH] * 30_000)  # about 5 MB
    article = assemble(entry(), {"text": text, "title": "Talks resume"}, "", ExtractSettings())
    limit = ExtractSettings().max_text_chars
    assert limit * 9 // 10 <= len(article.text) <= limit
    assert article.text.endswith(PARAGRAPH)  # cut where a paragraph ends, not inside a word
    assert article.provenance["text_cut_from"] == str(len(text))
    assert article.provenance["text"] == "page"


def test_a_text_under_the_limit_is_kept_whole() -> None:
    text = "\n".join([PARAGRAPH] * 20)
    article = assemble(entry(), {"text": text}, "", ExtractSettings())
    assert article.text == text
    assert "text_cut_from" not in article.provenance


def test_a_text_without_spaces_is_cut_at_the_limit() -> None:
    assert cut_text("ก" * 5_000, 1_000) == "ก" * 1_000  # Thai written without spaces, no newline either
    assert cut_text("word " * 1_000, 1_003) == ("word " * 200).rstrip()  # the last space within the last tenth


def test_a_run_ends_when_an_article_is_too_large_for_its_message(broker: str, tmp_path: Path,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    items = [Item(url="", title=f"Talks resume, day {n}", body=paragraphs(4), published=f"2024-08-2{n}T10:00:00Z")
             for n in range(3)]
    items.append(Item(url="", title="The whole transcript of the talks", body=paragraphs(400),  # ~80 kB
                      published="2024-08-24T10:00:00Z"))
    with LoopbackSite() as site:
        for n, item in enumerate(items):
            items[n] = item = Item(**{**item.__dict__, "url": site.url(f"/{n}.html")})
            site.resources[f"/{n}.html"] = Resource(html_page(item))
        site.resources["/feed.xml"] = Resource(rss_feed("Wire", site.base, items), "application/rss+xml")
        settings = Settings.model_validate({
            "data_dir": str(tmp_path / "data"), "http": {"allow_networks": ["127.0.0.0/8"]},
            # a message limit of 20 kB: the transcript's article (under max_text_chars) is over it
            "kafka": {"bootstrap_servers": broker, "topic_prefix": f"huge{uuid.uuid4().hex[:6]}-",
                      "max_message_bytes": 20_000},
            "feeds": [{"url": site.url("/feed.xml")}]})
        with caplog.at_level(logging.INFO), Pipeline(settings) as pipeline:
            pipeline.run(("poll", "extract", "classify", "alert"), threading.Event(), poll_once=True,
                         until_idle=True, timeout=180)
    assert not [r for r in caplog.records if "did not become idle" in r.getMessage()]  # ended as idle, not cut off
    assert any("over [kafka] max_message_bytes" in r.getMessage() for r in caplog.records)
    snap = pipeline.progress.snapshot()
    assert snap["produced"].get(DEADLETTER) == 1, snap["produced"]
    assert snap["produced"].get("articles") == 3, snap["produced"]
    store = AlertStore.open(settings.database_url)
    try:
        assert store.archive_count() == 3  # the three others went on
    finally:
        store.close()


def test_a_page_of_megabytes_is_lightened_before_extraction() -> None:
    small = b"<html><body><script>var x = 1;</script><p>" + PARAGRAPH.encode() + b"</p></body></html>"
    assert lighten(small) is small  # under the limit: as it is
    script = b"<script>" + b"var junk = 'x';" * 100_000 + b"</script>"
    scripted = b"<html><head>" + script + b"<style>p {}</style></head><body><!-- ad --><article>" + \
        "".join(f"<p>{p}</p>" for p in paragraphs(40)).encode() + b"</article></body></html>"
    light = lighten(scripted)
    assert b"<script" not in light and b"<style" not in light and b"<!--" not in light
    assert light.endswith(b"</article></body></html>") and paragraphs(40)[-1].encode() in light
    huge = b"<html><body><article>" + "".join(f"<p>{p}</p>" for p in paragraphs(30_000)).encode()
    cut = lighten(huge)
    assert LIGHT_BYTES - 1_000 < len(cut) <= LIGHT_BYTES and cut.endswith(b"</p>")


def test_the_real_pages_over_the_limit_give_the_same_fields_lightened(shared: Path) -> None:
    import gzip

    import trafilatura
    from trafilatura.settings import set_date_params

    folder = shared / "data" / "pages" / "html"
    if not folder.is_dir():
        pytest.skip(f"no real pages at {folder}")
    large = [html for path in sorted(folder.glob("*.html.gz")) if len(html := gzip.decompress(path.read_bytes()))
             > LIGHT_BYTES]
    assert large, "the real pages hold pages over the limit (three, of 1.1-1.5 MB)"
    for html in large:
        ours = extract_page(html, "https://pages.test/a")
        assert isinstance(ours, dict)
        whole = trafilatura.bare_extraction(html, url="https://pages.test/a", fast=True, with_metadata=True,
                                            include_comments=False, include_tables=False,
                                            date_extraction_params=set_date_params(True))
        for field in ("title", "author", "date", "text", "sitename", "description"):
            assert (ours[field] or "").strip() == (getattr(whole, field) or "").strip(), field
