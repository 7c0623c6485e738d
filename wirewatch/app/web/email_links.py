"""The signed links of emails: feedback, unsubscribe and "open the story", without logging in.

In: GET ``/l/{token}`` (a page with one button; mail scanners that open links change nothing) and
POST ``/l/{token}`` (the click on it, or a mail client's RFC 8058 one-click unsubscribe). Out: the
verdict recorded, or the subscriber's subscriptions ended, or a redirect to the story page; a forged
or expired link gets a page saying so, and nothing changes.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from wirewatch.app.web.context import MessageView, render, web
from wirewatch.app.web.feedback import record
from wirewatch.app.web.security import Refused, current_session, public
from wirewatch.app.web.users import User
from wirewatch.links import Link, LinkError

WHAT = {"relevant": "Mark this alert as relevant", "not-relevant": "Mark this alert as not relevant",
        "unsubscribe": "Stop all wirewatch emails to this address"}


@dataclass(frozen=True)
class LinkView:
    token: str
    action: str
    button: str
    email: str
    subject: str


def _read(request: Request) -> Link:
    try:
        return web(request).links.read(str(request.path_params["token"])[:4000])
    except LinkError as exc:
        raise Refused(400, f"{str(exc)[0].upper()}{str(exc)[1:]}. Nothing was changed.") from None


def _subject(request: Request, link: Link) -> str:
    alert = web(request).reads.alert(link.ref)
    if alert is None or alert["subscriber"] != link.email:
        return ""
    return str(alert["subject"])


@public("signed email link")
async def open_link(request: Request) -> Response:
    link = _read(request)
    if link.action == "story":
        alert = web(request).reads.alert(link.ref)
        story_id = web(request).reads.story_of_article(alert["article_id"]) if alert else None
        if story_id is None:
            raise Refused(404, "The story of this email is no longer in the archive.")
        return RedirectResponse(f"/stories/{story_id}", status_code=303)
    view = LinkView(str(request.path_params["token"]), link.action, WHAT[link.action], link.email,
                    _subject(request, link))
    return render(request, "link.html", view, current_session(request), title=WHAT[link.action])


@public("signed email link")
async def use_link(request: Request) -> Response:
    ctx = web(request)
    link = _read(request)
    session = current_session(request)
    if link.action == "unsubscribe":
        ctx.store.alerts.replace_subscriptions(link.email, {}, [])
        message = f"{link.email} will get no more alerts. Subscriptions can be set again under “My subscriptions”."
    elif link.action in ("relevant", "not-relevant"):
        if not _subject(request, link):
            raise Refused(404, "This email held several alerts or one no longer kept; give your verdict on each "
                               "under “My alerts”. Nothing was recorded.")
        subject = record(ctx, User(link.email, "analyst"), link.action, ref=link.ref)
        verdict = "relevant" if link.action == "relevant" else "not relevant"
        message = f"Recorded: “{subject}” is {verdict}. Thank you — your answer trains the classifier."
    else:
        raise Refused(400, "This link does nothing when sent. Nothing was changed.")
    return render(request, "message.html", MessageView("Done", message, False, "/alerts", "My alerts"), session,
                  title="Done")


ROUTES = [
    Route("/l/{token}", open_link, methods=["GET"]),
    Route("/l/{token}", use_link, methods=["POST"]),
]
