"""The alert stage: archive each tagged article, link it to watched stories, queue and send email.

In: :class:`TaggedArticle`. Out: nothing on Kafka; rows in the archive, story links and the
outbox, then email. Order per article: archive (once, by article id) → for each watch, relate the
article to the story (:mod:`alerts.stories`) and link it → queue one email per (subscriber,
article, kind), an insert guarded by that idempotency key, so a redelivered message never mails
twice → drain the outbox. A consumed batch does this in chunks of :data:`BATCH_LIMIT` articles, three
transactions each (:mod:`alerts.alert_batch`), draining the outbox after each; one article is a batch of one.

For a watched story, a *follow-up* (a new development) is emailed with what is new and who else
reported it; the *same report* retold by another outlet is not emailed on its own — it is folded
into the story, and named as "also reported by" in the email of the member it retells. A
subscriber who gets a follow-up email for an article does not get a second, topic email for it.
What the email says is worded by :mod:`alerts.story_wording` and :mod:`alerts.wording` from the
article's own text; the linker's keys, reason and scores go to the log and ``X-`` headers.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

from sqlalchemy import Connection
from wirewatch.alerts.alert_batch import BatchWrites, StoryIds, archive, archive_row, look_up
from wirewatch.alerts.alert_queue import AlertQueue, Subscriber
from wirewatch.alerts.alert_store import AlertStore
from wirewatch.alerts.archive_store import ArchiveOutcome
from wirewatch.alerts.compose import AlertFacts, Composer
from wirewatch.alerts.key_store import ArticleKeys, ArticleKeyStore, RestoredArticle
from wirewatch.alerts.linker_stage import WatchedStory, WatchLinker
from wirewatch.alerts.mailer import Mailer, RetryPolicy, dead_on_this_host, deliver_pending
from wirewatch.alerts.outbox import QueuedAlert
from wirewatch.alerts.stage import NAME as STAGE_NAME
from wirewatch.alerts.stories import Relation, TermStats
from wirewatch.alerts.story_index import StoryIndex
from wirewatch.alerts.story_wording import FollowUpWording

from wirewatch.canonical_url import canonical_url
from wirewatch.config import AlertSettings, WatchSettings
from wirewatch.heartbeats import WorkerId
from wirewatch.kafka import Output
from wirewatch.progress import Progress
from wirewatch.schema import TaggedArticle, decode, parse_time

log = logging.getLogger(__name__)

SWEEP_SECONDS = 300.0  # how often the archive is searched for articles a dead worker left unlinked
SWEEP_MIN_AGE = timedelta(minutes=2)  # younger ones may be in the hands of a live worker
SYNC_MARGIN = timedelta(seconds=5)  # articles archived this recently may still be getting their story
BACKFILL_LIMIT = 2000
BATCH_LIMIT = 20  # articles queued and mailed together: the first of a longer batch waits for no more than these


@dataclass
class Watch:
    settings: WatchSettings
    profile: WatchedStory | None
    members: int = 0  # links of this story in the database that the profile has learnt from


def _body(tagged: TaggedArticle) -> str:
    return f"{tagged.article.title}\n{tagged.article.text}"


class Alerter:
    """Reads its watches and subscribers from the store (config and `wirewatch watch/subscribers`),
    and re-reads them every few seconds, so that a change takes effect without a restart."""

    REFRESH_SECONDS = 5.0

    def __init__(self, settings: AlertSettings, store: AlertStore, composer: Composer, mailer: Mailer,
                 progress: Progress | None = None, worker: WorkerId | None = None, retry: RetryPolicy | None = None,
                 claim_timeout: float = 300.0) -> None:
        self.settings = settings
        self.store = store
        self.composer = composer
        self.mailer = mailer
        self.progress = progress or Progress()
        self.worker = worker or WorkerId.here(STAGE_NAME)
        self.retry = retry or RetryPolicy()
        self.claim_timeout = claim_timeout
        self._unrecorded: list[QueuedAlert] = []  # sent while the database was down: recorded when it is back
        self._claims_checked = float("-inf")
        self.stats = TermStats.with_background()
        self.linker = WatchLinker(self.stats, settings.related_threshold, settings.window_days)
        self.story_ids = StoryIds(store)
        self.queue = AlertQueue(settings, store, composer)
        self._writes = BatchWrites()  # what the batch being handled writes once its articles are linked
        self._unsettled: set[str] = set()  # the batch's articles not linked yet: a seed's backfill leaves them
        self._found: dict[str, ArticleKeys] = {}  # the batch's articles' keys, stored once they are archived
        self.stories = StoryIndex(settings.story_threshold, settings.story_window_days, new_id=self.story_ids.take)
        self._restore_stories()
        self.watches: list[Watch] = []
        self.subscribers: list[Subscriber] = []
        self._refreshed = 0.0
        self.refresh()
        self._swept = time.monotonic()
        self.complete_unlinked(first=True)

    def _restore_stories(self) -> None:
        until = datetime.now(UTC) - SYNC_MARGIN  # the rest comes with the first refresh
        self.article_keys = ArticleKeyStore(self.store.db)
        self.article_keys.restore(until - timedelta(days=self.settings.story_window_days), until, self._restore,
                                  with_text=self.linker.model is not None)  # keys stored: alerts/key_store.py
        self._synced_until = until
        self._mine: dict[str, datetime] = {}  # articles this process linked lately: not taken twice from the database

    def _restore(self, row: RestoredArticle) -> None:
        self.stats.add_names(row.keys.names)  # as self.stats.add(row.body)
        if self.linker.model is not None:  # the learned linker analyses the text (its keys are its own)
            self.linker.archived(row.article_id, row.body, published=parse_time(row.published))
        if row.story_id is not None:
            self.stories.restore(row.story_id, row.keys.keys, parse_time(row.published), row.title)

    def _sync_stories(self) -> None:
        """Take in the articles other alert workers linked since the last look (scale-out)."""
        until = datetime.now(UTC) - SYNC_MARGIN
        self.article_keys.restore(self._synced_until, until, self._restore, with_text=self.linker.model is not None,
                                  linked_only=True, skip=self._mine)
        self._synced_until = until
        # linked before ``until`` means archived before it: covered by this look, not to be skipped again
        self._mine = {k: t for k, t in self._mine.items() if t >= until}

    def request_refresh(self) -> None:
        """Refresh before the next article (from another thread: the refresh itself runs in the stage's)."""
        self._refreshed = float("-inf")

    def refresh(self) -> None:
        """Subscribers and watches as the database has them now, and what other workers added to stories."""
        self._refreshed = time.monotonic()
        self.subscribers = [Subscriber(s["email"], s["mode"], s["topics"], tuple(s["watches"]))
                            for s in self.store.list_subscribers()]
        self._sync_stories()
        counts = self.store.member_counts()
        known = {w.settings.id: w for w in self.watches}
        current = []
        for row in self.store.list_watches():
            watch = known.get(row["id"])
            if watch is None:
                ws = WatchSettings(id=row["id"], name=row["name"], seed_url=row["seed_url"],
                                   seed_text=row["seed_text"], topics=row["topics"])
                watch = Watch(ws, None)
                watch.profile = self._initial_profile(ws)
                watch.members = counts.get(ws.id, 0)
            elif counts.get(watch.settings.id, 0) != watch.members:  # another alert worker linked to it
                watch.profile = self._initial_profile(watch.settings)
                watch.members = counts.get(watch.settings.id, 0)
            current.append(watch)
        self.watches = current

    def _initial_profile(self, watch: WatchSettings) -> WatchedStory | None:
        """The story as far as it is known: its seed, then the members already linked (oldest first)."""
        seed_text = watch.seed()
        topics = set(watch.topics)
        when = None
        if watch.seed_url:
            row = self.store.archived_by_url(watch.seed_url)
            if row is None:
                return None  # seeded when the article arrives
            seed = decode(row["tagged_json"], TaggedArticle)
            seed_text = _body(seed)
            topics |= {t.topic for t in seed.fired()}
            when = parse_time(seed.article.published)
        profile = self.linker.story(watch.id, watch.name, seed_text, topics, when)
        self.stats.add(seed_text)
        for member in self.store.story_texts(watch.id):
            if member["relation"] in ("same_report", "follow_up"):
                self.linker.learn(profile, str(member["article_id"]), f"{member['title']}\n{member['text']}",
                                  str(member["relation"]), parse_time(member.get("published")))
        return profile

    # -- the stage ---------------------------------------------------------------------------
    def handle(self, tagged: TaggedArticle) -> list[Output]:
        return self.handle_batch([tagged])[0]

    def handle_batch(self, batch: list[TaggedArticle]) -> list[list[Output]]:
        """Archive, link and queue the alerts of a consumed batch (:mod:`alerts.alert_batch`), then send."""
        if len(batch) > BATCH_LIMIT:
            return [out for i in range(0, len(batch), BATCH_LIMIT)
                    for out in self.handle_batch(batch[i:i + BATCH_LIMIT])]
        if time.monotonic() - self._refreshed > self.REFRESH_SECONDS:
            self.refresh()
        self._writes = BatchWrites()
        firsts: dict[str, TaggedArticle] = {}
        for tagged in batch:
            firsts.setdefault(tagged.article_id, tagged)
        known = look_up(self.store, self.story_ids, list(firsts))
        # the story index links each new article before it is archived (with its story), in the order a
        # restart replays the batch: by article id (one archive time)
        story_of = {i: self._link_story(firsts[i]) for i in sorted(firsts) if i not in known}
        archived, others = archive(self.store, self.story_ids, [archive_row(t, story_of[i]) for i, t in firsts.items()
                                                                if i in story_of], then=self._keep_keys)
        known |= others
        linked_at = datetime.now(UTC)
        outcomes: dict[str, ArchiveOutcome] = {}
        for article_id, tagged in firsts.items():
            state = known.get(article_id)
            outcomes[article_id] = "new" if article_id in archived else "done" if state and state.linked else "unlinked"
            if article_id in archived:
                self.stats.add_names(self._found[article_id].names)  # as self.stats.add(body)
                self.linker.archived(article_id, _body(tagged), published=parse_time(tagged.article.published))
                self._mine[article_id] = linked_at
            elif outcomes[article_id] == "unlinked" and state is not None and state.story_id is None:
                # archived by a worker that died before it linked the article: finish its work
                self._writes.stories[article_id] = self._link_story(tagged)
        self.progress.event("articles_linked", len(archived) + len(self._writes.stories))
        self.article_keys.save_many([(i, self._found[i]) for i in self._writes.stories])  # rare: a dead worker's
        self._found = {}
        self._unsettled = set(firsts)
        try:
            for article_id, tagged in firsts.items():
                self._settle(tagged, outcomes[article_id])
                self._unsettled.discard(article_id)
            writes, self._writes = self._writes, BatchWrites()
            queued = writes.write(self.store)
        finally:
            self._writes, self._unsettled = BatchWrites(), set()
        for article_id in writes.stories:
            self._mine[article_id] = datetime.now(UTC)
        for alert in queued:
            self.progress.event("alerts_queued")
            log.info("%s", alert.log_line)
            log.debug("alert %s: %s", alert.key, alert.detail)
        self.flush()
        for tagged in batch:  # an article twice in the batch: the second is a redelivery of the first
            if firsts[tagged.article_id] is not tagged:
                self.handle(tagged)
        return [[] for _ in batch]

    def _keep_keys(self, conn: Connection, archived: set[str]) -> None:
        self.article_keys.write(conn, [(i, self._found[i]) for i in archived])  # for the next start

    def _link_story(self, tagged: TaggedArticle) -> int:
        article = tagged.article
        found = self._found[tagged.article_id] = ArticleKeys.of(_body(tagged))  # kept for the next start
        story_id, _new = self.stories.link(found.keys, parse_time(article.published), article.title)
        return story_id

    def _settle(self, tagged: TaggedArticle, outcome: ArchiveOutcome) -> None:
        """An archived article's watched stories and alerts (into the batch's writes); ``outcome`` says
        whether it is new, left unlinked by a worker that died, or done (a redelivery)."""
        first_time = outcome in ("new", "unlinked")
        followed: set[str] = set()
        for watch in self.watches:
            # a redelivered article keeps the links decided the first time; only unsent email is completed
            linked = self.store.member(watch.settings.id, tagged.article_id) if outcome != "new" else None
            if linked is None and first_time:
                relation = self._link(watch, tagged)
            elif linked is not None and linked[0] == "seed" and outcome == "unlinked":
                relation = None
                self._backfill(watch, tagged.article_id)  # the worker that seeded the story may have died in it
            else:
                relation = self._relink(watch, tagged)
            if relation is not None and relation.kind == "follow_up":
                followed |= self._queue_followups(watch, tagged, relation)
            elif relation is not None and relation.kind == "same_report":  # folded into the story, not mailed
                followed |= {s.email for s in self.subscribers if watch.settings.id in s.watches}
        for sub in self.subscribers:
            if sub.email in followed:
                continue
            hits = [t for t in tagged.fired() if t.topic in sub.topics and t.score >= sub.topics[t.topic]]
            if hits:
                self._queue(sub, tagged, "topic", None, None)
        if first_time:
            self._writes.linked.append(tagged.article_id)

    def complete_unlinked(self, first: bool = False) -> int:
        """Finish, from the archive itself, the articles a worker archived and died before linking:
        whatever the broker kept, their stories are linked and their alerts queued. At start every one
        of them is taken when no other alert worker is alive (they were all left by dead ones); later,
        and beside live workers, only those archived more than two minutes ago."""
        now = datetime.now(UTC)
        others: list[WorkerId] = []
        if first:
            heard = self.store.heartbeats.running(STAGE_NAME, now - timedelta(seconds=30))
            gone = set(dead_on_this_host(heard))
            others = [w for w in heard if w != self.worker and w not in gone]
        rows = self.store.unlinked_articles(now if first and not others else now - SWEEP_MIN_AGE)
        self.handle_batch([decode(raw, TaggedArticle) for raw in rows])
        if rows:
            log.warning("completed %d archived article(s) a stopped worker had not linked", len(rows))
            self.progress.event("alert_unlinked_completed", len(rows))
        return len(rows)

    def idle(self) -> None:
        """Between records: now and then complete what dead workers left unlinked; send what is due."""
        if time.monotonic() - self._swept >= SWEEP_SECONDS:
            self._swept = time.monotonic()
            self.complete_unlinked()
        self.flush()

    def flush(self) -> None:
        """Send what the outbox holds and is due."""
        # dead workers' claims are looked for a few times per claim timeout, not at every article
        look = time.monotonic() - self._claims_checked >= self.claim_timeout / 4
        if look:
            self._claims_checked = time.monotonic()
        _, failed = deliver_pending(self.store, self.mailer, digest=self.compose_digest,
                                    worker=self.worker, retry=self.retry,
                                    claim_timeout=self.claim_timeout if look else None,
                                    on_sent=self._sent, unrecorded=self._unrecorded)
        self.progress.event("alerts_failed", failed)

    def compose_digest(self, queued: list[QueuedAlert]) -> EmailMessage:
        """The email for alerts that go out together, each follow-up naming who retold it meanwhile."""
        return self.composer.compose_digest(queued, refresh=self._refresh)

    def _refresh(self, facts: AlertFacts) -> AlertFacts:
        watch = next((w for w in self.watches if w.settings.id == facts.watch_id), None)
        return self.queue.refreshed(facts, watch.settings) if watch is not None else facts

    def _sent(self, alert: QueuedAlert) -> None:
        self.progress.event("alerts_sent")
        now = datetime.now(UTC)
        if alert.published_at is not None:
            self.progress.observe_latency("publication", (now - alert.published_at).total_seconds())
        if alert.first_seen_at is not None:
            self.progress.observe_latency("first_sighting", (now - alert.first_seen_at).total_seconds())

    def _queue_followups(self, watch: Watch, tagged: TaggedArticle, relation: Relation) -> set[str]:
        emails = set()
        wording: FollowUpWording | None = None
        for sub in self.subscribers:
            if watch.settings.id in sub.watches:
                wording = wording or self._follow_up_wording(watch, tagged, relation)
                self._queue(sub, tagged, "followup", watch, relation, wording)
                emails.add(sub.email)
        return emails

    def _follow_up_wording(self, watch: Watch, tagged: TaggedArticle, relation: Relation) -> FollowUpWording:
        first = watch.profile.first_seen if watch.profile is not None else None
        return self.queue.follow_up_wording(watch.settings, first, tagged, relation)

    def _link(self, watch: Watch, tagged: TaggedArticle) -> Relation | None:
        entry = tagged.article.entry
        body = _body(tagged)
        if watch.settings.seed_url and canonical_url(watch.settings.seed_url) in (
                canonical_url(entry.url), canonical_url(entry.canonical_url)):
            if self.store.link_member(watch.settings.id, tagged.article_id, "seed", 1.0):
                watch.members += 1
                topics = set(watch.settings.topics) | {t.topic for t in tagged.fired()}
                watch.profile = self.linker.story(watch.settings.id, watch.settings.name, body, topics,
                                                  parse_time(tagged.article.published))
                log.info("watch %s: seeded by %s", watch.settings.id, entry.url)
                self._backfill(watch, tagged.article_id)
            return None
        if watch.profile is None:
            return None
        return self._decide(watch, tagged)

    def _decide(self, watch: Watch, tagged: TaggedArticle) -> Relation:
        assert watch.profile is not None
        published, topics = parse_time(tagged.article.published), {t.topic for t in tagged.fired()}
        relation = self.linker.relate(watch.profile, tagged.article_id, _body(tagged), published, topics)
        if relation.related and self.store.link_member(watch.settings.id, tagged.article_id, relation.kind,
                                                       relation.similarity):
            watch.members += 1
            self.linker.learn(watch.profile, tagged.article_id, _body(tagged), relation.kind, published, topics)
            log.info("watch %s: %s is %s (%s; names %.2f)", watch.settings.id, tagged.article_id,
                     relation.kind.replace("_", " "), relation.reason, relation.similarity)
        return relation

    def _relink(self, watch: Watch, tagged: TaggedArticle) -> Relation | None:
        linked = self.store.member(watch.settings.id, tagged.article_id)
        if linked is None or linked[0] == "seed":
            return None
        return Relation(linked[0], linked[1], "decided when first seen")

    def _backfill(self, watch: Watch, seed_id: str) -> None:
        """Relate the recent archive to a story whose seed arrived after some of its follow-ups.

        Partitions do not keep order across articles, so a rewrite may be archived before the report
        it retells; the seed's arrival gives those a second look, oldest first.
        """
        rows = [r for r in self.store.recent_archive(BACKFILL_LIMIT)
                if r["article_id"] != seed_id and r["article_id"] not in self._unsettled]
        tagged_rows = [decode(r["tagged_json"], TaggedArticle) for r in rows]
        tagged_rows.sort(key=lambda t: t.article.published or "")
        for tagged in tagged_rows:
            if self.store.member(watch.settings.id, tagged.article_id) is None:
                relation = self._decide(watch, tagged)
                if relation.kind == "follow_up":
                    self._queue_followups(watch, tagged, relation)

    def _queue(self, sub: Subscriber, tagged: TaggedArticle, kind: str, watch: Watch | None,
               relation: Relation | None, wording: FollowUpWording | None = None) -> None:
        """Into the outbox with the batch's writes (:meth:`handle_batch`)."""
        story = watch.settings.id if watch else ""
        self._writes.queue(self.queue.compose(sub, tagged, kind, watch.settings if watch else None, relation, wording,
                                              queued=self._writes.latest(sub.email, story)))
