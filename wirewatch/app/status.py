"""``wirewatch status``: one screen on the running pipeline, read from the database all workers share.

In: the :class:`~wirewatch.app.state.AppState` of the shared database. Out: :func:`collect` gives a
JSON-able summary — each live worker (its heartbeat, counters, lag), feeds by health, entries by
state, the archive, the outbox and the recent publication-to-alert delays — and :func:`render` the
text for a terminal. The ``workers`` rows are read here (:func:`heard_since`), for status alone.

Workers write a heartbeat every ``heartbeat_seconds`` (10 s, :mod:`wirewatch.heartbeats`); one not
heard from for :data:`STALE_AFTER` is shown as gone, one not heard from for :data:`FORGET_AFTER` is
not shown (the workers delete its row after a week), and a stage without a live worker is flagged.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from wirewatch.app.state import AppState
from wirewatch.database import Database
from wirewatch.heartbeats import Heartbeat
from wirewatch.tables import workers

STALE_AFTER = timedelta(seconds=45)
FORGET_AFTER = timedelta(days=1)
STAGES = ("poll", "extract", "classify", "alert")


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    return values[min(len(values) - 1, int(q * len(values)))]


def heard_since(db: Database, since: datetime) -> list[Heartbeat]:
    """The heartbeats of the workers heard from since ``since``, by stage."""
    with db.engine.connect() as conn:
        rows = conn.execute(select(workers).where(workers.c.heartbeat_at >= since)
                            .order_by(workers.c.stage, workers.c.id))
        return [Heartbeat.from_row(r) for r in rows.mappings()]


def _worker(beat: Heartbeat, now: datetime) -> dict[str, Any]:
    heard = beat.heartbeat_at or now
    alive = heard >= now - STALE_AFTER and beat.state in ("running", "stopping")
    c = beat.counters
    return {"id": str(beat.worker), "stage": beat.worker.stage, "host": beat.worker.host, "pid": beat.worker.pid,
            "state": beat.state if alive or beat.state in ("stopped", "failed") else "gone",
            "alive": alive, "up_seconds": int((now - beat.started_at).total_seconds()),
            "heard_seconds_ago": int((now - heard).total_seconds()),
            "consumed": c.consumed, "produced": c.produced, "deadlettered": c.deadlettered,
            "busy_seconds": c.busy_seconds, "lag_records": beat.lag_records, "lag_seconds": beat.lag_seconds,
            "events": dict(c.events)}


def collect(state: AppState, now: datetime | None = None) -> dict[str, Any]:
    now = now or datetime.now(UTC)
    recent = [_worker(beat, now) for beat in heard_since(state.db, now - FORGET_AFTER)]
    feeds = state.ingest.list_feeds()
    next_polls = [f.next_poll for f in feeds if f.enabled and f.next_poll]
    outbox = state.alerts.outbox_summary()
    return {
        "time": now.isoformat(timespec="seconds"),
        "database": state.safe_url,
        "workers": recent,
        "stages_without_worker": [s for s in STAGES if not any(w["alive"] and w["stage"] == s
                                                              for w in recent)],
        "feeds": {"total": len(feeds), "health": dict(Counter(f.health for f in feeds)),
                  "next_poll": min(next_polls).isoformat(timespec="seconds") if next_polls else None},
        "entries": state.entries.counts(),
        "archived": state.alerts.archive_count(),
        "outbox": {"counts": state.alerts.alert_counts(),
                   "oldest_pending": outbox["oldest_pending"].isoformat(timespec="seconds")
                   if outbox["oldest_pending"] else None,
                   "last_sent": outbox["last_sent"].isoformat(timespec="seconds") if outbox["last_sent"] else None},
        "alert_delay_seconds": {
            since: {"p50": _percentile(values, 0.5), "p95": _percentile(values, 0.95), "n": len(values)}
            for since, values in (("from_publication", outbox["from_publication"]),
                                  ("from_first_sighting", outbox["from_first_sighting"]))},
    }


SHORT_UNITS = ("d", "h", "m", "s", "-")  # for a terminal's columns
WORD_UNITS = (" days", " h", " min", " s", "–")  # for a page


def span(seconds: float | None, units: tuple[str, str, str, str, str] = SHORT_UNITS) -> str:
    """A duration for people: 1.5d, 3.0h, 12m, 40s (or in ``units``: days, hours, minutes, seconds, unknown)."""
    if seconds is None:
        return units[4]
    s = abs(seconds)
    return f"{s / 86400:.1f}{units[0]}" if s >= 86400 else f"{s / 3600:.1f}{units[1]}" if s >= 3600 else \
        f"{s / 60:.0f}{units[2]}" if s >= 60 else f"{s:.0f}{units[3]}"


def _since(iso: str | None, now: datetime) -> str:
    return "never" if iso is None else f"{span((now - datetime.fromisoformat(iso)).total_seconds())} ago"


def render(status: dict[str, Any]) -> str:
    now = datetime.fromisoformat(status["time"])
    lines = [f"wirewatch status at {status['time']} ({status['database']})", "workers:"]
    for w in status["workers"]:
        if not w["alive"] and w["state"] == "stopped":
            continue
        lag = w.get("lag_records")
        lag_text = f"lag {lag if lag is not None else '?'} rec / {span(w.get('lag_seconds'))}" \
            if w["stage"] != "poll" else ""
        events = w.get("events") or {}
        extra = (f"feeds {events.get('feeds_polled', 0)} polled, {events.get('feeds_failed', 0)} failed"
                 if w["stage"] == "poll" else
                 f"{events.get('alerts_sent', 0)} sent, {events.get('alerts_failed', 0)} failed"
                 if w["stage"] == "alert" else "")
        lines.append(f"  {w['stage']:<8} {w['host']}:{w['pid']:<7} {w['state']:<8} up {span(w['up_seconds']):>5}  "
                     f"in {w.get('consumed', 0)} out {w.get('produced', 0)} dead {w.get('deadlettered', 0)}  "
                     f"{lag_text}  {extra}".rstrip())
    for stage in status["stages_without_worker"]:
        lines.append(f"  {stage:<8} NO LIVE WORKER")
    f = status["feeds"]
    health = ", ".join(f"{n} {h}" for h, n in sorted(f["health"].items())) or "none"
    nxt = f" ; next poll in {span((datetime.fromisoformat(f['next_poll']) - now).total_seconds())}" \
        if f["next_poll"] else ""
    lines.append(f"feeds:    {f['total']} ({health}){nxt}")
    e = status["entries"]
    lines.append(f"entries:  {sum(e.values())} accepted: {e.get('archived', 0)} archived, "
                 f"{e.get('accepted', 0)} on their way, {e.get('abandoned', 0)} given up")
    lines.append(f"archive:  {status['archived']} articles")
    o = status["outbox"]
    counts = ", ".join(f"{n} {s}" for s, n in sorted(o["counts"].items())) or "empty"
    lines.append(f"outbox:   {counts}; oldest pending {_since(o['oldest_pending'], now)}; "
                 f"last sent {_since(o['last_sent'], now)}")
    d = status["alert_delay_seconds"]
    lines.append(f"delay to alert (last {d['from_publication']['n']} sent): from publication "
                 f"p50 {span(d['from_publication']['p50'])} p95 {span(d['from_publication']['p95'])}; "
                 f"from first sighting p50 {span(d['from_first_sighting']['p50'])} "
                 f"p95 {span(d['from_first_sighting']['p95'])}")
    return "\n".join(lines)
