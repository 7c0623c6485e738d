"""An alert worker's start: restoring the story window from the archive, with and without each article's stored keys.

In: the real article texts of ../shared (BBC News, WikiRef220, stories-dev, news-dev; see real_texts.py), cycled
under new ids into an archive of N articles spread over the last six days of the story window (SQLite, or the
database of ``--db``), each linked to the story the index gives it. Out, printed for each N: the CPU seconds (and
wall seconds) of constructing the alert stage (:class:`alerts.alerter.Alerter`), each in a fresh process:

- ``before``: a checkout without stored keys (``--baseline-python``: the python of its venv), on the archive at
  revision 0004: every text is analysed again (story keys and name keys);
- ``first start after the upgrade``: this checkout on the same archive upgraded, before any keys are stored
  (they are computed, as before, and written back);
- ``after``: this checkout again, now reading the stored keys;

and a digest of what each restored (stories with their sizes and key counts, name frequencies), which must be the
same for all three. Run:

    .venv/bin/python benchmarks/bench_restore.py --sizes 10000 50000 --baseline-python /tmp/base/.venv/bin/python
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent


def measure(url: str) -> None:
    """Construct the alert stage on ``url`` (in this process, with whatever wirewatch it imports) and print JSON."""
    from wirewatch.alerts.alert_store import AlertStore
    from wirewatch.alerts.alerter import Alerter
    from wirewatch.alerts.compose import Composer
    from wirewatch.alerts.mailer import OutboxMailer
    from wirewatch.alerts.story_index import story_keys

    from wirewatch.config import AlertSettings

    story_keys("warm up\nthe analyser's tables are built once per process, not counted")
    store = AlertStore.open(url)
    with tempfile.TemporaryDirectory() as outbox:
        cpu, wall = time.process_time(), time.perf_counter()
        alerter = Alerter(AlertSettings(), store, Composer("w <w@wire.test>"), OutboxMailer(Path(outbox)))
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    digest = hashlib.sha256()
    for story in sorted(alerter.stories.stories.values(), key=lambda s: s.story_id):
        digest.update(json.dumps([story.story_id, story.size, sorted(story.centroid.items())]).encode())
    digest.update(json.dumps([alerter.stats.docs, sorted(alerter.stats.df.items())]).encode())
    print(json.dumps({"cpu": cpu, "wall": wall, "stories": len(alerter.stories.stories),
                      "docs": alerter.stories.stats.docs, "digest": digest.hexdigest()[:16]}))
    store.close()


def build(url: str, size: int, shared: Path) -> None:
    """An archive of ``size`` articles at revision 0004 (as before the keys were stored), linked to stories."""
    from real_texts import real_texts
    from sqlalchemy import create_engine, insert
    from wirewatch.alerts.story_index import StoryIndex, story_keys

    from wirewatch import migrate
    from wirewatch.tables import archive

    texts = real_texts(shared)
    keys = [story_keys(t) for t in texts]
    rng = random.Random(5)
    now = datetime.now(UTC)
    start = now - timedelta(days=6)
    index = StoryIndex(0.07)
    engine = create_engine(url)
    migrate.upgrade(engine, "0004")
    rows = []
    for i in range(size):
        n = rng.randrange(len(texts))
        when = start + timedelta(days=6) * (i / size) - timedelta(minutes=1)
        title, _, text = texts[n].partition("\n")
        story_id, _ = index.link(keys[n], when)
        rows.append({"article_id": f"a{i:07d}", "url": f"https://news.test/{i}", "title": title, "source": "bench",
                     "published": when.isoformat(), "text": text, "tagged_json": "{}", "archived_at": when,
                     "story_id": story_id, "linked": True})
        if len(rows) == 2_000 or i == size - 1:
            with engine.begin() as conn:
                conn.execute(insert(archive), rows)
            rows = []
    engine.dispose()


def write_cost(url: str, shared: Path, n: int = 500) -> None:
    """What keeping the keys adds where the alert stage links an article: the name keys and packing, and the
    write (one transaction per article, as the stage writes it now), beside computing the story keys."""
    from real_texts import real_texts
    from sqlalchemy import create_engine
    from wirewatch.alerts.key_store import ArticleKeys, ArticleKeyStore
    from wirewatch.alerts.story_index import story_keys

    from wirewatch import migrate
    from wirewatch.database import Database

    engine = create_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    texts = real_texts(shared)[:n]
    start = time.process_time()
    keys = [story_keys(t) for t in texts]
    computing = (time.process_time() - start) / n
    start = time.process_time()
    records = [ArticleKeys.of(t, k) for t, k in zip(texts, keys, strict=True)]
    packed = [r.pack() for r in records]
    packing = (time.process_time() - start) / n
    db = Database(url)
    store = ArticleKeyStore(db)
    start = time.process_time()
    for i, (t, k) in enumerate(zip(texts, keys, strict=True)):
        store.save_many([(f"w{i}", ArticleKeys.of(t, k))])
    saving = (time.process_time() - start) / n
    db.close()
    print(f"keeping an article's keys at link time (mean over {n} real texts): story keys (computed anyway) "
          f"{computing * 1e3:.2f} ms CPU; name keys and packing {packing * 1e3:.2f} ms; the whole save (name keys, "
          f"packing, one transaction) {saving * 1e3:.2f} ms; packed {sum(map(len, packed)) / n:,.0f} bytes an article")


def run(python: str, url: str) -> dict[str, float | str]:
    done = subprocess.run([python, str(Path(__file__).resolve()), "--measure", url], capture_output=True, text=True,
                          check=False, cwd="/")
    if done.returncode != 0:
        raise SystemExit(f"{python} --measure {url} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[10_000])
    parser.add_argument("--shared", type=Path, default=HERE.parents[1] / "shared")
    parser.add_argument("--baseline-python", help="the python of a checkout without stored keys (the before)")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        measure(args.measure)
        return
    sys.path.insert(0, str(HERE))
    from sqlalchemy import create_engine

    from wirewatch import migrate

    print("alert stage construction (restoring a 7-day story window), each in a fresh process: "
          "CPU s (wall s), stories restored, digest of what was restored")
    for size in args.sizes:
        with tempfile.TemporaryDirectory() as tmp:
            old = f"sqlite:///{tmp}/old.db"
            cpu = time.process_time()
            build(old, size, args.shared)
            print(f"N = {size:,}: archive built ({time.process_time() - cpu:.0f} s CPU)", flush=True)
            shutil.copy(f"{tmp}/old.db", f"{tmp}/new.db")
            new = f"sqlite:///{tmp}/new.db"
            engine = create_engine(new)
            migrate.upgrade(engine)
            engine.dispose()
            runs = []
            if args.baseline_python:
                runs.append(("before (no stored keys)", args.baseline_python, old))
            runs += [("first start after the upgrade (keys computed, written back)", sys.executable, new),
                     ("after (keys read)", sys.executable, new)]
            for label, python, url in runs:
                got = run(python, url)
                print(f"  {label:>60}: {got['cpu']:7.2f} s CPU ({got['wall']:6.2f} s wall), {got['stories']:,} "
                      f"stories, {got['docs']:,} articles, digest {got['digest']}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        write_cost(f"sqlite:///{tmp}/w.db", args.shared)


if __name__ == "__main__":
    main()
