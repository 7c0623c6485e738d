"""What a killed worker leaves behind is finished at once (issue 11, item 4).

An article archived and never linked (the broker lost its tagged record, so it will never come
again) is completed from the archive when the next alert worker starts; a claim held by a worker
whose process is gone is released at once, not after the 300 s claim timeout.
"""

import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path

from wirewatch.alerts.alert_batch import BatchWrites
from wirewatch.alerts.alert_store import AlertStore
from wirewatch.alerts.alerter import Alerter
from wirewatch.alerts.compose import Composer
from wirewatch.alerts.mailer import OutboxMailer, dead_on_this_host, deliver_pending

from wirewatch.config import AlertSettings
from wirewatch.heartbeats import Heartbeat, WorkerId
from wirewatch.schema import Article, Entry, TaggedArticle, TopicTag


def tagged(i: int) -> TaggedArticle:
    entry = Entry(article_id=f"art{i}", url=f"https://news.test/{i}", canonical_url="", feed_url="f",
                  title=f"Talks resume, day {i}")
    article = Article(entry=entry, title=f"Talks resume, day {i}", text="Negotiators met again in Doha. " * 10)
    return TaggedArticle(article=article, topics=[TopicTag(topic="ceasefire_talks", score=0.9, fired=True)])


def make_store(tmp_path: Path) -> AlertStore:
    store = AlertStore.open(f"sqlite:///{tmp_path / 's.db'}")
    store.add_subscriber("a@example.org")
    store.subscribe("a@example.org", "topic", "ceasefire_talks", 0.5)
    return store


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_an_archived_but_unlinked_article_is_completed_from_the_archive_at_start(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    # what a worker killed between archiving and linking left: the archive row, and nothing on the broker
    for i in range(3):
        t = tagged(i)
        store.archive_article(t.article_id, t.article.entry.url, t.article.title, "", None, t.article.text,
                              t.to_bytes().decode())
    pid, now = dead_pid(), datetime.now(UTC)  # its heartbeat says "running" a moment ago: it was killed
    store.heartbeats.record([Heartbeat(WorkerId(socket.gethostname(), pid, "alert"), now, "running")])
    later = now + timedelta(days=1)
    assert len(store.unlinked_articles(later)) == 3
    outbox = tmp_path / "outbox"
    alerter = Alerter(AlertSettings(), store, Composer("w <w@wire.test>"), OutboxMailer(outbox),
                      worker=WorkerId(socket.gethostname(), 1, "alert"))
    alerter.idle()
    assert store.unlinked_articles(later) == []
    assert all(store.story_of(f"art{i}") is not None for i in range(3))
    subjects = sorted(message_from_bytes(p.read_bytes(), policy=policy.default)["Subject"] for p in outbox.glob("*"))
    assert len(subjects) == 3 and all("Talks resume, day" in s for s in subjects)


def test_the_claim_of_a_dead_worker_is_released_at_once_and_a_live_ones_is_kept(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    outbox = tmp_path / "outbox"
    alerter = Alerter(AlertSettings(), store, Composer("w <w@wire.test>"), OutboxMailer(tmp_path / "first"))
    writes = BatchWrites()  # two alerts in the outbox, as a batch queues them
    for i in range(2):
        store.archive_article(f"art{i}", "u", "t", "", None, "x", tagged(i).to_bytes().decode())
        writes.queue(alerter.queue.compose(alerter.subscribers[0], tagged(i), "topic", None, None))
    assert len(writes.write(store)) == 2
    host = socket.gethostname()
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        keys = [a.idem_key for a in store.pending_alerts()]
        assert store.claim_alerts(keys[:1], WorkerId(host, dead_pid(), "alert")) == keys[:1]  # killed while sending
        assert store.claim_alerts(keys[1:], WorkerId(host, alive.pid, "alert")) == keys[1:]  # still sending
        assert dead_on_this_host([WorkerId(host, alive.pid, "alert"), WorkerId("other", dead_pid(), "alert")]) == []
        sent, failed = deliver_pending(store, OutboxMailer(outbox), claim_timeout=300.0)
    finally:
        alive.kill()
        alive.wait()
    assert (sent, failed) == (1, 0) and len(list(outbox.glob("*.eml"))) == 1
    counts = store.alert_counts()
    assert counts == {"sent": 1, "sending": 1}
