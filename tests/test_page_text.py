"""One page's extraction (process.page_text) on plain values, and that only extraction loads trafilatura."""

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest
from wirewatch.process.page_text import detect_language, extract_page

from wirewatch.devtools.corpus import DemoCorpus
from wirewatch.devtools.render import Item, html_page

ART = DemoCorpus.load().articles[0]
PAGE = html_page(Item(url="https://news.test/a", title=ART["title"], body=ART["body"], published=ART["published"],
                      author=ART["author"], site="Harbour Wire"))


def test_fields_language_and_date_from_one_pass() -> None:
    found = extract_page(PAGE, "https://news.test/a")
    assert isinstance(found, dict)
    assert found["title"] == ART["title"] and ART["body"][1][:60] in found["text"]
    assert found["language"] == "en" and found["language_source"] == "detected"
    assert found["date"] == ART["published"][:10]


def test_a_date_given_by_the_feed_skips_only_the_date() -> None:
    found, dated = extract_page(PAGE, "https://news.test/a", need_date=False), extract_page(PAGE, "https://news.test/a")
    assert isinstance(found, dict) and isinstance(dated, dict)
    assert found["date"] is None and dated["date"]
    assert {k: v for k, v in found.items() if k != "date"} == {k: v for k, v in dated.items() if k != "date"}


def test_bad_input_gives_a_reason_or_nothing_never_an_exception() -> None:
    for content in (b"", b"\x00\x01\x02", b"<html>" + b"<div>" * 5000):
        found = extract_page(content, "https://news.test/a")
        assert found == {} or isinstance(found, str) or len(found["text"] or "") < 200  # type: ignore[index]
    assert detect_language("ok") == ""


def test_importing_the_stage_does_not_load_trafilatura() -> None:
    code = ("import sys, wirewatch.process.extractor, wirewatch.app.cli;"
            " print('trafilatura' in sys.modules, 'sklearn' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.split() == ["False", "False"]


def _as_before(content: bytes, url: str, need_date: bool) -> dict[str, object]:
    """The fields as extract_page read them before it skipped part of the metadata: trafilatura's whole
    ``extract_metadata`` inside ``bare_extraction``, with the same options."""
    import trafilatura
    from trafilatura.settings import set_date_params
    from wirewatch.process.page_text import FIELDS, lighten

    doc = trafilatura.bare_extraction(lighten(content), url=url, fast=True, with_metadata=True,
                                      include_comments=False, include_tables=False,
                                      date_extraction_params=set_date_params(need_date))
    return {} if doc is None else {k: getattr(doc, k, None) for k in FIELDS}


@pytest.mark.integration
def test_the_fields_are_trafilaturas_own_on_the_real_pages(shared: Path) -> None:
    """Every field the article keeps (title, author, date, text, site name, description) is what trafilatura's
    full metadata gave, on each of the 181 real pages; when the feed dates the entry, every field but the date
    (not searched for: the article takes the feed's)."""
    from wirewatch.process.page_text import FIELDS

    folder = shared / "data" / "pages"
    gold = json.loads((folder / "ground-truth.json").read_text(encoding="utf-8"))
    differ, pages = [], sorted((folder / "html").glob("*.html.gz"))
    for path in pages:
        key = path.name.split(".")[0]
        content, url = gzip.decompress(path.read_bytes()), gold[key]["url"]
        for need_date in (True, False):
            found, before = extract_page(content, url, need_date), _as_before(content, url, need_date)
            assert isinstance(found, dict)
            differ += [f"{key} {field} (need_date={need_date}): {found.get(field)!r} != {before.get(field)!r}"
                       for field in FIELDS if found.get(field) != before.get(field)
                       and (need_date or field != "date")]
            assert need_date or found["date"] is None
    assert len(pages) == 181
    assert not differ, differ


def test_the_author_is_trafilaturas_without_its_copy_of_the_page() -> None:
    """page_author gives extract_author's answer where the copy's pruning matters: a candidate inside what is
    removed, one holding what is removed (its tail joined to the text before it), one in a figure."""
    from trafilatura.metadata import extract_author
    from trafilatura.utils import load_html
    from wirewatch.process.page_author import page_author

    body = "<p>" + "Some words of the article itself. " * 20 + "</p>"
    cases = [
        '<div class="sidebar"><span class="author">Jane Sidebar</span></div><p class="byline">Real Author</p>',
        '<div class="author">By<time>2024-08-17</time>John Smith</div>',
        '<span class="author-name">Ann <span class="date">today</span>Lee <figure>x</figure>Jones</span>',
        '<figure><span class="author">Photo Credit</span></figure><a rel="author">Mary Major</a>',
        '<div class="comments"><a rel="author">A Commenter</a></div>',
        '<p class="byline">' + "long " * 40 + '</p><span class="writer">Second Choice</span>',
    ]
    for case in cases:
        tree = load_html(f"<html><head><title>t</title></head><body>{case}{body}</body></html>")
        assert page_author(tree) == extract_author(tree), case
