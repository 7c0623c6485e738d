"""Logging in and out: ``/login`` (email and password, rate-limited), ``/logout``.

In: the login form (with its double-submit CSRF token). Out: a session cookie and a redirect to the
page asked for, or the form again with one plain sentence on what went wrong.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from wirewatch.app.web.context import render, web
from wirewatch.app.web.security import (
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    Refused,
    Session,
    action,
    public,
    read_form,
    same_token,
)
from wirewatch.app.web.users import MAX_PASSWORD, UserError


@dataclass(frozen=True)
class LoginView:
    csrf: str
    next: str
    email: str = ""
    error: str = ""
    max_password: int = MAX_PASSWORD


def _safe_next(target: str | None) -> str:
    """Only paths of this app (never another site: //evil.example, /\\evil)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target or len(target) > 2000:
        return "/"
    return target


def _login_page(request: Request, error: str = "", email: str = "", status: int = 200) -> Response:
    token = request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(24)
    view = LoginView(token, _safe_next(request.query_params.get("next")), email[:320], error)
    response = render(request, "auth/login.html", view, status=status, title="Log in")
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict",
                        secure=web(request).settings.web.secure_cookies)
    return response


@public("login form")
async def login_form(request: Request) -> Response:
    return _login_page(request)


@public("login")
async def login(request: Request) -> Response:
    ctx = web(request)
    form = await read_form(request)
    email = str(form.get("email", ""))[:320].strip().lower()
    password = str(form.get("password", ""))
    if not same_token(str(form.get("csrf", "")), request.cookies.get(LOGIN_CSRF_COOKIE, "")):
        return _login_page(request, "The form had expired; please log in again.", email, status=400)
    client = request.client.host if request.client else "?"
    if not ctx.logins.allow(f"ip:{client}", f"email:{email}"):
        wait = ctx.logins.wait_seconds(f"ip:{client}", f"email:{email}")
        return _login_page(request, f"Too many login attempts; wait {wait} seconds and try again.", email, 429)
    try:
        user = ctx.users.authenticate(email, password)
    except UserError:
        return _login_page(request, f"That password is longer than any wirewatch accepts (at most {MAX_PASSWORD} "
                                    "characters); check what was pasted.", email, status=400)
    if user is None:
        return _login_page(request, "Wrong email or password.", email, status=401)
    token = ctx.sessions.start(user)
    response = RedirectResponse(_safe_next(str(form.get("next", "/"))), status_code=303)
    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="lax", secure=ctx.settings.web.secure_cookies,
                        max_age=int(ctx.settings.web.session_hours * 3600))
    response.delete_cookie(LOGIN_CSRF_COOKIE)
    return response


@action("analyst")
async def logout(request: Request, session: Session, form: object) -> Response:
    web(request).sessions.end(request.cookies.get(SESSION_COOKIE))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


@public("home")
async def home(request: Request) -> Response:
    return RedirectResponse("/stories", status_code=303)


ROUTES = [
    Route("/", home, methods=["GET"]),
    Route("/login", login_form, methods=["GET"]),
    Route("/login", login, methods=["POST"]),
    Route("/logout", logout, methods=["POST"]),
]

__all__ = ["ROUTES", "Refused"]
