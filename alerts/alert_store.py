"""Everything the alert stage keeps in the database, behind one object.

In: the shared :class:`~wirewatch.database.Database`. Out: :class:`AlertStore` — the archive
(:mod:`~wirewatch.alerts.archive_store`), stories and their members (:mod:`~wirewatch.alerts.story_store`),
subscribers, subscriptions and watches (:mod:`~wirewatch.alerts.audience_store`) and the email outbox
with analysts' verdicts (:mod:`~wirewatch.alerts.outbox`), and the other alert workers' heartbeats
as far as this stage reads them (who else is running).
"""

from __future__ import annotations

from wirewatch.alerts.archive_store import ArchiveStore
from wirewatch.alerts.audience_store import AudienceStore
from wirewatch.alerts.outbox import Outbox
from wirewatch.alerts.story_store import StoryStore

from wirewatch.database import Database
from wirewatch.heartbeats import Heartbeats


class AlertStore(ArchiveStore, StoryStore, AudienceStore, Outbox):
    """The alert stage's archive, stories, audience and outbox, on one database."""

    def __init__(self, db: Database) -> None:
        super().__init__(db)
        self.heartbeats = Heartbeats(db)
