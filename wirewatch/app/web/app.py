"""The app object: every area's routes on one Starlette app, with the security headers and error pages.

In: the settings (and optionally a :class:`~wirewatch.app.state.AppState` to share). Out: an ASGI app
for uvicorn (:mod:`.server`) or Starlette's test client. Areas declare their routes once in
``ROUTES``; :data:`AREAS` is the registry this module iterates.
"""

from __future__ import annotations

from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from wirewatch.app.state import AppState
from wirewatch.app.web import auth, email_links, feedback, ops, rules_editor, stories, subscriptions
from wirewatch.app.web.context import MessageView, WebContext, render
from wirewatch.app.web.security import Refused, SecurityHeaders, current_session, public
from wirewatch.config import Settings

AREAS = (auth, stories, subscriptions, feedback, email_links, rules_editor, ops)
MAX_BODY = 4_000_000


async def _refused(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Refused)
    heading = {400: "Not accepted", 401: "Please log in", 403: "Not allowed", 404: "Not found"}.get(exc.status,
                                                                                                    "Not done")
    link, text = ("/login", "Log in") if exc.status == 401 else ("/stories", "Back to the stories")
    return render(request, "message.html", MessageView(heading, exc.message, True, link, text),
                  current_session(request), status=exc.status, title=heading)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    message = {404: "There is no page at this address.", 405: "This address does not take that kind of request.",
               413: "What was sent is too large."}.get(exc.status_code, str(exc.detail))
    return await _refused(request, Refused(exc.status_code, message))


@public("health")
async def healthz(request: Request) -> Response:
    return PlainTextResponse("ok")


def build_app(settings: Settings, store: AppState | None = None) -> Starlette:
    routes = [route for area in AREAS for route in area.ROUTES]
    routes += [Route("/healthz", healthz, methods=["GET"]),
               Mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")]
    app = Starlette(routes=routes, middleware=[Middleware(SecurityHeaders)],
                    exception_handlers={Refused: _refused, HTTPException: _http_error}, max_body_size=MAX_BODY)
    ctx = WebContext.build(settings, store)
    app.state.web = ctx
    app.state.sessions = ctx.sessions
    return app
