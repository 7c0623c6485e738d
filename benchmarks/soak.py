"""Soak: the pipeline as separate workers under a steady feed load for minutes, one and two workers per stage.

In: nothing but this machine (a synthetic newswire on loopback publishing ``--rate`` articles per
second over 20 feeds, the bundled broker, an aiosmtpd server, and PostgreSQL on 127.0.0.1:5432 —
a fresh database per run — or SQLite with ``--sqlite``). One poller always (it is not partitioned);
the consuming stages run one or two copies each. Out, printed for each configuration: every
``--every`` seconds the articles published and archived, throughput, consumer lag per stage (from the
workers' heartbeats), CPU and resident memory of all workers; then throughput beside the offered
load (the baseline of this run: a ratio of 1.0 keeps up), publication-to-alert and
first-sighting-to-alert latency (p50, p95, p99 over every alert sent), where that time goes (each
hop of every alert sent, from the record timestamps of the topics and the archive and outbox rows:
sighting → entry on Kafka → article on Kafka → tagged on Kafka → archived → queued → sent), and each
worker's memory at the end beside its memory after the first quarter (flat is a ratio near 1.0). Run:

    .venv/bin/python benchmarks/soak.py [--minutes 10] [--rate 4] [--copies 1 2] [--sqlite]

Needs the dev extras (aiosmtpd). The figures in docs/benchmarks.md come from this command.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from kafka import KafkaConsumer, TopicPartition
from sqlalchemy import create_engine, select, text

from wirewatch.app import registry
from wirewatch.app.state import AppState
from wirewatch.app.status import collect
from wirewatch.broker import EmbeddedBroker, free_port
from wirewatch.devtools.cluster import QUICK, LocalCluster, write_config
from wirewatch.devtools.newswire import Newswire
from wirewatch.devtools.smtpsink import SmtpSink
from wirewatch.kafka import ARTICLES, ENTRIES, TAGGED
from wirewatch.tables import alerts, archive

HOPS = ("poll: sighting -> entry on Kafka", "extract: -> article on Kafka", "classify: -> tagged on Kafka",
        "alert: -> archived", "alert: -> queued", "mail: -> sent")

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


def fresh_database(folder: Path, sqlite: bool) -> tuple[str, object]:
    if sqlite:
        return f"sqlite:///{folder / 'soak.db'}", None
    name = f"wirewatch_soak_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    return PG_ADMIN.rsplit("/", 1)[0] + "/" + name, (admin, name)


def drop_database(handle: object) -> None:
    if handle is None:
        return
    admin, name = handle  # type: ignore[misc]
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def epoch(value: datetime | None) -> float | None:
    """A database time in epoch seconds (SQLite gives naive UTC times, PostgreSQL aware ones)."""
    if value is None:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()


def topic_times(bootstrap: str, topic: str) -> dict[str, float]:
    """When each key first reached ``topic`` (the record timestamp its producer set), in epoch seconds."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                             consumer_timeout_ms=3000)  # no group: read every partition from its start
    times: dict[str, float] = {}
    try:
        consumer.assign([TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())])
        consumer.seek_to_beginning()
        for record in consumer:
            if record.key is not None:
                key = record.key.decode("utf-8", "replace")
                times[key] = min(times.get(key, float("inf")), record.timestamp / 1000)
    finally:
        consumer.close()
    return times


def where_time_goes(store: AppState, bootstrap: str) -> None:
    """Each hop of every alert sent, p50 / p95 / p99 in seconds (see the module doc)."""
    with store.engine.connect() as conn:
        rows = conn.execute(select(alerts.c.article_id, alerts.c.first_seen_at, alerts.c.created_at,
                                   alerts.c.sent_at, archive.c.archived_at)
                            .join(archive, archive.c.article_id == alerts.c.article_id)
                            .where(alerts.c.status == "sent")).all()
    on_topic = [topic_times(bootstrap, t) for t in (ENTRIES, ARTICLES, TAGGED)]
    hops: list[list[float]] = [[] for _ in HOPS]
    for article_id, seen, queued, sent, archived in rows:
        marks = [epoch(seen), *(t.get(article_id) for t in on_topic), epoch(archived), epoch(queued), epoch(sent)]
        for i in range(len(HOPS)):
            a, b = marks[i], marks[i + 1]
            if a is not None and b is not None:
                hops[i].append(b - a)
    print(f"where the time goes, first sighting -> alert, {len(rows)} alerts (s; p50 / p95 / p99):")
    for name, values in zip(HOPS, hops, strict=True):
        print(f"  {name:<34} {percentile(values, 0.5):6.2f} / {percentile(values, 0.95):6.2f} / "
              f"{percentile(values, 0.99):6.2f}  ({len(values)} timed)")


