"""The extract stage's logic on fetched pages, without a network (Fetched values built by hand)."""

import httpx
from wirewatch.process.extractor import build_article, page_problem

from wirewatch.config import ExtractSettings
from wirewatch.devtools.corpus import DemoCorpus
from wirewatch.devtools.render import Item, html_page
from wirewatch.http import Fetched
from wirewatch.schema import Entry

SETTINGS = ExtractSettings()
CORPUS = DemoCorpus.load()


def entry(summary: str = "<p>Feed <b>summary</b> text.</p>") -> Entry:
    return Entry(article_id="x1", url="https://news.test/a", canonical_url="https://news.test/a",
                 feed_url="https://news.test/feed", title="Feed title", summary=summary, author="Feed Author",
                 published="2024-08-17T09:30:00+00:00")


def page(body: bytes, ctype: str = "text/html; charset=utf-8", status: int = 200) -> Fetched:
    return Fetched("https://news.test/a", status, httpx.Headers({"content-type": ctype}), body)


def test_page_text_title_author_language_and_provenance() -> None:
    art = CORPUS.articles[0]
    html = html_page(Item(url="https://news.test/a", title=art["title"], body=art["body"], published=art["published"],
                          author=art["author"], site="Harbour Wire"))
    article = build_article(entry(), page(html), "", SETTINGS)
    assert article.text_source == "page"
    assert article.title == art["title"]
    assert article.author == art["author"]
    assert art["body"][1][:60] in article.text
    assert "cookies" not in article.text and "All rights reserved" not in article.text
    assert article.language == "en"
    assert article.provenance == {"text": "page", "title": "page", "author": "page", "published": "feed",
                                  "language": "detected"}


def test_fallbacks_to_the_feed_summary_say_why() -> None:
    cases = {
        "HTTP 404": page(b"gone", status=404),
        "not HTML (content-type application/pdf)": page(b"%PDF-1.4", "application/pdf"),
        "not HTML (binary content)": page(b"\x00\x01\x02" * 100),
        "chars of text": page(b"<html><body><p>Too short.</p></body></html>"),
    }
    for reason, fetched in cases.items():
        article = build_article(entry(), fetched, "", SETTINGS)
        assert article.text_source == "feed_summary"
        assert reason in article.fetch_error
        assert article.text == "Feed summary text."
        assert article.title == "Feed title"


def test_fetch_error_and_empty_summary_fall_back_to_the_title() -> None:
    article = build_article(entry(summary=""), None, "https://news.test/a: timed out", SETTINGS)
    assert article.text == "Feed title"
    assert article.provenance["text"] == "feed_title"
    assert article.fetch_error.endswith("timed out")


def test_page_problem_accepts_html_without_content_type() -> None:
    assert page_problem(page(b"<html></html>", "")) == ""
