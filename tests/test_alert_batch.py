"""The alert stage's batch handler on SQLite and PostgreSQL: what one by one did, in three transactions a batch.

A batch archives, links and queues what handling its articles one at a time did; redelivered, it sends
nothing again; a crash between its archive and its alerts leaves the work to the redelivery or the
sweep; two workers given the same batch mail each alert once; a record the database refuses fails
alone (a dead letter) and the rest of its batch is alerted.
"""

import math
import random
import threading
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from kafka.consumer.fetcher import ConsumerRecord
from sqlalchemy import event, select
from wirewatch.alerts.alert_batch import archive, archive_row, look_up
from wirewatch.alerts.alert_store import AlertStore
from wirewatch.alerts.alerter import BATCH_LIMIT, Alerter
from wirewatch.alerts.compose import Composer
from wirewatch.alerts.mailer import OutboxMailer

from wirewatch.config import AlertSettings, KafkaSettings
from wirewatch.devtools.newswire import write_article
from wirewatch.entry_progress import AcceptedEntry
from wirewatch.kafka import DEADLETTER, TAGGED, KafkaWiring
from wirewatch.runner import StageRunner
from wirewatch.schema import Article, DeadLetter, Entry, TaggedArticle, TopicTag
from wirewatch.tables import alerts, stories
from wirewatch.tables import archive as archive_table


def wire(n: int, prefix: str = "a") -> list[TaggedArticle]:
    """Articles of the synthetic newswire; every third one on topic (tagged ceasefire_talks)."""
    rng = random.Random(3)
    start = datetime.now(UTC) - timedelta(minutes=10)
    out = []
    for number in range(n):
        w = write_article(number, 5, start + timedelta(seconds=number), rng)
        entry = Entry(article_id=f"{prefix}{number}", url=f"https://wire.test/{prefix}{number}", canonical_url="",
                      feed_url="f", feed_title=f"Desk {w.desk}", title=w.title, published=w.published.isoformat())
        article = Article(entry=entry, title=w.title, text="\n".join(w.paragraphs), published=w.published.isoformat())
        out.append(TaggedArticle(article=article, topics=[
            TopicTag(topic="ceasefire_talks", score=0.9 if w.on_topic else 0.1, fired=w.on_topic)]))
    return out


def on_topic(articles: list[TaggedArticle]) -> set[str]:
    return {t.article_id for t in articles if t.fired()}


def alerter_on(url: str, outbox: Path, subscribe: bool = True) -> Alerter:
    store = AlertStore.open(url)
    if subscribe:
        store.add_subscriber("desk@example.org")
        store.subscribe("desk@example.org", "topic", "ceasefire_talks", 0.6)
    return Alerter(AlertSettings(), store, Composer("w <w@wire.test>"), OutboxMailer(outbox))


def emails(*outboxes: Path) -> list[Path]:
    return [p for o in outboxes if o.exists() for p in o.glob("*.eml")]


def archive_rows(store: AlertStore) -> dict[str, tuple[int | None, bool]]:
    with store.engine.connect() as conn:
        return {r[0]: (r[1], bool(r[2])) for r in conn.execute(
            select(archive_table.c.article_id, archive_table.c.story_id, archive_table.c.linked))}


def alert_keys(store: AlertStore, status: str = "sent") -> list[str]:
    with store.engine.connect() as conn:
        return sorted(r[0] for r in conn.execute(select(alerts.c.idem_key).where(alerts.c.status == status)))


def partition(rows: dict[str, tuple[int | None, bool]]) -> set[frozenset[str]]:
    """The articles grouped by story, whatever the stories' ids."""
    groups: dict[int | None, set[str]] = defaultdict(set)
    for article_id, (story, _linked) in rows.items():
        groups[story].add(article_id)
    return {frozenset(g) for g in groups.values()}


def test_a_batch_does_what_one_by_one_did_in_three_transactions_and_its_mail(db_url: str, tmp_path: Path) -> None:
    articles = wire(40)
    one = alerter_on(f"sqlite:///{tmp_path / 'one.db'}", tmp_path / "one")
    for t in articles:
        one.handle(t)
    batched = alerter_on(db_url, tmp_path / "batch")
    batched.flush()  # its first round also looks for dead workers' claims: not the batch's work
    with batched.store.engine.begin() as conn:  # the poller accepted their entries
        accepted = [AcceptedEntry(t.article_id, "h", 1, t.article.entry.model_dump_json()) for t in articles]
        batched.store.entry_progress.accept(conn, accepted, redrive_after=600)
    commits = [0]
    event.listen(batched.store.engine, "commit", lambda _c: commits.__setitem__(0, commits[0] + 1))
    assert batched.handle_batch(articles) == [[] for _ in articles]

    rows = archive_rows(batched.store)
    assert set(rows) == {t.article_id for t in articles}
    assert all(story is not None and linked for story, linked in rows.values())
    assert partition(rows) == partition(archive_rows(one.store))  # the same stories, article for article
    assert alert_keys(batched.store) == alert_keys(one.store) == sorted(
        f"desk@example.org|{i}|topic" for i in on_topic(articles))
    sent = len(emails(tmp_path / "batch"))
    assert sent == len(on_topic(articles)) == len(emails(tmp_path / "one"))
    assert batched.store.entry_progress.counts() == {"archived": len(articles)}
    # per BATCH_LIMIT articles: look-up (with story ids reserved), archive, alerts with linked marks; then a claim
    # per email, each with the sent mark of the email before, and the last sent mark of the chunk's round
    chunks = math.ceil(len(articles) / BATCH_LIMIT)
    assert commits[0] <= 3 * chunks + sent + chunks
    with batched.store.engine.connect() as conn:
        titles = dict(conn.execute(select(stories.c.id, stories.c.title)).all())
    used = {story for story, _ in rows.values()}
    assert used <= set(titles) and all(titles[s] for s in used)  # every story named; reserved ids stay unused


