"""The alert stage: archive each tagged article, link it to watched stories, queue and send email.

In: :class:`TaggedArticle`. Out: nothing on Kafka; rows in the archive, story links and the
outbox, then email. Order per article: archive (once, by article id) → for each watch, relate the
article to the story and link it → queue one email per (subscriber, article, kind), an insert
guarded by that idempotency key, so a redelivered message never mails twice → drain the outbox.
A subscriber who gets a follow-up email for an article does not get a second, topic email for it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from alerts.compose import AlertFacts, Composer, TopicLine
from alerts.mailer import Mailer, deliver_pending
from alerts.stories import Relation, StoryProfile, TermStats, profile_from, relate
from wirewatch.config import AlertSettings, SubscriberSettings, WatchSettings
from wirewatch.kafka import Output
from wirewatch.schema import TaggedArticle, decode
from wirewatch.storage import Store

log = logging.getLogger(__name__)

SNIPPET_CHARS = 600
BACKFILL_LIMIT = 2000


@dataclass
class Watch:
    settings: WatchSettings
    profile: StoryProfile | None


def _canonical(url: str) -> str:
    return url.strip().lower().rstrip("/").split("#", 1)[0]


def _snippet(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= SNIPPET_CHARS else text[:SNIPPET_CHARS].rsplit(" ", 1)[0] + " …"


class Alerter:
    def __init__(self, settings: AlertSettings, watches: list[WatchSettings], subscribers: list[SubscriberSettings],
                 store: Store, composer: Composer, mailer: Mailer) -> None:
        self.settings = settings
        self.subscribers = subscribers
        self.store = store
        self.composer = composer
        self.mailer = mailer
        self.stats = TermStats()
        self.watches = [Watch(w, self._initial_profile(w)) for w in watches]

    def _initial_profile(self, watch: WatchSettings) -> StoryProfile | None:
        texts = []
        if watch.seed_text:
            texts.append(watch.seed_text)
        if watch.seed_file:
            texts.append(Path(watch.seed_file).read_text(encoding="utf-8", errors="replace"))
        if watch.seed_url:
            seed = self.store.archived_by_url(watch.seed_url)
            if seed:
                texts.append(f"{seed['title']}\n{seed['text']}")
        texts += [f"{m['title']}\n{m['text']}" for m in self.store.story_texts(watch.id)]
        for text in texts:
            self.stats.add(text)
        return profile_from(watch.id, watch.name, texts) if texts else None

    # -- the stage ---------------------------------------------------------------------------
    def handle(self, tagged: TaggedArticle) -> list[Output]:
        article = tagged.article
        body = f"{article.title}\n{article.text}"
        first_time = self.store.archive_article(
            tagged.article_id, article.entry.url, article.title, article.entry.feed_title or article.sitename,
            article.published, article.text, tagged.to_bytes().decode("utf-8"))
        if first_time:
            self.stats.add(body)
        followed: set[str] = set()
        for watch in self.watches:
            # a redelivered article keeps the links decided the first time; only unsent email is completed
            relation = self._link(watch, tagged, body) if first_time else self._relink(watch, tagged, body)
            if relation is not None and relation.related:
                followed |= self._queue_followups(watch, tagged, relation)
        for sub in self.subscribers:
            if sub.email in followed:
                continue
            hits = [t for t in tagged.fired() if t.topic in sub.topics and t.score >= sub.topics[t.topic]]
            if hits:
                self._queue(sub, tagged, "topic", None, None)
        self.flush()
        return []

    def flush(self) -> None:
        deliver_pending(self.store, self.mailer)

    def _queue_followups(self, watch: Watch, tagged: TaggedArticle, relation: Relation) -> set[str]:
        emails = set()
        for sub in self.subscribers:
            if watch.settings.id in sub.watches:
                self._queue(sub, tagged, "followup", watch, relation)
                emails.add(sub.email)
        return emails

    def _link(self, watch: Watch, tagged: TaggedArticle, body: str) -> Relation | None:
        entry = tagged.article.entry
        if watch.settings.seed_url and _canonical(watch.settings.seed_url) in (
                _canonical(entry.url), _canonical(entry.canonical_url)):
            if self.store.link_member(watch.settings.id, tagged.article_id, "seed", 1.0):
                watch.profile = watch.profile or StoryProfile(watch.settings.id, watch.settings.name)
                watch.profile.add(body)
                log.info("watch %s: seeded by %s", watch.settings.id, entry.url)
                self._backfill(watch, tagged.article_id)
            return None
        if watch.profile is None:
            return None
        relation = relate(body, watch.profile, self.stats, self.settings.related_threshold,
                          self.settings.duplicate_threshold)
        if relation.related and self.store.link_member(watch.settings.id, tagged.article_id, relation.kind,
                                                       relation.similarity):
            watch.profile.add(body)
            log.info("watch %s: %s is a follow-up (%s, similarity %.2f)", watch.settings.id, tagged.article_id,
                     relation.kind, relation.similarity)
        return relation

    def _relink(self, watch: Watch, tagged: TaggedArticle, body: str) -> Relation | None:
        linked = self.store.member(watch.settings.id, tagged.article_id)
        if linked is None or linked[0] == "seed" or watch.profile is None:
            return None
        fresh = relate(body, watch.profile, self.stats, self.settings.related_threshold,
                       self.settings.duplicate_threshold)
        return Relation(linked[0], linked[1], fresh.overlap, fresh.shared_terms, fresh.new_terms)

    def _backfill(self, watch: Watch, seed_id: str) -> None:
        """Relate the recent archive to a story whose seed arrived after some of its follow-ups.

        Partitions do not keep order across articles, so a rewrite may be archived before the report
        it retells; the seed's arrival gives those a second look.
        """
        assert watch.profile is not None
        for row in reversed(self.store.recent_archive(BACKFILL_LIMIT)):
            if row["article_id"] == seed_id:
                continue
            relation = relate(f"{row['title']}\n{row['text']}", watch.profile, self.stats,
                              self.settings.related_threshold, self.settings.duplicate_threshold)
            if relation.related and self.store.link_member(watch.settings.id, row["article_id"], relation.kind,
                                                           relation.similarity):
                watch.profile.add(f"{row['title']}\n{row['text']}")
                self._queue_followups(watch, decode(row["tagged_json"], TaggedArticle), relation)

    def _queue(self, sub: SubscriberSettings, tagged: TaggedArticle, kind: str, watch: Watch | None,
               relation: Relation | None) -> None:
        article = tagged.article
        key = f"{sub.email}|{tagged.article_id}|{kind}" + (f":{watch.settings.id}" if watch else "")
        facts = AlertFacts(
            alert_id=key, kind=kind, subscriber=sub.email, headline=article.title or "(untitled)",
            source=article.entry.feed_title or article.sitename or article.entry.feed_url,
            published=article.published or "unknown", url=article.entry.url, snippet=_snippet(article.text),
            topics=[TopicLine(t.topic, t.score, t.explanation) for t in tagged.fired()],
            fallback=article.fetch_error if article.text_source == "feed_summary" else "",
            story_name=watch.settings.name if watch else "", relation=relation.kind if relation else "",
            similarity=relation.similarity if relation else 0.0,
            shared_terms=", ".join(relation.shared_terms) if relation else "",
            new_terms=", ".join(relation.new_terms) if relation else "")
        message = self.composer.compose(facts)
        if self.store.queue_alert(key, sub.email, tagged.article_id, kind, facts.subject, message.as_string()):
            log.info("queued %s alert for %s: %s", kind, sub.email, facts.subject)
