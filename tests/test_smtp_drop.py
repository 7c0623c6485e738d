"""An SMTP server that takes the message and cuts the connection before its reply (aiosmtpd).

wirewatch cannot know whether the email went out, so it sends it again later — always as the same
email with the same Message-ID (receivers recognise the copy), never merged with alerts that came
since under another Message-ID, and it is never lost.
"""

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

from wirewatch.alerts.alert_queue import next_digest
from wirewatch.alerts.alert_store import AlertStore
from wirewatch.alerts.alerter import Alerter
from wirewatch.alerts.compose import Composer
from wirewatch.alerts.mailer import SmtpMailer, deliver_pending

from wirewatch.config import AlertSettings, SmtpSettings
from wirewatch.devtools.smtpsink import SmtpSink
from wirewatch.schema import Article, Entry, TaggedArticle, TopicTag


def tagged(i: int) -> TaggedArticle:
    entry = Entry(article_id=f"art{i}", url=f"https://news.test/{i}", canonical_url="", feed_url="f")
    article = Article(entry=entry, title=f"Talks resume, day {i}", text="Negotiators met again in Doha. " * 10)
    return TaggedArticle(article=article, topics=[TopicTag(topic="ceasefire_talks", score=0.9, fired=True)])


def deliveries(sink: SmtpSink) -> dict[str, set[str]]:
    """Alert reference -> the Message-IDs of the emails that carried it."""
    carried: dict[str, set[str]] = defaultdict(set)
    for mail in sink.received():
        for ref in str(mail["X-Wirewatch-Refs"]).split():
            carried[ref].add(str(mail["Message-ID"]))
    return carried


def test_a_reply_lost_after_the_message_was_taken_means_the_same_email_again(tmp_path: Path, smtp: SmtpSink) -> None:
    store = AlertStore.open(f"sqlite:///{tmp_path / 's.db'}")
    store.add_subscriber("now@example.org")
    store.subscribe("now@example.org", "topic", "ceasefire_talks", 0.5)
    store.add_subscriber("hourly@example.org", mode="hourly")
    store.subscribe("hourly@example.org", "topic", "ceasefire_talks", 0.5)
    composer = Composer("w <w@wire.test>")
    mailer = SmtpMailer(SmtpSettings(host="127.0.0.1", port=smtp.port, security="none", timeout_seconds=5))
    alerter = Alerter(AlertSettings(), store, composer, mailer)
    smtp.drop_before_reply = 1
    alerter.handle(tagged(1))  # the immediate alert: taken, connection cut, so not known to be sent
    alerter.handle(tagged(2))
    assert store.alert_counts().get("sent", 0) < 2
    hour = next_digest("hourly", datetime.now(UTC), 7)
    smtp.drop_before_reply = 1  # the hourly digest of art1 and art2: taken, then cut too
    deliver_pending(store, mailer, now=hour + timedelta(seconds=1), digest=composer.compose_digest)
    alerter.handle(tagged(3))  # comes meanwhile, for the same digest period of the same subscriber
    for later in (hour + timedelta(hours=1, seconds=1), hour + timedelta(hours=3)):
        deliver_pending(store, mailer, now=later, digest=composer.compose_digest)
    counts = store.alert_counts()
    carried = deliveries(smtp)
    print(f"{len(smtp.received())} emails received for {sum(counts.values())} alerts; outbox {counts}")
    assert counts == {"sent": 6}  # none lost: now@ gets art1..3 one by one, hourly@ art1..3 in two digests
    assert len(carried) == 6 and all(len(ids) == 1 for ids in carried.values()), carried  # never under another id
    assert len(smtp.received()) == 5 + 2  # five emails, and the two cut sends again, as the same emails
