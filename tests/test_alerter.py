"""The alert stage's logic on plain tagged articles, with a SQLite store and the .eml outbox."""

from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path

from wirewatch.alerts.alert_queue import next_digest
from wirewatch.alerts.alert_store import AlertStore
from wirewatch.alerts.alerter import Alerter
from wirewatch.alerts.compose import Composer
from wirewatch.alerts.mailer import OutboxMailer, deliver_pending

from wirewatch.config import AlertSettings
from wirewatch.devtools.corpus import DemoCorpus
from wirewatch.schema import Article, Entry, TaggedArticle, TopicTag

CORPUS = DemoCorpus.load()


def tagged(art: dict) -> TaggedArticle:  # type: ignore[type-arg]
    entry = Entry(article_id=art["id"], url=f"https://news.test/{art['slug']}", canonical_url="", feed_url="f",
                  feed_title=art["feed"], title=art["title"], published=art["published"])
    article = Article(entry=entry, title=art["title"], text="\n".join(art["body"]), published=art["published"],
                      sitename=art["feed"])
    tags = [TopicTag(topic=t, score=0.9 if v else 0.1, fired=v, explanation="test")
            for t, v in art["labels"].items() if t != "doha_story"]
    return TaggedArticle(article=article, topics=tags)


def setup(tmp_path: Path, mode: str) -> tuple[AlertStore, Alerter, Path]:
    store = AlertStore.open(f"sqlite:///{tmp_path / 's.db'}")
    seed = next(a for a in CORPUS.articles if a["kind"] == "doha_report")
    store.add_watch("doha", "Doha talks", seed_url=f"https://news.test/{seed['slug']}")
    store.add_subscriber("a@example.org", mode=mode)
    store.subscribe("a@example.org", "watch", "doha")
    store.subscribe("a@example.org", "topic", "energy_strikes", 0.5)
    outbox = tmp_path / "outbox"
    alerter = Alerter(AlertSettings(), store, Composer("w <w@wire.test>"), OutboxMailer(outbox))
    return store, alerter, outbox


def mails(outbox: Path) -> list:  # type: ignore[type-arg]
    return [message_from_bytes(p.read_bytes(), policy=policy.default) for p in sorted(outbox.glob("*.eml"))]


def test_an_hourly_subscriber_gets_one_digest(tmp_path: Path) -> None:
    store, alerter, outbox = setup(tmp_path, "hourly")
    for art in CORPUS.articles:
        alerter.handle(tagged(art))
    assert mails(outbox) == []  # nothing before the hour
    counts = store.alert_counts()
    assert counts == {"pending": counts["pending"]} and counts["pending"] >= 8
    hour = next_digest("hourly", datetime.now(UTC), 7)
    sent, failed = deliver_pending(store, OutboxMailer(outbox), now=hour + timedelta(seconds=1),
                                   digest=alerter.composer.compose_digest)
    [digest] = mails(outbox)
    assert (sent, failed) == (counts["pending"], 0)
    assert digest["Subject"].startswith(f"[wirewatch] {sent} updates")
    text = digest.get_body(("plain",)).get_content()
    assert "Follow-up to: Doha talks" in text and "Moscow denies any talks" in text
    # redelivery of everything: nothing queued again
    for art in CORPUS.articles:
        alerter.handle(tagged(art))
    assert store.alert_counts() == {"sent": sent}


def test_next_digest_times() -> None:
    now = datetime(2024, 8, 17, 9, 40, tzinfo=UTC)
    assert next_digest("hourly", now, 7) == datetime(2024, 8, 17, 10, tzinfo=UTC)
    assert next_digest("daily", now, 7) == datetime(2024, 8, 18, 7, tzinfo=UTC)
    assert next_digest("daily", now.replace(hour=6), 7) == datetime(2024, 8, 17, 7, tzinfo=UTC)


def test_feedback_on_an_alert_becomes_a_training_example(tmp_path: Path) -> None:
    import json
    import re

    from click.testing import CliRunner

    from wirewatch.app.cli import main

    data = tmp_path / "data"
    data.mkdir()
    store = AlertStore.open(f"sqlite:///{data / 'wirewatch.db'}")
    store.add_subscriber("a@example.org")
    store.subscribe("a@example.org", "topic", "energy_strikes", 0.5)
    alerter = Alerter(AlertSettings(), store, Composer("w <w@wire.test>"), OutboxMailer(tmp_path / "outbox"))
    strike = next(a for a in CORPUS.articles if a["kind"] == "energy_strike")
    alerter.handle(tagged(strike))
    [mail] = mails(tmp_path / "outbox")
    text = mail.get_body(("plain",)).get_content()
    ref = re.search(r"wirewatch feedback (\w+) relevant", text).group(1)  # type: ignore[union-attr]
    assert "mailto:feedback@wire.test?subject=relevant%20" + ref in text
    runner = CliRunner()
    result = runner.invoke(main, ["--data-dir", str(data), "feedback", ref, "not-relevant"])
    assert result.exit_code == 0 and result.output.startswith("recorded: not-relevant"), result.output
    assert runner.invoke(main, ["--data-dir", str(data), "feedback", "nope", "relevant"]).exit_code == 2
    out = tmp_path / "feedback.jsonl"
    result = runner.invoke(main, ["--data-dir", str(data), "export-feedback", str(out)])
    assert result.exit_code == 0
    [example] = [json.loads(line) for line in out.read_text().splitlines()]
    assert example["labels"] == {"energy_strikes": False} and example["title"] == strike["title"]


