"""Analysts' stories: the active ones, one story's timeline, and watching a story.

In: GET ``/stories`` (``?page=N``), GET ``/stories/{id}``, POST ``/stories/{id}/watch``, GET/POST
``/watches/new`` (a URL or pasted text). Out: pages built from view models; a watch (and the user's
subscription to it) that the alert workers pick up at their next refresh.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from wirewatch.app.web.context import WebContext, human_time, language_name, render, web
from wirewatch.app.web.security import Refused, Session, action, page
from wirewatch.config import thin_seed
from wirewatch.safe_display import web_link

PAGE_SIZE = 50
MAX_SEED_TEXT = 100_000


@dataclass(frozen=True)
class StoryItem:
    id: int
    title: str
    articles: int
    first: str
    last: str
    languages: str
    outlets: str


@dataclass(frozen=True)
class StoriesView:
    stories: list[StoryItem]
    total: int
    page: int
    prev_page: int | None
    next_page: int | None
    window_days: float


@dataclass(frozen=True)
class ArticleCard:
    article_id: str
    title: str
    url: str
    source: str
    when: str
    language: str
    reason: str
    kind: str = ""
    new_sentences: tuple[str, ...] = ()
    new_facts: tuple[str, ...] = ()
    ref: str = ""
    verdict: str = ""


@dataclass(frozen=True)
class StoryView:
    id: int
    title: str
    first: ArticleCard | None
    retellings: list[ArticleCard]
    follow_ups: list[ArticleCard]
    grouped: list[ArticleCard]
    watches: list[dict[str, object]]
    watched: bool
    outlets: str
    languages: str
    noted: bool = False


@dataclass(frozen=True)
class NewWatchView:
    error: str = ""
    name: str = ""
    url: str = ""
    text: str = ""
    topics: list[str] = field(default_factory=list)


def _page_number(request: Request) -> int:
    try:
        return max(1, min(100_000, int(request.query_params.get("page", "1"))))
    except ValueError:
        return 1


@page("analyst")
async def story_list(request: Request, session: Session) -> Response:
    ctx = web(request)
    number = _page_number(request)
    window = ctx.settings.alert.window_days
    rows, total = ctx.reads.active_stories(window, PAGE_SIZE, (number - 1) * PAGE_SIZE)
    items = [StoryItem(r.id, r.title, r.articles, human_time(r.first), human_time(r.last),
                       ", ".join(language_name(x) for x in r.languages) or "unknown", ", ".join(r.outlets))
             for r in rows]
    view = StoriesView(items, total, number, number - 1 if number > 1 else None,
                       number + 1 if number * PAGE_SIZE < total else None, window)
    return render(request, "stories/list.html", view, session, title="Stories")


def story_view(ctx: WebContext, story_id: int, email: str, noted: bool = False) -> StoryView:
    try:
        title, rows = ctx.reads.story(story_id)
    except KeyError:
        raise Refused(404, "There is no story with that number.") from None
    ids = [r["article_id"] for r in rows]
    watches = ctx.reads.watches_of_story(ids, [r["url"] for r in rows], email)
    relations: dict[str, str] = {}
    for watch in watches:  # what a watch linked, the alert stage decided: it is shown as it decided
        members = ctx.reads.members(str(watch["id"]))
        extra = [a for a in members if a not in ids]
        if extra:
            rows += ctx.reads.articles(extra)
            ids += extra
        relations.update({a: r for a, r in members.items() if r in ("same_report", "follow_up")})
    rows.sort(key=lambda r: (r["published"] or "", r["article_id"]))
    timeline = {t.article_id: t for t in ctx.stages.timeline(rows, {r["article_id"]: r["topics"] for r in rows},
                                                             ctx.reads.texts)}
    refs = ctx.reads.refs_for(email, ids)
    cards: dict[str, list[ArticleCard]] = {"first_report": [], "same_report": [], "follow_up": [], "grouped": []}
    for row in rows:
        entry = timeline[row["article_id"]]
        kind = relations.get(row["article_id"], entry.relation) if entry.relation != "first_report" else entry.relation
        ref, verdict = refs.get(row["article_id"], ("", ""))
        reason = entry.reason if kind == entry.relation else {"follow_up": "a follow-up, as linked for the watch",
                                                              "same_report": "the same report retold"}[kind]
        cards[kind].append(ArticleCard(row["article_id"], row["title"], web_link(row["url"]),
                                       row["source"] or "unknown outlet",
                                       human_time(row["published"]), language_name(row["language"]), reason, kind,
                                       entry.new_sentences, entry.new_facts, ref, verdict))
    outlets = sorted({r["source"] for r in rows if r["source"]})
    languages = sorted({language_name(r["language"]) for r in rows if r["language"]})
    return StoryView(story_id, title, (cards["first_report"] or [None])[0], cards["same_report"], cards["follow_up"],
                     cards["grouped"], watches, any(w["mine"] for w in watches), ", ".join(outlets),
                     ", ".join(languages), noted)


@page("analyst")
async def story_page(request: Request, session: Session) -> Response:
    story_id = _story_id(request)
    view = story_view(web(request), story_id, session.user.email, bool(request.query_params.get("noted")))
    return render(request, "stories/story.html", view, session, title=view.title)


def _story_id(request: Request) -> int:
    try:
        return int(request.path_params["story_id"])
    except ValueError:
        raise Refused(404, "There is no story with that number.") from None


def _slug(text: str, suffix: str) -> str:
    base = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60].strip("-") or "story"
    return f"{base}-{suffix}" if suffix else base


def _follow(ctx: WebContext, email: str, watch_id: str) -> None:
    mode, _subs = ctx.reads.subscriptions_of(email)
    if mode is None:
        ctx.store.alerts.add_subscriber(email, mode="immediate", origin="web")
    ctx.store.alerts.subscribe(email, "watch", watch_id)


@action("analyst")
async def watch_story(request: Request, session: Session, form: object) -> Response:
    ctx = web(request)
    story_id = _story_id(request)
    view = story_view(ctx, story_id, session.user.email)
    if view.watches:
        watch_id = str(view.watches[0]["id"])
    else:
        if view.first is None:
            raise Refused(404, "This story has no article to watch it from.")
        _, rows = ctx.reads.story(story_id)
        seed = rows[0]
        watch_id = _slug(view.title, str(story_id))
        ctx.store.alerts.add_watch(watch_id, view.title, seed_url=seed["url"], topics=sorted(seed["topics"]),
                                   origin="web")
    _follow(ctx, session.user.email, watch_id)
    return RedirectResponse(f"/stories/{story_id}?watching=1", status_code=303)


@page("analyst")
async def new_watch_form(request: Request, session: Session) -> Response:
    view = NewWatchView(topics=web(request).stages.topics())
    return render(request, "stories/new_watch.html", view, session, title="Watch a story")


@action("analyst")
async def new_watch(request: Request, session: Session, form: object) -> Response:
    ctx = web(request)
    data = dict(form)  # type: ignore[call-overload]
    name, url, text = (str(data.get(k, "")).strip() for k in ("name", "url", "text"))
    error = ""
    if not name or len(name) > 300:
        error = "Give the story a name (at most 300 characters)."
    elif bool(url) == bool(text):
        error = "Give either the address of an article or its text, not both."
    elif url and not re.match(r"^https?://[^\s/]+\S*$", url):
        error = "The address must start with http:// or https://."
    elif len(text) > MAX_SEED_TEXT:
        error = f"The text has {len(text):,} characters; at most {MAX_SEED_TEXT:,} are accepted."
    if error:
        view = NewWatchView(error, name[:300], url[:2000], text[:MAX_SEED_TEXT], ctx.stages.topics())
        return render(request, "stories/new_watch.html", view, session, status=400, title="Watch a story")
    topics = [t for t in form.getlist("topic") if t in ctx.stages.topics()]  # type: ignore[attr-defined]
    watch_id = _slug(name, "")
    n = 1
    while not ctx.store.alerts.add_watch(watch_id if n == 1 else f"{watch_id}-{n}", name, seed_url=url, seed_text=text,
                                  topics=topics, origin="web"):
        n += 1
    watch_id = watch_id if n == 1 else f"{watch_id}-{n}"
    _follow(ctx, session.user.email, watch_id)
    words = thin_seed(text) if text else None
    thin = f"&thin={words}" if words is not None else ""
    return RedirectResponse(f"/subscriptions?watching={watch_id}{thin}", status_code=303)


ROUTES = [
    Route("/stories", story_list, methods=["GET"]),
    Route("/stories/{story_id}", story_page, methods=["GET"]),
    Route("/stories/{story_id}/watch", watch_story, methods=["POST"]),
    Route("/watches/new", new_watch_form, methods=["GET"]),
    Route("/watches/new", new_watch, methods=["POST"]),
]
