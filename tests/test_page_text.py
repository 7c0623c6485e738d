"""One page's extraction (process.page_text) on plain values, and that only extraction loads trafilatura."""

import subprocess
import sys

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


def test_a_date_given_by_the_feed_skips_only_the_long_search() -> None:
    found = extract_page(PAGE, "https://news.test/a", need_date=False)
    assert isinstance(found, dict)
    assert found["text"] == extract_page(PAGE, "https://news.test/a")["text"]  # type: ignore[index]


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
