"""The ingest stage's declaration: ``poll``, a source (it reads the ``feeds`` table, no topic) -> ``entries``.

In: a :class:`~wirewatch.stage.StageContext`. Out: the :class:`~wirewatch.stage.SourceStage` the app's
registry lists; its source is :class:`wirewatch.ingest.poller.PollSource`, imported when it runs.
After a memory-only broker started empty it publishes again every accepted entry not yet archived.
"""

from __future__ import annotations

from sqlalchemy.exc import SQLAlchemyError

from wirewatch.database import UNAVAILABLE
from wirewatch.kafka import ENTRIES, Delivery
from wirewatch.schema import Entry
from wirewatch.stage import Source, SourceStage, StageContext


def build_source(ctx: StageContext) -> Source:
    from wirewatch.ingest.ingest_store import IngestStore
    from wirewatch.ingest.poller import PollSource

    settings = ctx.settings
    return PollSource(settings.poll, settings.http, settings.kafka, IngestStore(ctx.database()), ctx.progress)


def republish_accepted(ctx: StageContext, delivery: Delivery) -> int:
    from wirewatch.ingest.ingest_store import IngestStore
    from wirewatch.ingest.redrive import republish_accepted as republish

    return republish(IngestStore(ctx.database()), delivery, ctx.progress)


POLL = SourceStage(
    name="poll", help="Poll the configured feeds and publish new entries on `entries`.",
    source="feeds", outputs=(ENTRIES,), output_types=(Entry,), events=("feeds_", "entries_", "poll_"),
    summary="feeds {feeds_polled} polled, {feeds_failed} failed",
    build=build_source, transient=UNAVAILABLE, keeps_state=True, retried=(SQLAlchemyError,),
    after_broker_loss=republish_accepted)
