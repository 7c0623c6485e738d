"""Analysts' own settings and mail: their subscriptions (topics with minimum scores, watched stories,
immediate / hourly / daily) and the alerts they were sent.

In: GET/POST ``/subscriptions``, POST ``/subscriptions/unwatch``, GET ``/alerts``. Out: pages; the
``subscribers`` / ``subscriptions`` rows of the logged-in user only (a form naming another user's
subscription changes nothing of theirs).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from wirewatch.app.web.context import WebContext, human_time, render, topic_name, web
from wirewatch.app.web.security import Refused, Session, action, page
from wirewatch.safe_display import web_link

MODES = {"immediate": "Immediately, one email per development", "hourly": "An hourly digest",
         "daily": "A daily digest"}


@dataclass(frozen=True)
class TopicChoice:
    topic: str
    name: str
    on: bool
    min_score: float


@dataclass(frozen=True)
class WatchChoice:
    id: str
    name: str


@dataclass(frozen=True)
class SubscriptionsView:
    mode: str
    modes: dict[str, str]
    topics: list[TopicChoice]
    watches: list[WatchChoice]
    saved: bool
    watching: str
    from_config: bool = False
    thin_words: int | None = None  # the new watch's seed text has only this many words


@dataclass(frozen=True)
class AlertItem:
    ref: str
    subject: str
    why: str
    when: str
    status: str
    story_id: int | None
    url: str
    source: str
    verdict: str
    article_id: str


@dataclass(frozen=True)
class AlertsView:
    alerts: list[AlertItem]
    noted: bool


def _current(ctx: WebContext, email: str) -> tuple[str | None, dict[str, float], list[str]]:
    mode, rows = ctx.reads.subscriptions_of(email)
    topics = {r["target"]: float(r["min_score"]) for r in rows if r["kind"] == "topic"}
    watch_ids = [r["target"] for r in rows if r["kind"] == "watch"]
    return mode, topics, watch_ids


@page("analyst")
async def subscriptions_page(request: Request, session: Session) -> Response:
    ctx = web(request)
    mode, rows = ctx.reads.subscriptions_of(session.user.email)
    topics = {r["target"]: float(r["min_score"]) for r in rows if r["kind"] == "topic"}
    choices = [TopicChoice(t, topic_name(t), t in topics, topics.get(t, 0.6)) for t in ctx.stages.topics()]
    watches = [WatchChoice(r["target"], r["name"] or r["target"]) for r in rows if r["kind"] == "watch"]
    view = SubscriptionsView(mode or "immediate", MODES, choices, watches, bool(request.query_params.get("saved")),
                             request.query_params.get("watching", "")[:200],
                             ctx.reads.subscriber_origin(session.user.email) == "config",
                             int(thin) if (thin := request.query_params.get("thin", "")).isdigit() else None)
    return render(request, "subscriptions/subscriptions.html", view, session, title="My subscriptions")


@action("analyst")
async def save_subscriptions(request: Request, session: Session, form: object) -> Response:
    ctx = web(request)
    data = dict(form)  # type: ignore[call-overload]
    mode = str(data.get("mode", "immediate"))
    if mode not in MODES:
        raise Refused(400, "Choose immediate, hourly or daily. Nothing was changed.")
    known = ctx.stages.topics()
    chosen: dict[str, float] = {}
    for topic in form.getlist("topic"):  # type: ignore[attr-defined]
        if topic not in known:
            raise Refused(400, f"There is no topic {str(topic)[:80]!r}. Nothing was changed.")
        try:
            score = float(str(data.get(f"min_{topic}", "0.6")))
        except ValueError:
            raise Refused(400, f"The minimum score of {topic_name(topic)} must be a number from 0 to 1. "
                               "Nothing was changed.") from None
        if not 0 <= score <= 1:
            raise Refused(400, f"The minimum score of {topic_name(topic)} must be from 0 to 1. Nothing was changed.")
        chosen[topic] = score
    _, _, watch_ids = _current(ctx, session.user.email)
    ctx.store.alerts.add_subscriber(session.user.email, mode=mode, origin="web")
    ctx.store.alerts.replace_subscriptions(session.user.email, chosen, watch_ids)
    return RedirectResponse("/subscriptions?saved=1", status_code=303)


@action("analyst")
async def unwatch(request: Request, session: Session, form: object) -> Response:
    ctx = web(request)
    target = str(dict(form).get("watch", ""))  # type: ignore[call-overload]
    _mode, topics, watch_ids = _current(ctx, session.user.email)
    if target not in watch_ids:
        raise Refused(404, "You do not watch that story. Nothing was changed.")
    ctx.store.alerts.replace_subscriptions(session.user.email, topics, [w for w in watch_ids if w != target])
    return RedirectResponse("/subscriptions?saved=1", status_code=303)


def _why(kind: str, facts_json: str) -> str:
    """One plain sentence on why it was sent: the story it develops, or its topics by name."""
    try:
        facts = json.loads(facts_json or "{}")
    except ValueError:
        facts = {}
    if kind == "followup" and facts.get("story_name"):
        return f"A development of “{facts['story_name']}”, a story you watch."
    topics = [topic_name(t["topic"]) for t in facts.get("topics", []) if isinstance(t, dict) and "topic" in t]
    return f"On {' and '.join(topics)}, a topic you follow." if topics else "Sent to you by wirewatch."


@page("analyst")
async def alerts_page(request: Request, session: Session) -> Response:
    ctx = web(request)
    items = [AlertItem(r["ref"], r["title"] or r["subject"], _why(r["kind"], r["facts_json"]),
                       human_time(r["sent_at"] or r["created_at"]),
                       {"sent": "sent", "pending": "waiting to be sent", "sending": "being sent",
                        "failed": "could not be sent"}.get(r["status"], r["status"]),
                       r["story_id"], web_link(r["url"] or ""), r["source"] or "", r["verdict"] or "", r["article_id"])
             for r in ctx.reads.alerts_of(session.user.email)]
    view = AlertsView(items, bool(request.query_params.get("noted")))
    return render(request, "subscriptions/alerts.html", view, session, title="My alerts")


ROUTES = [
    Route("/subscriptions", subscriptions_page, methods=["GET"]),
    Route("/subscriptions", save_subscriptions, methods=["POST"]),
    Route("/subscriptions/unwatch", unwatch, methods=["POST"]),
    Route("/alerts", alerts_page, methods=["GET"]),
]
