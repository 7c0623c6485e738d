"""The alert stage alone: CPU, wall time and database commits per article, one by one and in batches.

In: nothing but this machine — synthetic tagged articles written like the soak's newswire (a third of
them on ceasefire talks, tagged so that a topic desk gets an alert for each), PostgreSQL on
127.0.0.1:5432 (a fresh database per mode) or SQLite with ``--sqlite``, and an aiosmtpd server on
loopback. Out, for each mode in the same run — the baseline ``one by one`` (each article through
``handle``, as the runner calls a stage without a batch handler) and ``batches of N`` (through the
handler's ``handle_batch`` when the stage has one: ``AlertHandler.batches``) — the CPU of the stage's
thread per article, the wall time per article, the commits per article (counted on the engine) and the
emails the server took. Run from any checkout (an older one measures its own code):

    .venv/bin/python benchmarks/bench_alert.py [--articles 1500] [--batch 50] [--sqlite] [--top 25 [--sort cumulative]]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import random
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, event, text
from wirewatch.alerts.alert_store import AlertStore
from wirewatch.alerts.stage import AlertHandler, build_alerter

from wirewatch.config import Settings
from wirewatch.devtools.newswire import write_article
from wirewatch.devtools.smtpsink import SmtpSink
from wirewatch.schema import Article, Entry, TaggedArticle, TopicTag

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def articles(n: int, prefix: str) -> list[TaggedArticle]:
    """``n`` tagged articles of the synthetic wire, a third of them on topic."""
    rng = random.Random(7)
    start = datetime.now(UTC) - timedelta(minutes=5)
    out = []
    for number in range(n):
        wire = write_article(number, 20, start + timedelta(seconds=number / 20), rng)
        entry = Entry(article_id=f"{prefix}{number}", url=f"https://wire.test/{prefix}/{number}", canonical_url="",
                      feed_url=f"https://wire.test/desk/{wire.desk}.xml", feed_title=f"Desk {wire.desk}",
                      title=wire.title, published=wire.published.isoformat(),
                      seen_at=datetime.now(UTC).isoformat())
        article = Article(entry=entry, title=wire.title, text="\n".join(wire.paragraphs),
                          published=wire.published.isoformat(), sitename=f"Desk {wire.desk}")
        tags = [TopicTag(topic="ceasefire_talks", score=0.9 if wire.on_topic else 0.1, fired=wire.on_topic,
                         explanation="bench")]
        out.append(TaggedArticle(article=article, topics=tags))
    return out


def fresh_url(folder: Path, sqlite: bool, name: str) -> tuple[str, str | None]:
    if sqlite:
        return f"sqlite:///{folder / f'{name}.db'}", None
    db = f"wirewatch_bench_alert_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{db}"'))
    admin.dispose()
    return PG_ADMIN.rsplit("/", 1)[0] + "/" + db, db


def drop(db: str | None) -> None:
    if db is None:
        return
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))
    admin.dispose()


def run(mode: str, batch: int, tagged: list[TaggedArticle], folder: Path, sqlite: bool, smtp: SmtpSink,
        top: int, sort: str = "tottime") -> str:
    url, db = fresh_url(folder, sqlite, mode.replace(" ", "_"))
    settings = Settings.model_validate({"data_dir": str(folder / mode.replace(" ", "_")),
                                        "smtp": {"host": "127.0.0.1", "port": smtp.port, "security": "none"}})
    store = AlertStore.open(url)
    try:
        store.add_subscriber("desk@example.org", mode="immediate")
        store.subscribe("desk@example.org", "topic", "ceasefire_talks", 0.6)
        commits = [0]
        event.listen(store.engine, "commit", lambda _conn: commits.__setitem__(0, commits[0] + 1))
        handler = AlertHandler.__new__(AlertHandler)  # the stage's handler over this store, without a context
        handler.alerter = build_alerter(settings, store)
        warm = 10
        handler.handle(tagged[0])  # imports, the first connection
        for t in tagged[1:warm]:
            handler.handle(t)
        sent_before, commits[0] = len(smtp.messages), 0
        rest = tagged[warm:]
        batched = batch > 1 and getattr(handler, "batches", False)
        profiler = cProfile.Profile() if top else None
        wall, cpu = time.perf_counter(), time.thread_time()
        if profiler is not None:
            profiler.enable()
        if batched:
            for i in range(0, len(rest), batch):
                handler.handle_batch(rest[i:i + batch])
        else:
            for t in rest:
                handler.handle(t)
        if profiler is not None:
            profiler.disable()
        cpu, wall = time.thread_time() - cpu, time.perf_counter() - wall
        n = len(rest)
        sent = len(smtp.messages) - sent_before
        handler.close()
        line = (f"{mode:<16} {1000 * cpu / n:7.2f} ms CPU/article  {1000 * wall / n:7.2f} ms wall/article  "
                f"{commits[0] / n:5.2f} commits/article  {sent} emails  "
                f"({n} articles{'' if batched or batch <= 1 else ', no batch handler: one by one'})")
        if profiler is not None:
            stream = io.StringIO()
            pstats.Stats(profiler, stream=stream).sort_stats(sort).print_stats(top)
            line += "\n" + "\n".join(s for s in stream.getvalue().splitlines() if s.strip())
        return line
    finally:
        store.close()
        drop(db)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--articles", type=int, default=1500)
    parser.add_argument("--batch", type=int, default=50, help="records per batch, as the runner consumes them")
    parser.add_argument("--sqlite", action="store_true", help="SQLite instead of the local PostgreSQL")
    parser.add_argument("--top", type=int, default=0, help="list the N hottest functions of each mode (cProfile)")
    parser.add_argument("--sort", default="tottime", help="the profile's order: tottime, cumulative...")
    args = parser.parse_args()
    smtp = SmtpSink().start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            print(f"the alert stage over {'SQLite' if args.sqlite else 'PostgreSQL'}, {args.articles} articles "
                  "(a third mailed to a topic desk), SMTP on loopback")
            for mode, batch in (("one by one", 1), (f"batches of {args.batch}", args.batch)):
                print(run(mode, batch, articles(args.articles, f"{mode[0]}{batch}-"), folder, args.sqlite, smtp,
                          args.top, args.sort), flush=True)
    finally:
        smtp.stop()


if __name__ == "__main__":
    main()
