"""What the app may use of the alert stage besides running it, reached through :mod:`wirewatch.app.registry`.

In: nothing at import (each name is imported when first used). Out: the stage's store (archive,
stories, audience, outbox), an alert's reference, the story relation (for the web's story pages and
``backtest --watch``), the alerter's builder and the outbox's delivery (for the demo).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from wirewatch.exports import lazy_exports

if TYPE_CHECKING:
    from wirewatch.alerts.alert_store import AlertStore
    from wirewatch.alerts.mailer import deliver_pending, make_mailer
    from wirewatch.alerts.outbox import alert_ref
    from wirewatch.alerts.replay import PastArticle, replay_story, term_stats
    from wirewatch.alerts.stage import build_alerter
    from wirewatch.alerts.stories import StoryProfile, TermStats, relate

__all__ = ["AlertStore", "PastArticle", "StoryProfile", "TermStats", "alert_ref", "build_alerter",
           "deliver_pending", "make_mailer", "relate", "replay_story", "term_stats"]

__getattr__ = lazy_exports(__name__, {
    "AlertStore": ("wirewatch.alerts.alert_store", "AlertStore"),
    "deliver_pending": ("wirewatch.alerts.mailer", "deliver_pending"),
    "make_mailer": ("wirewatch.alerts.mailer", "make_mailer"),
    "alert_ref": ("wirewatch.alerts.outbox", "alert_ref"),
    "PastArticle": ("wirewatch.alerts.replay", "PastArticle"),
    "replay_story": ("wirewatch.alerts.replay", "replay_story"),
    "term_stats": ("wirewatch.alerts.replay", "term_stats"),
    "build_alerter": ("wirewatch.alerts.stage", "build_alerter"),
    "StoryProfile": ("wirewatch.alerts.stories", "StoryProfile"),
    "TermStats": ("wirewatch.alerts.stories", "TermStats"),
    "relate": ("wirewatch.alerts.stories", "relate"),
})
