"""The alert stage's declaration: ``alert``, ``tagged`` -> the archive, stories and email (no topic out).

In: a :class:`~wirewatch.stage.StageContext`. Out: the :class:`~wirewatch.stage.ConsumingStage` the app's
registry lists, and its handler over :class:`wirewatch.alerts.alerter.Alerter` (imported when it runs).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from wirewatch.alerts.alert_store import AlertStore

from wirewatch.config import Settings
from wirewatch.database import UNAVAILABLE
from wirewatch.heartbeats import WorkerId
from wirewatch.kafka import TAGGED, Output
from wirewatch.progress import Progress
from wirewatch.schema import TaggedArticle
from wirewatch.stage import ConsumingStage, Handler, StageContext

if TYPE_CHECKING:
    from wirewatch.alerts.alerter import Alerter


NAME = "alert"  # the stage's name, here only: the worker ids of its outbox claims carry it


class AlertHandler(Handler[TaggedArticle]):
    """Archive and link the articles of a consumed batch, queue their alerts and send them (a batch that
    fails as a whole is handled again one by one by the runner); when nothing comes, send what is due."""

    batches = True

    def __init__(self, ctx: StageContext) -> None:
        self.alerter = build_alerter(ctx.settings, AlertStore(ctx.database()), ctx.progress, WorkerId.here(NAME))

    def handle(self, message: TaggedArticle) -> list[Output]:
        return self.alerter.handle(message)

    def handle_batch(self, messages: list[TaggedArticle]) -> list[list[Output]]:
        return self.alerter.handle_batch(messages)

    def flush(self) -> None:
        self.alerter.idle()

    def reload(self) -> None:
        self.alerter.request_refresh()

    def close(self) -> None:
        self.alerter.mailer.close()  # QUIT on the SMTP connection kept across a burst


def build_alerter(settings: Settings, store: AlertStore, progress: Progress | None = None,
                  worker: WorkerId | None = None) -> Alerter:
    """The alerter of these settings: its composer (with signed links) and its mailer (SMTP or the outbox)."""
    from wirewatch.alerts.alerter import Alerter
    from wirewatch.alerts.compose import Composer
    from wirewatch.alerts.mailer import RetryPolicy, make_mailer

    from wirewatch.links import LinkSigner

    smtp = settings.smtp
    mailer = make_mailer(smtp, settings.outbox_path)
    composer = Composer(smtp.sender, LinkSigner.from_settings(settings))
    return Alerter(settings.alert, store, composer, mailer, progress=progress, worker=worker,
                   retry=RetryPolicy(smtp.retry_first_seconds, smtp.retry_max_seconds),
                   claim_timeout=smtp.claim_timeout_seconds)


ALERT = ConsumingStage(
    name=NAME, help="Link tagged articles to watched stories and send email.", input=TAGGED,
    message_type=TaggedArticle, events=("alerts_", "articles_linked", "alert_"), product="alerts_sent",
    summary="{alerts_sent} sent, {alerts_failed} failed",
    build=AlertHandler, transient=UNAVAILABLE, keeps_state=True)