def test_a_redelivered_batch_sends_nothing_again_and_an_article_twice_in_a_batch_counts_once(
        db_url: str, tmp_path: Path) -> None:
    articles = wire(12)
    alerter = alerter_on(db_url, tmp_path / "o")
    alerter.handle_batch([*articles, articles[0], articles[3]])
    before = (archive_rows(alerter.store), alert_keys(alerter.store), len(emails(tmp_path / "o")))
    alerter.handle_batch(list(reversed(articles)))
    assert (archive_rows(alerter.store), alert_keys(alerter.store), len(emails(tmp_path / "o"))) == before
    assert len(before[1]) == len(on_topic(articles)) == before[2]


def test_a_crash_between_the_archive_and_the_alerts_leaves_them_to_the_sweep_and_the_redelivery(
        db_url: str, tmp_path: Path) -> None:
    """The worker archived the batch with its stories (the second of its transactions) and was killed
    before it queued the alerts: the next worker finishes them at start, keeps the stories, mails once."""
    articles = wire(15)
    first = alerter_on(db_url, tmp_path / "first")
    look_up(first.store, first.story_ids, [t.article_id for t in articles])
    archive(first.store, first.story_ids, [archive_row(t, first._link_story(t)) for t in articles])
    left = archive_rows(first.store)
    assert len(left) == 15 and not any(linked for _, linked in left.values()) and not alert_keys(first.store, "pending")

    restarted = alerter_on(db_url, tmp_path / "next", subscribe=False)  # completes what is unlinked at start
    restarted.handle_batch(articles)  # and the broker delivers the batch again
    rows = archive_rows(restarted.store)
    assert all(linked for _, linked in rows.values())
    assert {a: s for a, (s, _) in rows.items()} == {a: s for a, (s, _) in left.items()}  # stories kept
    assert len(alert_keys(restarted.store)) == len(on_topic(articles)) == len(emails(tmp_path / "next"))


def test_two_workers_given_the_same_batch_at_once_mail_each_alert_once(db_url: str, tmp_path: Path) -> None:
    """Scale-out: a rebalance hands a batch to a second worker while the first still works on it."""
    articles = wire(30)
    workers = [alerter_on(db_url, tmp_path / "w0"), alerter_on(db_url, tmp_path / "w1", subscribe=False)]
    start = threading.Barrier(2)
    failures: list[BaseException] = []

    def work(alerter: Alerter, batch: list[TaggedArticle]) -> None:
        try:
            start.wait(10)
            alerter.handle_batch(batch)
        except BaseException as exc:  # reported below
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(w, b)) for w, b in zip(workers, (articles, articles[::-1]),
                                                                          strict=True)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    assert not failures
    for w in workers:
        w.flush()
    rows = archive_rows(workers[0].store)
    assert len(rows) == 30 and all(story is not None and linked for story, linked in rows.values())
    assert len(alert_keys(workers[0].store)) == len(on_topic(articles))
    mailed = [p.name for p in emails(tmp_path / "w0", tmp_path / "w1")]
    assert len(mailed) == len(set(mailed)) == len(on_topic(articles))


def test_a_record_the_database_refuses_fails_alone_and_the_rest_of_its_batch_is_alerted(
        pg_url: str, tmp_path: Path) -> None:
    """PostgreSQL refuses a NUL character in text: that record's batch fails as a whole, the runner
    handles its records one by one, the bad one becomes a dead letter and the others are alerted once."""
    articles = wire(9)
    bad = articles[4].model_copy(update={"article": articles[4].article.model_copy(
        update={"text": "a NUL \x00 in the text"})})
    batch = [*articles[:4], bad, *articles[5:]]
    alerter = alerter_on(pg_url, tmp_path / "o")
    wiring = KafkaWiring(KafkaSettings(), "127.0.0.1:1")  # not contacted: process_batch() only decides
    runner = StageRunner("alert", wiring, TAGGED, TaggedArticle, alerter.handle, retries=1, retry_delay=0.01,
                         handle_batch=alerter.handle_batch)
    records = [ConsumerRecord(wiring.topic(TAGGED), 0, -1, n, 0, 0, t.article_id.encode(), t.to_bytes(), [], None,
                              -1, -1, -1) for n, t in enumerate(batch)]
    outputs = runner.process_batch(records)
    letters = [(n, o.message) for n, outs in enumerate(outputs) for o in outs]
    assert [n for n, _ in letters] == [4] and all(o.topic == DEADLETTER for outs in outputs for o in outs)
    assert isinstance(letters[0][1], DeadLetter) and letters[0][1].reason == "processing_error"
    rows = archive_rows(alerter.store)
    good = [t for t in batch if t is not bad]
    assert set(rows) == {t.article_id for t in good} and all(linked for _, linked in rows.values())
    assert len(alert_keys(alerter.store)) == len(on_topic(good)) == len(emails(tmp_path / "o"))


@pytest.mark.parametrize("size", [1, 2])
def test_a_batch_of_one_or_two_is_handled_like_any_other(size: int, tmp_path: Path) -> None:
    articles = wire(3)[:size]
    alerter = alerter_on(f"sqlite:///{tmp_path / 's.db'}", tmp_path / "o")
    assert alerter.handle_batch(articles) == [[] for _ in articles]
    assert all(linked for _, linked in archive_rows(alerter.store).values())
    assert len(emails(tmp_path / "o")) == len(on_topic(articles))
