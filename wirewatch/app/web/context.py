"""What every page of one app instance shares: settings, database, stages, users, sessions, templates.

In: the settings. Out: :class:`WebContext`, made once by :func:`~wirewatch.app.web.app.build_app` and
kept in ``app.state.web`` (one per app, so tests run several side by side), and :func:`render`,
which turns a view model into a page with the logged-in user's menu and CSRF token.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from babel.dates import format_datetime
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from starlette.requests import Request
from starlette.responses import HTMLResponse

from wirewatch.app.state import AppState
from wirewatch.app.web.reads import Reads
from wirewatch.app.web.recent import RecentArticles
from wirewatch.app.web.security import RateLimit, Session, Sessions
from wirewatch.app.web.services import Stages
from wirewatch.app.web.users import UserBook
from wirewatch.config import Settings
from wirewatch.links import LinkSigner
from wirewatch.schema import parse_time

TEMPLATES = Path(__file__).parent / "templates"
PREVIEW_ARTICLES = 10_000  # the rule preview's window: the newest archived articles
LANGUAGES = {"en": "English", "fr": "French", "de": "German", "ru": "Russian", "uk": "Ukrainian", "ar": "Arabic",
             "es": "Spanish", "it": "Italian", "pl": "Polish", "bg": "Bulgarian", "pt": "Portuguese", "tr": "Turkish"}


def human_time(value: str | datetime | None) -> str:
    """A date for people: '17 Aug 2024, 09:30 UTC'."""
    when = parse_time(value) if isinstance(value, str) else value
    if when is None:
        return "date unknown"
    return format_datetime(when, "d MMM y, HH:mm", tzinfo=None, locale="en") + " UTC"


def topic_name(topic: str) -> str:
    return topic.replace("_", " ").capitalize()


def language_name(code: str) -> str:
    return LANGUAGES.get(code, code or "unknown")


@dataclass(frozen=True)
class MessageView:
    heading: str
    message: str
    error: bool = True
    link: str = ""
    link_text: str = ""


@dataclass
class WebContext:
    settings: Settings
    store: AppState
    reads: Reads
    stages: Stages
    users: UserBook
    sessions: Sessions
    logins: RateLimit
    links: LinkSigner
    env: Environment
    recent: RecentArticles

    @classmethod
    def build(cls, settings: Settings, store: AppState | None = None) -> WebContext:
        settings.data_path.mkdir(parents=True, exist_ok=True)
        store = store or AppState.of(settings)
        env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True, undefined=StrictUndefined,
                          trim_blocks=True, lstrip_blocks=True)
        env.filters.update(when=human_time, topic=topic_name, language=language_name)
        reads, stages = Reads(store.engine), Stages(settings)
        recent = RecentArticles(lambda: reads.recent_articles(PREVIEW_ARTICLES), stages.prepare_preview, 1800.0)
        return cls(settings, store, reads, stages, UserBook(store.engine),
                   Sessions(store.engine, settings.web.session_hours),
                   RateLimit(settings.web.login_attempts_per_minute), LinkSigner.from_settings(settings), env, recent)


def web(request: Request) -> WebContext:
    ctx: WebContext = request.app.state.web
    return ctx


def render(request: Request, template: str, view: Any, session: Session | None = None, status: int = 200,
           title: str = "") -> HTMLResponse:
    """The page ``template`` for the view model ``view``."""
    page = web(request).env.get_template(template).render(
        view=view, user=session.user if session else None, csrf=session.csrf if session else "",
        title=title, path=request.url.path)
    return HTMLResponse(page, status_code=status)
