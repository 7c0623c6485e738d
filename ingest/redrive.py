"""Re-publishing accepted entries that never reached the archive (a broker lost them, or a stage did).

In: rows of ``entries`` still ``accepted`` whose time is up (``[kafka] redrive_after_seconds`` after
they were accepted, then twice as long after each try). Out: the same entries on ``entries`` again;
the stages downstream are idempotent, so a copy that was only slow costs work, never a second alert.

An entry is postponed while a consuming stage reports records waiting (its heartbeat's lag): what is
late may still be in the topics, and copies would only lengthen the queue; once it is late by a
whole period more it is published anyway (a stage may be stuck, or its lag wrong). The memory-only bundled
broker loses every topic when it restarts, and a real cluster can lose an
unreplicated partition; this is what makes the pipeline whole again without an operator. An entry
published ``[kafka] max_redrives`` times without reaching the archive is given up and logged with
its id (``wirewatch status`` counts them): something downstream refuses it, and the dead letters say why.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from kafka import KafkaProducer
from wirewatch.ingest.ingest_store import IngestStore

from wirewatch.config import KafkaSettings
from wirewatch.heartbeats import Heartbeats
from wirewatch.kafka import ENTRIES, KafkaWiring, Output, Progress, delivered
from wirewatch.schema import BadMessage, Entry, decode

log = logging.getLogger(__name__)


def redrive_due(store: IngestStore, wiring: KafkaWiring, producer: KafkaProducer, settings: KafkaSettings,
                progress: Progress, now: datetime | None = None, limit: int = 1000) -> int:
    """Publish again the accepted entries whose time is up; returns how many were published."""
    now = now or datetime.now(UTC)
    due = store.entries_to_redrive(now, limit)
    if not due:
        return 0
    behind = backlog(store.heartbeats, datetime.now(UTC))  # heartbeats are live, whatever the round calls now
    if behind:
        # what is late may still be in the topics: no copies into a queue being worked off — unless it is
        # late by a whole period more (a stage stuck, or a lag that is not what it says)
        overdue = store.entries_to_redrive(now - timedelta(seconds=settings.redrive_after_seconds), limit)
        if len(overdue) < len(due):
            log.info("%d entries due to be published again, %d postponed: %s", len(due), len(due) - len(overdue),
                     behind)
        due = overdue
        if not due:
            return 0
    give_up = [article_id for article_id, _raw, tries in due if tries >= settings.max_redrives]
    if give_up:
        store.abandon_entries(give_up)
        progress.event("entries_abandoned", len(give_up))
        for article_id in give_up:
            log.error("entry %s never reached the archive after %d publications; given up (see the dead letters)",
                      article_id, settings.max_redrives + 1, extra={"article_id": article_id})
    outputs: list[Output] = []
    by_tries: dict[int, list[str]] = {}
    for article_id, raw, tries in due:
        if tries >= settings.max_redrives:
            continue
        try:
            outputs.append(Output(ENTRIES, article_id, decode(raw, Entry)))
        except BadMessage as exc:  # written by an older version, say: nothing to publish
            log.error("entry %s cannot be published again: %s", article_id, exc, extra={"article_id": article_id})
            store.abandon_entries([article_id])
            continue
        by_tries.setdefault(tries, []).append(article_id)
    if not outputs:
        return 0
    delivered(producer, wiring.publish(producer, outputs))
    for tries, ids in by_tries.items():
        store.mark_redriven(ids, now + timedelta(seconds=settings.redrive_after_seconds * 2 ** (tries + 1)))
    progress.event("entries_redriven", len(outputs))
    progress.add("produced", ENTRIES, len(outputs))
    log.warning("published %d accepted entries again: they had not reached the archive in time", len(outputs))
    return len(outputs)


def backlog(heartbeats: Heartbeats, now: datetime) -> str:
    """The consuming stages that report records waiting (from their heartbeats), or ''."""
    lagging = heartbeats.lagging(("extract", "classify", "alert"), now - timedelta(seconds=60))
    return ", ".join(f"{lag.worker.stage} {lag.records} records behind" for lag in lagging)
