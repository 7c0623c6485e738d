"""Benchmark: the web app's pages on a large archive, beside a bare query of the same rows.

In: a synthetic SQLite archive written by this script (``--articles`` 100,000 articles in
``--stories`` 1,000 stories, invented words, 5 languages, 40 outlets; tagged JSON as the classify
stage writes it, text included), one analyst with 200 alerts, 50 feeds. Out: per page, the p95 and
median of ``--requests`` requests through the app (Starlette's in-process client: routing, session
and role checks, queries, view model, template) beside the p95 of the bare SQL query that reads the
same rows; the rule preview over the last 10,000 articles beside a bare read of those rows. Run:

    .venv/bin/python benchmarks/bench_web.py [--articles 100000] [--stories 1000] [--requests 30]
"""

from __future__ import annotations

import argparse
import atexit
import json
import random
import re
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from argon2 import PasswordHasher
from sqlalchemy import func, insert, select
from starlette.testclient import TestClient
from wirewatch.alerts.outbox import alert_ref

from wirewatch.app.state import AppState
from wirewatch.app.web.app import build_app
from wirewatch.app.web.context import PREVIEW_ARTICLES
from wirewatch.app.web.users import UserBook
from wirewatch.config import load_settings
from wirewatch.tables import alerts, archive, stories

LANGS = ("en", "fr", "de", "ru", "uk")
SYLLABLES = ("ka", "lo", "mi", "ta", "ren", "vos", "dal", "ur", "sen", "pol", "gra", "tek", "mun", "bar", "zi")
ENERGY = ("strike", "drone", "power", "plant", "grid", "substation", "talks", "ceasefire", "moratorium", "energy")


def word(rng: random.Random) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 3)))


def fill(store: AppState, n_articles: int, n_stories: int, rng: random.Random) -> None:
    names = [[word(rng).capitalize() for _ in range(6)] for _ in range(n_stories)]
    outlets = [f"Outlet {word(rng).capitalize()}" for _ in range(40)]
    start = datetime(2026, 6, 1, tzinfo=UTC)
    with store.engine.begin() as conn:
        conn.execute(insert(stories), [{"id": i + 1, "title": " ".join(names[i][:4]) + " talks",
                                        "created_at": start} for i in range(n_stories)])
        batch = []
        for i in range(n_articles):
            s = rng.randrange(n_stories)
            when = start + timedelta(minutes=i * 2)
            words = [rng.choice(names[s]) if rng.random() < 0.2 else rng.choice(ENERGY) if rng.random() < 0.05
                     else word(rng) for _ in range(120)]
            title = " ".join(words[:9]).capitalize()
            text = " ".join(words[9:]) + "."
            lang = LANGS[s % len(LANGS)]
            tagged = {"article": {"title": title, "text": text, "language": lang, "published": when.isoformat()},
                      "topics": [{"topic": "energy_strikes", "score": 0.7, "fired": "strike" in words}]}
            batch.append({"article_id": f"a{i:06d}", "url": f"https://news.example/{i}", "title": title,
                          "source": rng.choice(outlets), "published": when.isoformat(), "text": text,
                          "tagged_json": json.dumps(tagged), "archived_at": when, "story_id": s + 1, "linked": True})
            if len(batch) == 5000:
                conn.execute(insert(archive), batch)
                batch = []
        if batch:
            conn.execute(insert(archive), batch)
        conn.execute(insert(alerts), [{
            "idem_key": f"k{i}", "subscriber": "ana@example.org", "article_id": f"a{n_articles - 1 - i * 7:06d}",
            "kind": "topic", "subject": f"Alert {i}", "message": "", "status": "sent", "attempts": 1,
            "last_error": "", "created_at": start, "sent_at": start, "story": "", "ref": alert_ref(f"k{i}"),
            "facts_json": "{}", "claimed_by": "", "interrupted": 0} for i in range(200)])
    for i in range(50):
        store.ingest.add_feed(f"https://feeds.example/{i}.rss", f"Feed {i}")
    store.alerts.add_subscriber("ana@example.org")
    store.alerts.subscribe("ana@example.org", "topic", "energy_strikes", 0.6)


def timed(fn: Callable[[], object], n: int) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return sorted(out)


