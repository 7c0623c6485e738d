"""One alert for one subscriber: its email, when it may go out, and the outbox row that queues it.

In: a subscriber, a tagged article, the kind of alert (``topic`` or ``followup``) with the watched story
and the linker's relation for a follow-up. Out: a :class:`PendingAlert` — the row for the outbox
(:func:`~wirewatch.alerts.outbox.alert_row`, keyed ``subscriber|article|kind[:watch]`` so that a
redelivered article never queues it twice) and the line to log once it is queued. When it is due:
now for an immediate subscriber, unless an email on the same story went out (or is held) within the
storm window; at the next digest for an hourly or daily one.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from wirewatch.alerts.alert_facts import alert_facts, name_key, source_of
from wirewatch.alerts.alert_store import AlertStore
from wirewatch.alerts.compose import AlertFacts, Composer
from wirewatch.alerts.outbox import alert_row
from wirewatch.alerts.stories import Relation, names
from wirewatch.alerts.story_wording import FollowUpWording, also_reported_by, follow_up_wording

from wirewatch.config import AlertSettings, WatchSettings
from wirewatch.schema import TaggedArticle, parse_time


@dataclass(frozen=True)
class Subscriber:
    email: str
    mode: str  # "immediate", "hourly" or "daily"
    topics: dict[str, float]
    watches: tuple[str, ...]


@dataclass(frozen=True)
class PendingAlert:
    """An alert composed and not yet in the outbox: its row, and what the log says once it is queued."""

    row: dict[str, Any]
    log_line: str
    detail: str  # the topics' explanations, for the debug log

    @property
    def key(self) -> str:
        return str(self.row["idem_key"])


def next_digest(mode: str, now: datetime, daily_hour: int) -> datetime:
    """When an hourly or daily digest that would include an alert queued ``now`` goes out."""
    if mode == "hourly":
        return now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    today = now.replace(hour=daily_hour, minute=0, second=0, microsecond=0)
    return today if today > now else today + timedelta(days=1)


class AlertQueue:
    """Composes alerts and decides when they go out, from the outbox's record of what went out; words
    follow-ups from the watched story's members."""

    def __init__(self, settings: AlertSettings, store: AlertStore, composer: Composer) -> None:
        self.settings = settings
        self.store = store
        self.composer = composer

    def due(self, sub: Subscriber, story: str, queued: datetime | None = None) -> tuple[datetime | None, str]:
        """When this subscriber's alert may go out, and the group it is sent in.

        Immediate: now — unless an email on the same story went out (or is due) within
        ``storm_window_minutes``; then with the next one, batched. Hourly and daily: in the digest.
        ``queued``: when the latest alert on the story queued in this batch (not in the outbox yet) goes out.
        """
        now = datetime.now(UTC)
        if sub.mode in ("hourly", "daily"):
            due = next_digest(sub.mode, now, self.settings.daily_digest_hour)
            return due, f"digest:{due.isoformat()}"
        if not story:
            return None, ""
        last = max((t for t in (self.store.last_story_alert(sub.email, story), queued) if t is not None), default=None)
        window = timedelta(minutes=self.settings.storm_window_minutes)
        if last is not None and last > now:  # an email on this story is already held: join it
            return last, story
        if last is not None and now - last < window:
            return last + window, story
        return None, story

    def compose(self, sub: Subscriber, tagged: TaggedArticle, kind: str, watch: WatchSettings | None,
                relation: Relation | None, wording: FollowUpWording | None = None,
                queued: datetime | None = None) -> PendingAlert:
        article = tagged.article
        key = f"{sub.email}|{tagged.article_id}|{kind}" + (f":{watch.id}" if watch else "")
        facts = alert_facts(key, kind, sub.email, tagged, watch, relation, wording)
        message = self.composer.compose(facts)
        due, group = self.due(sub, watch.id if watch else "", queued)
        row = alert_row(key, sub.email, tagged.article_id, kind, facts.subject, message.as_string(), group,
                        json.dumps(asdict(facts), ensure_ascii=False), due,
                        published_at=parse_time(article.published), first_seen_at=parse_time(article.entry.seen_at))
        when = f" (due {due.isoformat(timespec='minutes')})" if due else ""
        line = f"queued {kind} alert for {sub.email}{when}: {facts.subject} [{facts.machine_summary}]"
        return PendingAlert(row, line, "; ".join(f"{t.topic}: {t.explanation}" for t in facts.topics))

    def follow_up_wording(self, watch: WatchSettings, first_seen: datetime | None, tagged: TaggedArticle,
                          relation: Relation) -> FollowUpWording:
        article = tagged.article
        return follow_up_wording(
            watch.name, article.title, article.text, source_of(tagged), tagged.article_id, relation.shared_names,
            relation.reason, self.store.story_texts(watch.id), watch.seed(),
            first_seen.date() if first_seen else None, name_key, names)

    def refreshed(self, facts: AlertFacts, watch: WatchSettings) -> AlertFacts:
        """A follow-up about to go out in a digest, naming the outlets that retold it meanwhile."""
        if facts.kind != "followup" or not facts.article_id:
            return facts
        members = self.store.story_texts(watch.id)
        text = next((str(m["text"]) for m in members if m["article_id"] == facts.article_id), facts.snippet)
        outlets = also_reported_by(facts.headline, text, facts.source, facts.article_id, members,
                                   watch.seed(), names)
        return replace(facts, also_reported_by=outlets or facts.also_reported_by)
