"""Ops pages: the pipeline at a glance (what ``wirewatch status`` shows), feeds with their health,
adding a feed or an OPML file, and dead letters with replay. Admins only.

In: GET ``/ops``, GET/POST ``/ops/feeds``, POST ``/ops/feeds/import`` (an OPML upload), GET
``/ops/deadletters``, POST ``/ops/deadletters/replay``. Out: pages; feeds added to the database the
pollers read (due at once); chosen dead letters published again to the topic they came from.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from wirewatch.app.status import WORD_UNITS, collect, span
from wirewatch.app.web.context import human_time, render, web
from wirewatch.app.web.security import Refused, Session, action, page
from wirewatch.config import FeedSettings

MAX_OPML = 2_000_000


def _span(seconds: float | None) -> str:
    return span(seconds, WORD_UNITS)


@dataclass(frozen=True)
class WorkerLine:
    stage: str
    where: str
    state: str
    up: str
    consumed: int
    produced: int
    dead: int
    lag: str


@dataclass(frozen=True)
class StatusView:
    workers: list[WorkerLine]
    missing: list[str]
    feeds: str
    entries: str
    archived: int
    outbox: str
    delay: str


@dataclass(frozen=True)
class FeedLine:
    url: str
    name: str
    health: str
    last_status: str
    last_polled: str
    next_poll: str
    error: str
    entries: int


@dataclass(frozen=True)
class FeedsView:
    feeds: list[FeedLine]
    message: str
    error: str


@dataclass(frozen=True)
class LetterLine:
    key: str
    when: str
    stage: str
    reason: str
    source: str
    error: str


@dataclass(frozen=True)
class LettersView:
    letters: list[LetterLine]
    problem: str
    message: str


@page("admin")
async def status_page(request: Request, session: Session) -> Response:
    report = collect(web(request).store)
    workers = [WorkerLine(w["stage"], f"{w['host']}:{w['pid']}", w["state"], _span(w["up_seconds"]),
                          int(w.get("consumed", 0)), int(w.get("produced", 0)), int(w.get("deadlettered", 0)),
                          "" if w["stage"] == "poll" else
                          f"{w.get('lag_records', '?')} messages / {_span(w.get('lag_seconds'))}")
               for w in report["workers"] if w["alive"] or w["state"] != "stopped"]
    f, e, o = report["feeds"], report["entries"], report["outbox"]
    d = report["alert_delay_seconds"]["from_publication"]
    view = StatusView(
        workers, report["stages_without_worker"],
        f"{f['total']} feeds: " + (", ".join(f"{n} {h}" for h, n in sorted(f["health"].items())) or "none"),
        f"{sum(e.values())} accepted: {e.get('archived', 0)} archived, {e.get('accepted', 0)} on their way, "
        f"{e.get('abandoned', 0)} given up", report["archived"],
        (", ".join(f"{n} {s}" for s, n in sorted(o["counts"].items()) if s != "feedback") or "empty")
        + f"; oldest waiting: {human_time(o['oldest_pending']) if o['oldest_pending'] else 'none'}"
        + f"; last sent: {human_time(o['last_sent']) if o['last_sent'] else 'never'}",
        f"publication to email, last {d['n']} sent: median {_span(d['p50'])}, 95% within {_span(d['p95'])}")
    return render(request, "ops/status.html", view, session, title="Operations")


def _feeds_view(request: Request, message: str = "", error: str = "") -> FeedsView:
    now = datetime.now(UTC)
    lines = [FeedLine(f.url, f.name, f.health, str(f.last_status or "–"),
                      human_time(f.last_polled) if f.last_polled else "never",
                      ("now" if f.next_poll <= now else f"in {_span((f.next_poll - now).total_seconds())}")
                      if f.next_poll and f.enabled else "–", f.last_error or f.last_warning, f.entries_total)
             for f in web(request).store.ingest.list_feeds()]
    return FeedsView(lines, message, error)


@page("admin")
async def feeds_page(request: Request, session: Session) -> Response:
    message = {"added": "Feed added; a poller fetches it at its next round.",
               "known": "That feed was already there."}.get(request.query_params.get("done", ""), "")
    return render(request, "ops/feeds.html", _feeds_view(request, message), session, title="Feeds")


@action("admin")
async def add_feed(request: Request, session: Session, form: Any) -> Response:
    ctx = web(request)
    url, name = str(form.get("url", "")).strip(), str(form.get("name", "")).strip()[:500]
    try:
        FeedSettings(url=url)
    except ValidationError:
        return render(request, "ops/feeds.html", _feeds_view(request, error=f"Not a feed address: {url[:200]!r}; it "
                      "must start with http:// or https://."), session, status=400, title="Feeds")
    added = ctx.store.ingest.add_feed(url[:2048], name, origin="web", interval=ctx.settings.poll.interval_seconds)
    return RedirectResponse(f"/ops/feeds?done={'added' if added else 'known'}", status_code=303)


@action("admin")
async def import_opml(request: Request, session: Session, form: Any) -> Response:
    ctx = web(request)
    upload = form.get("opml")
    if not isinstance(upload, UploadFile):
        raise Refused(400, "Choose an OPML file to import. Nothing was added.")
    data = await upload.read(MAX_OPML + 1)
    if len(data) > MAX_OPML:
        raise Refused(400, f"The OPML file is over {MAX_OPML:,} bytes. Nothing was added.")
    try:
        found = ctx.stages.read_opml(data, upload.filename or "the OPML file")
    except ValueError as exc:
        return render(request, "ops/feeds.html", _feeds_view(request, error=str(exc)), session, status=400,
                      title="Feeds")
    added = skipped = 0
    for url, name in found:
        try:
            FeedSettings(url=url)
        except ValidationError:
            skipped += 1
            continue
        added += ctx.store.ingest.add_feed(url, name, origin="opml", interval=ctx.settings.poll.interval_seconds)
    message = f"{added} feeds added, {len(found) - added - skipped} already there, {skipped} skipped (not http/https)."
    return render(request, "ops/feeds.html", _feeds_view(request, message), session, title="Feeds")


def _letters(request: Request, message: str = "") -> LettersView:
    try:
        letters = web(request).stages.dead_letters()
    except Exception as exc:  # no broker configured, or it does not answer: said on the page
        return LettersView([], f"The dead letters cannot be read: {exc}", message)
    return LettersView([LetterLine(f"{p}:{o}", human_time(x.failed_at), x.stage, x.reason.replace("_", " "),
                                   f"{x.source_topic}[{x.partition}]@{x.offset}", x.error[:300])
                        for p, o, x in letters[:500]], "", message)


@page("admin")
async def letters_page(request: Request, session: Session) -> Response:
    return render(request, "ops/deadletters.html", _letters(request), session, title="Dead letters")


@action("admin")
async def replay(request: Request, session: Session, form: Any) -> Response:
    picked = []
    for key in form.getlist("letter"):
        try:
            partition, offset = (int(x) for x in str(key).split(":"))
        except ValueError:
            raise Refused(400, f"Not a dead letter: {str(key)[:50]!r}. Nothing was replayed.") from None
        picked.append((partition, offset))
    if not picked:
        raise Refused(400, "Choose the dead letters to replay. Nothing was replayed.")
    try:
        count = web(request).stages.replay(picked)
    except Exception as exc:
        raise Refused(503, f"The broker could not take them: {exc}. Nothing was replayed.") from None
    return RedirectResponse(f"/ops/deadletters?replayed={count}", status_code=303)


ROUTES = [
    Route("/ops", status_page, methods=["GET"]),
    Route("/ops/feeds", feeds_page, methods=["GET"]),
    Route("/ops/feeds", add_feed, methods=["POST"]),
    Route("/ops/feeds/import", import_opml, methods=["POST"]),
    Route("/ops/deadletters", letters_page, methods=["GET"]),
    Route("/ops/deadletters/replay", replay, methods=["POST"]),
]
