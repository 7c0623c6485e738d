"""Editors' rule editor: one topic's rule file in the browser, its errors at line:column while typing,
a live preview over the recent archive, save, version history with revert, and new topics.

In: GET ``/rules``, GET ``/rules/{topic}``, POST ``/rules/{topic}/preview`` (the page's script, on
each pause in typing), POST ``/rules/{topic}`` (save), POST ``/rules/{topic}/revert``, GET
``/rules/{topic}/versions/{id}``, POST ``/rules/new``. Out: pages and preview fragments; a saved
rule file (written whole, then renamed into place, so a running classifier never reads half of one
and picks the change up on its next check) and a ``rule_versions`` row per save.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import insert
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from wirewatch.app.web.context import WebContext, human_time, render, topic_name, web
from wirewatch.app.web.security import Refused, Session, action, page
from wirewatch.app.web.services import Preview, PreviewItem, RuleProblem
from wirewatch.safe_display import web_link
from wirewatch.tables import rule_versions
from wirewatch.textnorm import fold

TOPIC = re.compile(r"^[a-z][a-z0-9_]{1,60}$")
SHOWN = 40
WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Segment:
    text: str
    marked: bool


@dataclass(frozen=True)
class PreviewLine:
    title: list[Segment]
    snippet: list[Segment]
    url: str
    source: str
    when: str
    score: float
    verdict: str


@dataclass(frozen=True)
class PreviewView:
    problems: list[RuleProblem]
    scanned: int
    firing: list[PreviewLine]
    firing_total: int
    newly: list[PreviewLine]
    newly_total: int
    stopped: list[PreviewLine]
    stopped_total: int
    judged: int
    precision: str
    recall: str
    precision_now: str
    recall_now: str


@dataclass(frozen=True)
class EditorView:
    topic: str
    name: str
    text: str
    editable: bool
    folder: str
    versions: list[dict[str, Any]]
    problems: list[RuleProblem]
    saved: bool
    max_chars: int


@dataclass(frozen=True)
class TopicsView:
    topics: list[tuple[str, str]]
    editable: bool
    folder: str
    error: str = ""


def marked(text: str, words: tuple[str, ...]) -> list[Segment]:
    """The text cut into pieces, those that are matched words marked (compared case- and accent-folded)."""
    wanted = {w for m in words for w in m.split()}
    out: list[Segment] = []
    last = 0
    for found in WORD.finditer(text):
        if fold(found.group()) in wanted:
            if found.start() > last:
                out.append(Segment(text[last:found.start()], False))
            out.append(Segment(found.group(), True))
            last = found.end()
    if last < len(text):
        out.append(Segment(text[last:], False))
    return out


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


def _line(item: PreviewItem) -> PreviewLine:
    return PreviewLine(marked(item.title, item.matched), marked(item.snippet, item.matched), web_link(item.url),
                       item.source,
                       human_time(item.published) if item.published else "date unknown", item.score, item.verdict)


def preview_view(result: Preview) -> PreviewView:
    return PreviewView(result.problems, result.scanned, [_line(i) for i in result.firing[:SHOWN]], len(result.firing),
                       [_line(i) for i in result.newly[:SHOWN]], len(result.newly),
                       [_line(i) for i in result.stopped[:SHOWN]], len(result.stopped), result.judged,
                       _percent(result.precision), _percent(result.recall), _percent(result.precision_now),
                       _percent(result.recall_now))


def _topic(request: Request, must_exist: bool = True) -> str:
    topic = str(request.path_params["topic"])
    if not TOPIC.match(topic) or (must_exist and topic not in web(request).stages.topics()):
        raise Refused(404, "There is no topic of that name.")
    return topic


def _path(ctx: WebContext, topic: str) -> Path:
    return ctx.stages.rules_folder() / f"{topic}.rules"


def _write(ctx: WebContext, topic: str, text: str, who: str, note: str) -> None:
    if not ctx.stages.rules_editable:
        raise Refused(403, "These are the bundled rules, which are not edited in place: set [classify] rules_dir "
                           "in the configuration to a folder of rule files (copy the bundled ones there) and restart. "
                           "Nothing was saved.")
    path = _path(ctx, topic)
    with ctx.store.engine.begin() as conn:
        if path.exists() and not ctx.reads.rule_versions(topic, 1):  # the text before the first save, to go back to
            conn.execute(insert(rule_versions).values(topic=topic, text=path.read_text(encoding="utf-8"),
                                                      saved_by="(before the first save)", saved_at=_mtime(path),
                                                      note="as found"))
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
        os.replace(tmp, path)
        conn.execute(insert(rule_versions).values(topic=topic, text=text, saved_by=who, saved_at=_now(), note=note))


def _mtime(path: Path) -> Any:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(path.stat().st_mtime, UTC)


def _now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)


def _editor(request: Request, session: Session, topic: str, text: str, problems: list[RuleProblem],
            status: int = 200) -> Response:
    ctx = web(request)
    versions = [{**v, "when": human_time(v["saved_at"])} for v in ctx.reads.rule_versions(topic)]
    view = EditorView(topic, topic_name(topic), text, ctx.stages.rules_editable, str(ctx.stages.rules_folder()),
                      versions, problems, bool(request.query_params.get("saved")), 200_000)
    return render(request, "rules/editor.html", view, session, status=status, title=f"Rules: {topic_name(topic)}")


@page("editor")
async def topics_page(request: Request, session: Session) -> Response:
    ctx = web(request)
    view = TopicsView([(t, topic_name(t)) for t in ctx.stages.topics()], ctx.stages.rules_editable,
                      str(ctx.stages.rules_folder()))
    return render(request, "rules/topics.html", view, session, title="Rules")


@page("editor")
async def editor_page(request: Request, session: Session) -> Response:
    topic = _topic(request)
    web(request).recent.warm()  # the preview's articles, read while the page loads
    return _editor(request, session, topic, _path(web(request), topic).read_text(encoding="utf-8"), [])


@action("editor")
async def preview(request: Request, session: Session, form: Any) -> Response:
    ctx = web(request)
    topic = _topic(request)
    text = str(form.get("text", ""))
    articles = ctx.recent.rows()
    result = ctx.stages.preview(topic, text, _path(ctx, topic).read_text(encoding="utf-8"), articles,
                                ctx.reads.verdicts())
    return render(request, "rules/_preview.html", preview_view(result), session)


@action("editor")
async def save(request: Request, session: Session, form: Any) -> Response:
    ctx = web(request)
    topic = _topic(request)
    text = str(form.get("text", "")).replace("\r\n", "\n")
    problems = ctx.stages.check_rules(topic, text)
    if problems:
        return _editor(request, session, topic, text if len(text) <= 200_000 else text[:200_000], problems, 400)
    _write(ctx, topic, text, session.user.email, str(form.get("note", ""))[:300])
    return RedirectResponse(f"/rules/{topic}?saved=1", status_code=303)


@action("editor")
async def revert(request: Request, session: Session, form: Any) -> Response:
    ctx = web(request)
    topic = _topic(request)
    try:
        version = ctx.reads.rule_version(int(str(form.get("version", ""))))
    except ValueError:
        version = None
    if version is None or version["topic"] != topic:
        raise Refused(404, "There is no such version of this topic's rules. Nothing was changed.")
    _write(ctx, topic, version["text"], session.user.email, f"back to the version of {human_time(version['saved_at'])}")
    return RedirectResponse(f"/rules/{topic}?saved=1", status_code=303)


@page("editor")
async def version_page(request: Request, session: Session) -> Response:
    ctx = web(request)
    topic = _topic(request)
    try:
        version = ctx.reads.rule_version(int(request.path_params["version"]))
    except ValueError:
        version = None
    if version is None or version["topic"] != topic:
        raise Refused(404, "There is no such version of this topic's rules.")
    view = {"topic": topic, "name": topic_name(topic), "id": version["id"], "text": version["text"],
            "by": version["saved_by"], "when": human_time(version["saved_at"]), "editable": ctx.stages.rules_editable}
    return render(request, "rules/version.html", view, session, title=f"Rules: {topic_name(topic)}")


@action("editor")
async def new_topic(request: Request, session: Session, form: Any) -> Response:
    ctx = web(request)
    topic = str(form.get("topic", "")).strip().lower()
    error = ""
    if not TOPIC.match(topic):
        error = "A topic name is 2 to 61 lower-case letters, digits or _ and starts with a letter, e.g. grain_deals."
    elif topic in ctx.stages.topics():
        error = f"There is already a topic {topic}."
    if error:
        view = TopicsView([(t, topic_name(t)) for t in ctx.stages.topics()], ctx.stages.rules_editable,
                          str(ctx.stages.rules_folder()), error)
        return render(request, "rules/topics.html", view, session, status=400, title="Rules")
    words = topic.replace("_", " ")
    text = (f"# Topic: {topic}\n# What it is about, in a sentence.\nthreshold = 2\n\n"
            f"2  \"{words}\"\n")
    _write(ctx, topic, text, session.user.email, "new topic")
    return RedirectResponse(f"/rules/{topic}", status_code=303)


ROUTES = [
    Route("/rules", topics_page, methods=["GET"]),
    Route("/rules/new", new_topic, methods=["POST"]),
    Route("/rules/{topic}", editor_page, methods=["GET"]),
    Route("/rules/{topic}", save, methods=["POST"]),
    Route("/rules/{topic}/preview", preview, methods=["POST"]),
    Route("/rules/{topic}/revert", revert, methods=["POST"]),
    Route("/rules/{topic}/versions/{version}", version_page, methods=["GET"]),
]