def soak(minutes: float, rate: float, copies: int, every: float, sqlite: bool) -> None:
    folder = Path(tempfile.mkdtemp(prefix=f"soak{copies}-"))
    url, handle = fresh_database(folder, sqlite)
    total = int(rate * minutes * 60)
    broker = EmbeddedBroker(port=free_port(), log_path=folder / "broker.log")
    broker.start()
    smtp = SmtpSink().start()
    wire = Newswire(feeds=20, articles=total, rate=rate)
    sections = {**QUICK, "extract": {**QUICK["extract"], "workers": 1}}  # one process per extract worker
    config = write_config(folder / "wirewatch.toml", wire.feed_urls,
                          [{"email": "desk@example.org", "topics": {"ceasefire_talks": 0.6}}], sections)
    env = {"KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap, "WIREWATCH_CONFIG": str(config),
           "WIREWATCH_DATA_DIR": str(folder / "data"), "WIREWATCH_DATABASE_URL": url,
           "WIREWATCH_SMTP_HOST": "127.0.0.1", "WIREWATCH_SMTP_PORT": str(smtp.port)}
    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("KAFKA_", "WIREWATCH_"))}
    subprocess.run([sys.executable, "-m", "wirewatch.app.cli", "train"], env={**base_env, **env}, check=True,
                   capture_output=True, timeout=600)
    # one poller whatever the copies: it is not partitioned (two would poll the same feeds)
    consuming = [name for name in registry.NAMES if not registry.is_source(name)]
    cluster = LocalCluster(folder / "workers", env, {name: copies for name in consuming})
    store = AppState.open(url)
    print(f"\n== {copies} worker(s) per consuming stage and one poller, {rate:g} articles/s for {minutes:g} min "
          f"({total} articles, 20 feeds of 50 items); "
          f"database {'SQLite' if sqlite else 'PostgreSQL'}; folder {folder}")
    print(f"{'t(s)':>6} {'published':>9} {'archived':>8} {'art/s':>6} {'lag extract/classify/alert (rec; s)':>38} "
          f"{'CPU%':>5} {'RSS MB':>7}")
    wire.start()
    cluster.start()
    started = time.monotonic()
    rss_series: dict[str, list[tuple[float, int]]] = {}
    cpu_last: dict[str, float] = {}
    last_t, last_archived, last_cpu = 0.0, 0, 0.0
    try:
        while True:
            time.sleep(every)
            t = time.monotonic() - started
            archived = store.alerts.archive_count()
            usage = cluster.usage()
            cpu = sum(c for c, _ in usage.values())
            for name, (c, rss) in usage.items():
                rss_series.setdefault(name, []).append((t, rss))
                cpu_last[name] = c
            lag = {}
            for w in collect(store)["workers"]:
                if w["alive"] and not registry.is_source(w["stage"]):
                    rec, sec = lag.get(w["stage"], (0, 0.0))
                    lag[w["stage"]] = (rec + (w.get("lag_records") or 0), max(sec, w.get("lag_seconds") or 0.0))
            lag_text = " / ".join(f"{lag.get(s, (0, 0))[0]};{lag.get(s, (0, 0.0))[1]:.0f}"
                                  for s in registry.NAMES if not registry.is_source(s))
            print(f"{t:6.0f} {wire.published:9d} {archived:8d} {(archived - last_archived) / (t - last_t):6.1f} "
                  f"{lag_text:>38} {100 * (cpu - last_cpu) / (t - last_t):5.0f} "
                  f"{sum(r for _, r in usage.values()) / 2**20:7.0f}", flush=True)
            last_t, last_archived, last_cpu = t, archived, cpu
            if wire.published >= total and archived >= total:
                break
            if t > minutes * 60 * 2 + 120:
                print("stopping: the pipeline did not catch up within twice the run")
                break
        elapsed = time.monotonic() - started
        with store.engine.connect() as conn:
            rows = conn.execute(select(alerts.c.published_at, alerts.c.first_seen_at, alerts.c.sent_at)
                                .where(alerts.c.status == "sent")).all()

        def aware(v: datetime) -> datetime:
            return v if v.tzinfo else v.replace(tzinfo=UTC)

        from_pub = [(aware(r[2]) - aware(r[0])).total_seconds() for r in rows if r[0] and r[2]]
        from_seen = [(aware(r[2]) - aware(r[1])).total_seconds() for r in rows if r[1] and r[2]]
        print(f"throughput: {archived / elapsed:.2f} articles/s archived over {elapsed:.0f} s, "
              f"beside the offered {rate:g}/s (ratio {archived / elapsed / rate:.2f}; the last articles "
              "arrive at the end, so a pipeline that keeps up stays just under 1.0)")
        for label, values in (("publication", from_pub), ("first sighting", from_seen)):
            print(f"latency from {label} to alert, {len(values)} alerts: p50 {percentile(values, 0.5):.1f} s, "
                  f"p95 {percentile(values, 0.95):.1f} s, p99 {percentile(values, 0.99):.1f} s")
        where_time_goes(store, broker.bootstrap)
        print("memory per worker (MB): after the first quarter -> at the end (ratio):")
        for name, series in sorted(rss_series.items()):
            quarter = next((r for t, r in series if t >= elapsed / 4), series[0][1])
            end = series[-1][1]
            print(f"  {name:<12} {quarter / 2**20:7.1f} -> {end / 2**20:7.1f} ({end / quarter:.2f})")
        print("CPU per worker over the run (% of one core): "
              + ", ".join(f"{n} {100 * c / elapsed:.0f}" for n, c in sorted(cpu_last.items())))
        print(f"workers that died on their own: {[w.name for w in cluster.dead()] or 'none'}")
    finally:
        codes = cluster.stop(timeout=60)
        print(f"exit codes after SIGTERM: {codes}")
        store.close()
        wire.stop()
        smtp.stop()
        broker.stop()
        drop_database(handle)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=4.0, help="articles per second on the newswire")
    parser.add_argument("--copies", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--every", type=float, default=30.0, help="seconds between samples")
    parser.add_argument("--sqlite", action="store_true", help="SQLite instead of the local PostgreSQL")
    args = parser.parse_args()
    for copies in args.copies:
        soak(args.minutes, args.rate, copies, args.every, args.sqlite)


if __name__ == "__main__":
    main()
