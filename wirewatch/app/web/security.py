"""Sessions, CSRF tokens, the login rate limit, roles on every route and the security headers.

In: requests (the session cookie, form fields). Out: the logged-in :class:`~.users.User` handed to
each endpoint, or a refusal: a redirect to ``/login``, 403 for a role that may not, 400 for a form
without its CSRF token. Every endpoint of the app is wrapped by :func:`page` (GET) or :func:`action`
(POST); :func:`guarded` tells a test that a route is.

Sessions are server-side: the cookie holds a random token, the ``web_sessions`` row its SHA-256 and
the session's CSRF token. Forms outside a session (the login form) use a double-submit cookie.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import wraps
from typing import Any

from sqlalchemy import Engine, delete, insert, select
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from wirewatch.app.web.users import User
from wirewatch.tables import users, web_sessions

SESSION_COOKIE = "ww_session"
LOGIN_CSRF_COOKIE = "ww_login_csrf"
MAX_FORM_FIELD = 2_000_000  # a rule text up to 1 MB and more reaches the editor's own check, with its message
HEADERS = {
    "content-security-policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
                               "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",  # signed links must not leak to the sites of the articles
    "cross-origin-opener-policy": "same-origin",
}


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Session:
    user: User
    csrf: str


class Sessions:
    """Server-side sessions in the ``web_sessions`` table."""

    def __init__(self, engine: Engine, hours: float) -> None:
        self.engine = engine
        self.lifetime = timedelta(hours=hours)

    def start(self, user: User) -> str:
        token = secrets.token_urlsafe(32)
        now = datetime.now(UTC)
        with self.engine.begin() as conn:
            conn.execute(delete(web_sessions).where(web_sessions.c.expires_at < now))
            conn.execute(insert(web_sessions).values(token_hash=_hash(token), email=user.email,
                                                     csrf=secrets.token_urlsafe(24), created_at=now,
                                                     expires_at=now + self.lifetime))
        return token

    def get(self, token: str | None) -> Session | None:
        if not token or len(token) > 100:
            return None
        query = (select(users.c.email, users.c.role, web_sessions.c.csrf, web_sessions.c.expires_at)
                 .join(users, users.c.email == web_sessions.c.email)
                 .where(web_sessions.c.token_hash == _hash(token)))
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        if row is None:
            return None
        expires = row[3] if row[3].tzinfo else row[3].replace(tzinfo=UTC)
        if expires < datetime.now(UTC):
            return None
        return Session(User(row[0], row[1]), row[2])

    def end(self, token: str | None) -> None:
        if token:
            with self.engine.begin() as conn:
                conn.execute(delete(web_sessions).where(web_sessions.c.token_hash == _hash(token)))


class RateLimit:
    """At most ``limit`` attempts per key in a sliding minute (per process)."""

    def __init__(self, limit: int, window: float = 60.0) -> None:
        self.limit, self.window = limit, window
        self._seen: dict[str, deque[float]] = defaultdict(deque)

    def allow(self, *keys: str) -> bool:
        now = time.monotonic()
        for key in keys:
            seen = self._seen[key]
            while seen and seen[0] < now - self.window:
                seen.popleft()
        if any(len(self._seen[k]) >= self.limit for k in keys):
            return False
        for key in keys:
            self._seen[key].append(now)
        return True

    def wait_seconds(self, *keys: str) -> int:
        oldest = [self._seen[k][0] for k in keys if self._seen[k]]
        return max(1, int(self.window - (time.monotonic() - min(oldest)))) if oldest else 1


class SecurityHeaders:
    """ASGI middleware adding :data:`HEADERS` to every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                have = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = [*message.get("headers", []),
                                      *((k.encode(), v.encode()) for k, v in HEADERS.items() if k.encode() not in have)]
            await send(message)

        await self.app(scope, receive, with_headers)


class Refused(Exception):
    """A request the app refuses: rendered as a page with this status and message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def current_session(request: Request) -> Session | None:
    sessions: Sessions = request.app.state.sessions
    return sessions.get(request.cookies.get(SESSION_COOKIE))


def same_token(given: str | None, expected: str) -> bool:
    return bool(given) and hmac.compare_digest(str(given).encode(), expected.encode())


Endpoint = Callable[..., Awaitable[Response]]


def _login_redirect(request: Request) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    from urllib.parse import quote

    return RedirectResponse(f"/login?next={quote(target, safe='/')}", status_code=303)


def page(role: str) -> Callable[[Endpoint], Endpoint]:
    """A GET endpoint for users with ``role`` or higher: called as ``fn(request, session)``."""
    def wrap(fn: Endpoint) -> Endpoint:
        @wraps(fn)
        async def endpoint(request: Request) -> Response:
            session = current_session(request)
            if session is None:
                return _login_redirect(request)
            if not session.user.may(role):
                raise Refused(403, f"This page is for {role}s; you are logged in as {session.user.role}.")
            return await fn(request, session)
        endpoint.guard = ("page", role)  # type: ignore[attr-defined]
        return endpoint
    return wrap


def action(role: str) -> Callable[[Endpoint], Endpoint]:
    """A POST endpoint for users with ``role`` or higher whose form carries the session's CSRF token:
    called as ``fn(request, session, form)``."""
    def wrap(fn: Endpoint) -> Endpoint:
        @wraps(fn)
        async def endpoint(request: Request) -> Response:
            session = current_session(request)
            if session is None:
                raise Refused(401, "You are not logged in (or your session has ended); log in and try again.")
            form = await read_form(request)
            if not same_token(form.get("csrf"), session.csrf):  # type: ignore[arg-type]
                raise Refused(400, "This form has no valid security token (it may be an old page); reload the page "
                                   "and send it again. Nothing was changed.")
            if not session.user.may(role):
                raise Refused(403, f"Only {role}s may do this; you are logged in as {session.user.role}. "
                                   "Nothing was changed.")
            return await fn(request, session, form)
        endpoint.guard = ("action", role)  # type: ignore[attr-defined]
        return endpoint
    return wrap


def public(kind: str) -> Callable[[Endpoint], Endpoint]:
    """An endpoint open to anyone (login, signed email links, static files): marked, so tests see it chosen."""
    def wrap(fn: Endpoint) -> Endpoint:
        fn.guard = ("public", kind)  # type: ignore[attr-defined]
        return fn
    return wrap


def guarded(endpoint: Any) -> tuple[str, str] | None:
    return getattr(endpoint, "guard", None)


async def read_form(request: Request) -> FormData:
    try:
        return await request.form(max_files=1, max_fields=200, max_part_size=MAX_FORM_FIELD)
    except Exception as exc:  # a malformed or oversized body
        raise Refused(400, f"The form could not be read: {exc}") from None
