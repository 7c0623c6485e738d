"""Analysts' verdicts ("relevant" / "not relevant") on any item they see, kept as training data.

In: a user, and an alert reference or an archived article id, and a verdict. Out: a row of the
``feedback`` table (what ``wirewatch feedback`` writes and ``wirewatch export-feedback`` turns into
training examples), or :class:`~.security.Refused` for a reference that is not the user's.

A verdict on an article the user was never alerted about (seen on a story page) is recorded on a
``feedback``-status row of ``alerts`` carrying the article's fired topics: never sent, but joined
by the export like any alert.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from wirewatch.app import registry
from wirewatch.app.web.context import WebContext, web
from wirewatch.app.web.security import Refused, Session, action
from wirewatch.app.web.users import User
from wirewatch.tables import alerts

VERDICTS = {"relevant": "relevant", "not-relevant": "not_relevant", "not_relevant": "not_relevant"}


def record(ctx: WebContext, user: User, verdict: str, ref: str = "", article_id: str = "") -> str:
    """Record the verdict; returns the alert's subject or the article's title."""
    if verdict not in VERDICTS:
        raise Refused(400, "A verdict is 'relevant' or 'not relevant'. Nothing was recorded.")
    if ref:
        alert = ctx.reads.alert(ref)
        if alert is None or alert["subscriber"] != user.email:
            raise Refused(404, "There is no alert of yours with that reference. Nothing was recorded.")
    else:
        article = ctx.reads.article(article_id) if article_id else None
        if article is None:
            raise Refused(404, "There is no such article in the archive. Nothing was recorded.")
        ref = ctx.reads.refs_for(user.email, [article_id]).get(article_id, ("", ""))[0] or \
            _feedback_row(ctx, user.email, article)
    done = ctx.store.alerts.record_feedback(ref, VERDICTS[verdict])
    assert done is not None
    return str(done["subject"])


def _feedback_row(ctx: WebContext, email: str, article: dict[str, object]) -> str:
    key = f"web-feedback:{email}:{article['article_id']}"
    tagged = json.loads(str(article["tagged_json"]) or "{}")
    topics = [{"topic": t["topic"], "score": t.get("score", 0.0), "explanation": ""}
              for t in tagged.get("topics", []) if t.get("fired")]
    try:
        with ctx.store.engine.begin() as conn:
            conn.execute(insert(alerts).values(
                idem_key=key, subscriber=email, article_id=article["article_id"], kind="feedback",
                subject=str(article["title"])[:500], message="", status="feedback", attempts=0, last_error="",
                created_at=datetime.now(UTC), story="", facts_json=json.dumps({"topics": topics}),
                ref=registry.alerts.alert_ref(key), claimed_by="", interrupted=0))
    except IntegrityError:
        pass  # recorded before
    return registry.alerts.alert_ref(key)


def _back(target: str) -> str:
    return target if target.startswith("/") and not target.startswith("//") and "\\" not in target else "/alerts"


@action("analyst")
async def give_feedback(request: Request, session: Session, form: object) -> Response:
    data = dict(form)  # type: ignore[call-overload]
    record(web(request), session.user, str(data.get("verdict", "")), ref=str(data.get("ref", "")),
           article_id=str(data.get("article_id", "")))
    back = _back(str(data.get("back", "/alerts")))
    sep = "&" if "?" in back else "?"
    anchor = f"#a-{data.get('article_id')}" if data.get("article_id") else ""
    return RedirectResponse(f"{back}{sep}noted=1{anchor}", status_code=303)


ROUTES = [Route("/feedback", give_feedback, methods=["POST"])]
