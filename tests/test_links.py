"""Only http(s) links reach a page or an email, and titles stay on one line (issue 11, item 6)."""

from email import message_from_bytes, policy
from pathlib import Path

import pytest
from wirewatch.alerts.alert_store import AlertStore
from wirewatch.alerts.alerter import Alerter
from wirewatch.alerts.compose import Composer
from wirewatch.alerts.mailer import OutboxMailer
from wirewatch.ingest.feed_parsing import parse_feed

from wirewatch.config import AlertSettings
from wirewatch.safe_display import one_line, web_link
from wirewatch.schema import Article, TaggedArticle, TopicTag


@pytest.mark.parametrize("url", ["javascript:alert(1)", " JavaScript:alert(1)", "data:text/html,<b>x</b>",
                                 "file:///etc/passwd", "vbscript:x", "http://", "https://ex ample.org/",
                                 "http://example.org/\nSet-Cookie: x", "http://[::1/", "//example.org/x", ""])
def test_links_that_are_not_web_links_are_dropped(url: str) -> None:
    assert web_link(url) == ""


def test_web_links_pass_as_they_are() -> None:
    for url in ("https://news.example/a?b=1#c", "HTTP://News.Example/x", "http://[2001:db8::1]:8080/p"):
        assert web_link(f"  {url} ") == url
    assert one_line("Talks\r\nresume\u2028in\tDoha\x00") == "Talks resume in Doha"


RSS = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>Wire</title><link>https://wire.test/</link>
<item><title>Talks resume
Bcc: everyone@example.org</title><link>javascript:alert(document.cookie)</link><guid>wire-1</guid>
<description>Negotiators met again in Doha on Tuesday.</description></item></channel></rss>"""


def test_a_javascript_item_link_never_becomes_a_link_and_a_broken_title_stays_on_one_line(tmp_path: Path) -> None:
    [entry] = parse_feed(RSS, "https://wire.test/feed.xml").entries
    assert entry.url == "" and entry.title == "Talks resume Bcc: everyone@example.org"
    # a message written before this fix (or by another writer) still carries the link: the email drops it
    old = entry.model_copy(update={"url": "javascript:alert(document.cookie)"})
    tagged = TaggedArticle(article=Article(entry=old, title="Talks resume\nBcc: everyone@example.org",
                                           text="Negotiators met again in Doha on Tuesday. " * 5),
                           topics=[TopicTag(topic="ceasefire_talks", score=0.9, fired=True, explanation="t")])
    store = AlertStore.open(f"sqlite:///{tmp_path / 's.db'}")
    store.add_subscriber("a@example.org")
    store.subscribe("a@example.org", "topic", "ceasefire_talks", 0.5)
    outbox = tmp_path / "outbox"
    Alerter(AlertSettings(), store, Composer("w <w@wire.test>"), OutboxMailer(outbox)).handle(tagged)
    [path] = outbox.glob("*.eml")
    mail = message_from_bytes(path.read_bytes(), policy=policy.default)
    html = mail.get_body(("html",)).get_content()
    text = mail.get_body(("plain",)).get_content()
    assert "javascript:" not in html.lower() and "javascript:" not in text.lower()
    assert "Talks resume Bcc: everyone@example.org" in text
    assert not any(line.startswith("Bcc:") for line in text.splitlines()) and mail["Bcc"] is None