def test_two_alert_workers_share_the_story_through_the_database(tmp_path: Path) -> None:
    """Scale-out: what one alert worker links to a watched story, the other learns at its next refresh —
    the follow-ups it was sent, and the articles in the story index — so neither mails a development twice."""
    import wirewatch.alerts.alerter as alerter_module

    store, first, _outbox = setup(tmp_path, "immediate")
    second = Alerter(AlertSettings(), AlertStore.open(store.db.url), Composer("w <w@wire.test>"),
                     OutboxMailer(tmp_path / "o2"))
    seed = next(a for a in CORPUS.articles if a["kind"] == "doha_report")
    follow = [a for a in CORPUS.articles if a["kind"] == "doha_followup"]
    first.handle(tagged(seed))
    first.handle(tagged(follow[0]))
    assert store.member(first.watches[0].settings.id, follow[0]["id"])[0] == "follow_up"  # type: ignore[index]

    stories_before = len(second.stories.stories)
    alerter_module.SYNC_MARGIN = timedelta(0)  # the test does not wait for the settling margin
    try:
        second.refresh()
    finally:
        alerter_module.SYNC_MARGIN = timedelta(seconds=5)
    [watch] = second.watches
    assert watch.profile is not None and watch.members == 2  # the seed and the follow-up
    assert len(second.stories.stories) > stories_before  # the first worker's articles are in its index
    # the same development retold reaches the second worker: not a new development for the analyst
    relation = second._decide(watch, tagged(follow[0] | {"id": "retold", "slug": "retold"}))
    assert relation.kind == "same_report" and not relation.new_facts


def test_a_worker_killed_between_linking_and_queueing_leaves_the_follow_up_to_the_next(tmp_path: Path) -> None:
    """The article is archived and linked as a follow-up, then the worker dies before the email is queued:
    the redelivered message finds it unfinished and queues the follow-up (not a 'same report')."""
    store, first, _outbox = setup(tmp_path, "immediate")
    seed = next(a for a in CORPUS.articles if a["kind"] == "doha_report")
    follow = tagged(next(a for a in CORPUS.articles if a["kind"] == "doha_followup"))
    first.handle(tagged(seed))
    article = follow.article
    assert store.archive_article(follow.article_id, article.entry.url, article.title, "", article.published,
                                 article.text, follow.to_bytes().decode()) == "new"
    [watch] = first.watches
    assert first._decide(watch, follow).kind == "follow_up"  # linked and learnt; then the worker is killed
    assert not [k for k in store.alert_counts() if k != "sent"]

    restarted = Alerter(AlertSettings(), AlertStore.open(store.db.url), Composer("w <w@wire.test>"),
                        OutboxMailer(tmp_path / "o2"))
    restarted.handle(follow)
    with store.engine.connect() as conn:
        from sqlalchemy import select

        from wirewatch.tables import alerts

        kinds = {r.kind for r in conn.execute(select(alerts.c.kind).where(alerts.c.article_id == follow.article_id))}
    assert kinds == {"followup"}
    assert restarted.store.archive_article(follow.article_id, "", "", "", None, "", "{}") == "done"


def test_a_watch_seeded_with_another_form_of_the_articles_url_links_it(tmp_path: Path) -> None:
    """The seed URL an analyst pastes is often the www. or utm_-tagged form of the link the feed gave: it
    names the same page, so the article seeds the watch (one canonical URL for the poller and the alerts)."""
    store = AlertStore.open(f"sqlite:///{tmp_path / 's.db'}")
    seed = next(a for a in CORPUS.articles if a["kind"] == "doha_report")
    store.add_watch("doha", "Doha talks", seed_url=f"HTTPS://www.news.test/{seed['slug']}/?utm_source=mail#top")
    alerter = Alerter(AlertSettings(), store, Composer("w <w@wire.test>"), OutboxMailer(tmp_path / "outbox"))
    alerter.handle(tagged(seed))
    link = store.member("doha", seed["id"])
    assert link is not None and link[0] == "seed"
