"""The email outbox: one row per alert (idempotency key), claimed by one worker, marked sent once.

In: alerts the alert stage composed; each send's outcome; analysts' verdicts on alerts. Out:
:class:`QueuedAlert` records due to be sent, claims (``claimed_by`` is the claiming worker's
:class:`~wirewatch.heartbeats.WorkerId`, so a claim is released when that worker is no longer heard
from — :func:`~wirewatch.heartbeats.heard_from`), counts and delays for ``wirewatch status``, and
the verdicts with what they were about (``feedback``). The alerts of a consumed batch are queued in
one statement (:meth:`Outbox.queue_alerts`, in the caller's transaction).

The sending protocol (:func:`alerts.mailer.deliver_pending`): an email's alerts are claimed (pending →
sending, by one worker only) before it goes to the server, and marked sent only after the server took it.
A worker that dies holding a claim has its claim released (at once when its process is known gone, else
after the claim timeout), and the email is sent again with the same Message-ID, counted as interrupted:
an alert is never lost, and a second copy can only come of an email whose sender died between its
claim and the record of its send. The record of one email's send and the claim of the next share a
transaction: they follow each other with nothing in between either way, so the window stays one email wide.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypedDict, cast

from sqlalchemy import ColumnElement, Connection, delete, func, insert, select, update

from wirewatch.database import OnDatabase, aware, utcnow
from wirewatch.heartbeats import WorkerId, heard_from
from wirewatch.tables import alerts, archive, feedback


@dataclass(frozen=True)
class QueuedAlert:
    idem_key: str
    subscriber: str
    article_id: str
    kind: str
    subject: str
    message: str
    attempts: int
    story: str = ""
    facts_json: str = "{}"
    interrupted: int = 0
    published_at: datetime | None = None
    first_seen_at: datetime | None = None
    next_attempt: datetime | None = None  # set when a send failed: the alerts of that send share it


class AlertRow(TypedDict):
    """A row of the outbox."""

    idem_key: str
    subscriber: str
    article_id: str
    kind: str
    subject: str
    message: str
    status: str  # pending, sending, sent or failed
    story: str
    ref: str
    facts_json: str
    attempts: int
    last_error: str
    created_at: datetime
    next_attempt: datetime | None
    sent_at: datetime | None
    claimed_by: str
    claimed_at: datetime | None
    interrupted: int
    published_at: datetime | None
    first_seen_at: datetime | None


class FeedbackExample(TypedDict):
    """An analyst's verdict with the alert's facts and the archived article it was about."""

    ref: str
    verdict: str  # "relevant" or "not_relevant"
    facts_json: str
    article_id: str
    title: str
    text: str


class OutboxSummary(TypedDict):
    """The oldest pending alert, the last sent, and publication- and first-sighting-to-send delays (s)."""

    oldest_pending: datetime | None
    last_sent: datetime | None
    from_publication: list[float]
    from_first_sighting: list[float]


def alert_row(idem_key: str, subscriber: str, article_id: str, kind: str, subject: str, message: str,
              story: str = "", facts_json: str = "{}", due: datetime | None = None,
              published_at: datetime | None = None, first_seen_at: datetime | None = None) -> dict[str, Any]:
    """The outbox row of a new alert: pending, due at ``due`` (None: now)."""
    return dict(idem_key=idem_key, subscriber=subscriber, article_id=article_id, kind=kind, subject=subject,
                message=message, status="pending", attempts=0, last_error="", created_at=utcnow(), story=story,
                facts_json=facts_json, next_attempt=due, ref=alert_ref(idem_key), claimed_by="", interrupted=0,
                published_at=published_at, first_seen_at=first_seen_at)


def alert_ref(idem_key: str) -> str:
    """The short reference of an alert, shown in its email (and in its Message-ID)."""
    return hashlib.sha256(idem_key.encode()).hexdigest()[:24]


class Outbox(OnDatabase):
    """Alerts waiting, being sent and sent; and the verdicts on them."""

    def queue_alert(self, idem_key: str, subscriber: str, article_id: str, kind: str, subject: str,
                    message: str, story: str = "", facts_json: str = "{}", due: datetime | None = None,
                    published_at: datetime | None = None, first_seen_at: datetime | None = None) -> bool:
        """Put an email in the outbox once per idempotency key; False when it is already there."""
        row = alert_row(idem_key, subscriber, article_id, kind, subject, message, story, facts_json, due,
                        published_at, first_seen_at)
        with self.engine.begin() as conn:
            return bool(self.queue_alerts(conn, [row]))

    def queue_alerts(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> set[str]:
        """Put emails (:func:`alert_row`) in the outbox once per idempotency key, within the caller's
        transaction; returns the keys it queued (a key already there stays as it is)."""
        if not rows:
            return set()
        done = conn.execute(self.db.insert_new(alerts).returning(alerts.c.idem_key),
                            sorted(rows, key=lambda r: str(r["idem_key"])))  # in key order: two workers never deadlock
        return {r[0] for r in done}

    def pending_alerts(self, limit: int = 500, now: datetime | None = None) -> list[QueuedAlert]:
        """Alerts waiting to be sent whose next attempt is due."""
        now = now or utcnow()
        due = alerts.c.next_attempt.is_(None) | (alerts.c.next_attempt <= now)
        query = (select(alerts).where((alerts.c.status == "pending") & due).order_by(alerts.c.created_at)
                 .limit(limit))
        with self.engine.connect() as conn:
            return [QueuedAlert(r["idem_key"], r["subscriber"], r["article_id"], r["kind"], r["subject"], r["message"],
                                r["attempts"], r["story"], r["facts_json"], r["interrupted"], aware(r["published_at"]),
                                aware(r["first_seen_at"]), aware(r["next_attempt"]))
                    for r in conn.execute(query).mappings()]

    def claim_alerts(self, idem_keys: Sequence[str], worker: WorkerId, sent: Sequence[str] = ()) -> list[str]:
        """Claim pending alerts for sending; returns the keys this worker got (another may have taken some).
        One statement for them all: each row is taken by one worker only (its status is checked and set
        in the same update). ``sent``: alerts of the email this worker sent just before, marked sent in the
        same transaction (first), so that sending a round of emails takes one commit per email, not two."""
        if not idem_keys:
            self.mark_sent(*sent)
            return []
        with self.engine.begin() as conn:
            _mark_sent(conn, sent)
            done = conn.execute(update(alerts).where(alerts.c.idem_key.in_(list(idem_keys))
                                                     & (alerts.c.status == "pending"))
                                .values(status="sending", claimed_by=str(worker), claimed_at=utcnow())
                                .returning(alerts.c.idem_key))
            got = {r[0] for r in done}
        return [k for k in idem_keys if k in got]

    def release_stale_claims(self, older_than: datetime) -> list[str]:
        """Claims of workers that died while sending: the alerts go back to pending (the server may or
        may not have taken them: they are sent again, with the same Message-ID). Returns their keys."""
        # a claim is stale when it is old and its worker is not heard from (a live worker, say one that
        # could not record its sends while the database was down, records them itself)
        stale = ((alerts.c.status == "sending") & (alerts.c.claimed_at < older_than)
                 & ~heard_from(alerts.c.claimed_by, older_than))
        with self.engine.begin() as conn:
            keys = [r[0] for r in conn.execute(select(alerts.c.idem_key).where(stale))]
            _requeue_interrupted(conn, stale, keys)
        return keys

    def claimants(self) -> list[WorkerId]:
        """The workers holding alerts claimed for sending right now."""
        with self.engine.connect() as conn:
            held = [r[0] for r in conn.execute(select(alerts.c.claimed_by).where(alerts.c.status == "sending")
                                               .distinct())]
        return [w for w in map(WorkerId.parse, held) if w is not None]

    def release_claims_of(self, dead: Sequence[WorkerId]) -> list[str]:
        """The claims of workers known to be dead go back to pending at once (sent again, same Message-ID)."""
        if not dead:
            return []
        mine = (alerts.c.status == "sending") & alerts.c.claimed_by.in_([str(w) for w in dead])
        with self.engine.begin() as conn:
            keys = [r[0] for r in conn.execute(select(alerts.c.idem_key).where(mine))]
            _requeue_interrupted(conn, mine, keys)
        return keys

    def mark_sent(self, *idem_keys: str) -> None:
        """The server took these alerts (one email, or several): marked sent in one transaction."""
        if not idem_keys:
            return
        with self.engine.begin() as conn:
            _mark_sent(conn, idem_keys)

    def mark_failed(self, idem_key: str, error: str, give_up: bool, retry_at: datetime | None = None,
                    in_doubt: bool = False) -> None:
        """A send that failed; ``in_doubt`` when the server may have taken it (counted in ``interrupted``)."""
        with self.engine.begin() as conn:
            conn.execute(update(alerts).where(alerts.c.idem_key == idem_key)
                         .values(status="failed" if give_up else "pending", last_error=error[:2000],
                                 attempts=alerts.c.attempts + 1, next_attempt=retry_at, claimed_by="",
                                 claimed_at=None, interrupted=alerts.c.interrupted + int(in_doubt)))

    def last_story_alert(self, subscriber: str, story: str) -> datetime | None:
        """When the subscriber was last sent, or is next due, an alert on this story."""
        with self.engine.connect() as conn:
            row = conn.execute(select(func.max(func.coalesce(alerts.c.sent_at, alerts.c.next_attempt)))
                               .where((alerts.c.subscriber == subscriber) & (alerts.c.story == story))).scalar()
        return aware(row)

    def alert_counts(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(alerts.c.status, func.count()).group_by(alerts.c.status))
            return {status: int(n) for status, n in rows}

    def sent_alerts(self) -> list[AlertRow]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(alerts).where(alerts.c.status == "sent").order_by(alerts.c.sent_at))
            return [cast(AlertRow, dict(r)) for r in rows.mappings()]

    def outbox_summary(self) -> OutboxSummary:
        """Oldest pending alert, last sent alert, and the publication-to-send delay of the last 200 sent."""
        with self.engine.connect() as conn:
            oldest = conn.execute(select(func.min(alerts.c.created_at)).where(alerts.c.status == "pending")).scalar()
            last = conn.execute(select(func.max(alerts.c.sent_at))).scalar()
            recent = conn.execute(select(alerts.c.published_at, alerts.c.first_seen_at, alerts.c.sent_at)
                                  .where(alerts.c.status == "sent").order_by(alerts.c.sent_at.desc()).limit(200))
            delays = [((aware(r[2]) - aware(r[0])).total_seconds(),  # type: ignore[operator]
                       (aware(r[2]) - aware(r[1])).total_seconds() if r[1] else None)  # type: ignore[operator]
                      for r in recent if r[0] is not None and r[2] is not None]
        return OutboxSummary(oldest_pending=aware(oldest), last_sent=aware(last),
                             from_publication=sorted(d[0] for d in delays),
                             from_first_sighting=sorted(d[1] for d in delays if d[1] is not None))

    # -- analysts' verdicts ----------------------------------------------------------------------
    def record_feedback(self, ref: str, verdict: str) -> AlertRow | None:
        """An analyst's verdict on an alert (by the reference in its email); the alert, or None if unknown."""
        with self.engine.begin() as conn:
            row = conn.execute(select(alerts).where(alerts.c.ref == ref)).mappings().first()
            if row is None:
                return None
            conn.execute(delete(feedback).where(feedback.c.ref == ref))
            conn.execute(insert(feedback).values(ref=ref, verdict=verdict, recorded_at=utcnow()))
        return cast(AlertRow, dict(row))

    def feedback_examples(self) -> list[FeedbackExample]:
        """Each verdict with the alert's facts and the archived article it was about."""
        query = (select(feedback.c.ref, feedback.c.verdict, alerts.c.facts_json, archive.c.article_id,
                        archive.c.title, archive.c.text)
                 .join(alerts, alerts.c.ref == feedback.c.ref)
                 .join(archive, archive.c.article_id == alerts.c.article_id))
        with self.engine.connect() as conn:
            return [cast(FeedbackExample, dict(r)) for r in conn.execute(query).mappings()]


def _mark_sent(conn: Connection, idem_keys: Sequence[str]) -> None:
    if idem_keys:
        conn.execute(update(alerts).where(alerts.c.idem_key.in_(list(idem_keys)))
                     .values(status="sent", sent_at=utcnow(), attempts=alerts.c.attempts + 1, claimed_by=""))


def _requeue_interrupted(conn: Connection, claimed: ColumnElement[bool], keys: list[str]) -> None:
    """Claimed alerts whose send was cut short go back to pending, counted as interrupted; the alerts of
    one interrupted send keep together (their claim time becomes their due time), so they make one email again."""
    if keys:
        conn.execute(update(alerts).where(claimed & alerts.c.idem_key.in_(keys))
                     .values(status="pending", claimed_by="", claimed_at=None, next_attempt=alerts.c.claimed_at,
                             interrupted=alerts.c.interrupted + 1))