def p95(values: list[float]) -> float:
    return values[min(len(values) - 1, int(0.95 * len(values)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--stories", type=int, default=1_000)
    parser.add_argument("--requests", type=int, default=30)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="wirewatch-bench-web-"))
    atexit.register(shutil.rmtree, root, True)  # a few hundred MB
    settings = load_settings(None, env={}, overrides={"data_dir": str(root), "web.secret": "bench"})
    store = AppState.open(settings.database_url)
    t = time.perf_counter()
    fill(store, args.articles, args.stories, random.Random(7))
    print(f"archive: {args.articles:,} articles in {args.stories:,} stories, written in "
          f"{time.perf_counter() - t:.0f} s ({root})")
    UserBook(store.engine, PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)).add(
        "ana@example.org", "admin", "bench password 1")

    def logged_in() -> TestClient:
        """A client of a new app (its caches empty), logged in without opening any page."""
        fresh = TestClient(build_app(settings, store), follow_redirects=False)
        token = re.search(r'name="csrf" value="([^"]+)"', fresh.get("/login").text).group(1)  # type: ignore[union-attr]
        fresh.post("/login", data={"csrf": token, "email": "ana@example.org", "password": "bench password 1"})
        return fresh

    client = logged_in()
    csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/subscriptions").text).group(1)  # type: ignore[union-attr]
    with store.engine.connect() as conn:
        big = conn.execute(select(archive.c.story_id, func.count()).group_by(archive.c.story_id)
                           .order_by(func.count().desc()).limit(1)).first()
    story_id, story_size = int(big[0]), int(big[1])

    def bare(query: object) -> Callable[[], object]:
        def run() -> object:
            with store.engine.connect() as conn:
                return conn.execute(query).all()  # type: ignore[call-overload]
        return run

    grouped = (select(archive.c.story_id, func.count(), func.min(archive.c.published), func.max(archive.c.published))
               .group_by(archive.c.story_id).order_by(func.max(archive.c.published).desc()).limit(50))
    story_rows = select(archive.c.article_id, archive.c.title, archive.c.text, archive.c.source, archive.c.url,
                        archive.c.published, archive.c.tagged_json).where(archive.c.story_id == story_id)
    recent = select(archive.c.article_id, archive.c.title, archive.c.text).order_by(
        archive.c.archived_at.desc()).limit(PREVIEW_ARTICLES)
    pages = [
        ("/stories (first 50 active)", "/stories", bare(grouped)),
        ("/stories?page=10", "/stories?page=10", bare(grouped.offset(450))),
        (f"/stories/{story_id} ({story_size} articles)", f"/stories/{story_id}", bare(story_rows)),
        ("/alerts (200)", "/alerts", bare(select(alerts).where(alerts.c.subscriber == "ana@example.org").limit(100))),
        ("/subscriptions", "/subscriptions", bare(select(alerts.c.ref).limit(1))),
        ("/rules/energy_strikes", "/rules/energy_strikes", bare(select(alerts.c.ref).limit(1))),
        ("/ops (status)", "/ops", bare(select(func.count()).select_from(archive))),
        ("/ops/feeds (50)", "/ops/feeds", bare(select(func.count()).select_from(archive))),
    ]
    rule = (Path(settings.classify.rules_dir or "") if settings.classify.rules_dir else None)
    from wirewatch.app.web.services import Stages

    text = (Stages(settings).rules_folder() / "energy_strikes.rules").read_text(encoding="utf-8")
    edited = text + "\n2  moratorium NEAR/5 energy\n"
    preview = lambda: client.post("/rules/energy_strikes/preview", data={"csrf": csrf, "text": edited})  # noqa: E731
    t = time.perf_counter()
    assert "would fire" in preview().text and rule is None
    first = (time.perf_counter() - t) * 1000  # reads the 10,000 articles, indexes them, evaluates every line
    edits = [text + f"\n2  moratorium NEAR/{n} energy\n" for n in range(3, 3 + max(5, args.requests // 3))]
    typed = iter(edits)  # each request a new line, as an editor types: only that line is evaluated again
    app_ms = timed(lambda: client.post("/rules/energy_strikes/preview", data={"csrf": csrf, "text": next(typed)}),
                   len(edits))
    bare_ms = timed(bare(recent), len(edits))
    preview_line = (f"{f'rule preview, last {PREVIEW_ARTICLES:,}':<34} {first:>7.1f}ms "
                    f"{statistics.median(app_ms):>7.1f}ms {p95(app_ms):>7.1f}ms {p95(bare_ms):>7.1f}ms "
                    f"{p95(app_ms) / p95(bare_ms):>6.1f}x")

    print(f"{'page':<34} {'cold':>9} {'app p50':>9} {'app p95':>9} {'bare p95':>9} {'ratio':>7}")
    for name, path, baseline in pages:
        cold_client = logged_in()
        t = time.perf_counter()
        assert cold_client.get(path).status_code == 200, name
        first = (time.perf_counter() - t) * 1000  # a new app: its caches (story groups, facets, timelines) empty
        cold_client.app.state.web.recent.rows()  # the editor page starts reading the preview's articles: let it end
        page = lambda p=path: client.get(p)  # noqa: E731
        app_ms, bare_ms = timed(page, args.requests), timed(baseline, args.requests)
        print(f"{name:<34} {first:>7.1f}ms {statistics.median(app_ms):>7.1f}ms {p95(app_ms):>7.1f}ms "
              f"{p95(bare_ms):>7.1f}ms {p95(app_ms) / p95(bare_ms):>6.1f}x")

    print(preview_line)
    print("(cold: the first preview of a new app, which reads the articles, indexes them and evaluates the"
          " saved rules first)")


if __name__ == "__main__":
    main()
