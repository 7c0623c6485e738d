"""Inputs of megabytes: a page whose text is cut to a bounded length, and an article too large for its Kafka
message, which is dead-lettered while the run still ends when the rest is done (real broker, loopback site)."""

from __future__ import annotations

import logging
import threading
import uuid
from pathlib import Path

import pytest
from wirewatch.alerts.alert_store import AlertStore
from wirewatch.process.extractor import assemble, cut_text

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
