"""Crash tests: the pipeline as separate worker processes over the real broker, SMTP server and database,
with workers killed, the broker restarted, the SMTP server and PostgreSQL stopped while articles flow.

After recovery, each test checks the same end state:

- every article the newswire published is in the archive exactly once, linked to its story, and
  every accepted entry reached the archive (none lost, none abandoned);
- every alert that was due (the subscriber's topic fired on the article) is in the outbox once, was
  sent, and reached the SMTP server once. The one exception is an alert whose worker died during the
  SMTP conversation itself: the server may or may not have taken it, so it is sent again with the same
  Message-ID (receivers drop such copies). Those alerts are known — the outbox counts each handover —
  and a second copy is accepted only for them.

The broker is the bundled one, which keeps everything in memory: restarting it loses every topic
and committed offset, harder than a restart of a real Kafka cluster, which keeps both.
"""

from __future__ import annotations

import random
import shutil
import signal
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from wirewatch.alerts.outbox import alert_ref

from wirewatch.app.state import AppState
from wirewatch.app.status import heard_since
from wirewatch.broker import EmbeddedBroker, free_port
from wirewatch.devtools.cluster import QUICK, LocalCluster, write_config
from wirewatch.devtools.newswire import Newswire
from wirewatch.devtools.smtpsink import SmtpSink
from wirewatch.schema import TaggedArticle, decode
from wirewatch.tables import alerts, archive, story_members

pytestmark = [pytest.mark.integration, pytest.mark.timeout(1200)]

SUBSCRIBER = "desk@example.org"
MIN_SCORE = 0.6
ANALYST = "analyst@example.org"  # follows the newswire's running story: its follow-ups are mailed too
THREAD_EVERY = 20  # one article in twenty is the next installment of that story, a day after the last


@dataclass
class Rig:
    folder: Path
    broker: EmbeddedBroker | None  # None: the embedded broker of `wirewatch run`
    smtp: SmtpSink
    wire: Newswire
    database_url: str
    cluster: LocalCluster

    def store(self) -> AppState:
        return AppState.open(self.database_url)


def rig_config(folder: Path, wire: Newswire, smtp: dict[str, object] | None = None) -> Path:
    """The rigs' configuration: the newswire's feeds, the desk's topic, the analyst's watched story."""
    watch = {"id": "doha", "name": "Doha energy talks", "seed_url": wire.site.url("/a/0.html")}  # installment 0
    sections = {**QUICK, "alert": {"storm_window_minutes": 0},  # every follow-up mailed at once
                "smtp": {**QUICK["smtp"], **(smtp or {})}}
    return write_config(folder / "wirewatch.toml", wire.feed_urls,
                        [{"email": SUBSCRIBER, "topics": {"ceasefire_talks": MIN_SCORE}, "mode": "immediate"},
                         {"email": ANALYST, "watches": ["doha"], "mode": "immediate"}],
                        sections, watches=[watch])


def newswire(articles: int, rate: float, feeds: int = 20) -> Newswire:
    # feeds long enough that no item scrolls off while a poller is down: what is tested is the pipeline
    return Newswire(feeds=feeds, articles=articles, rate=rate, window=400, thread_every=THREAD_EVERY)


def start_rig(folder: Path, database_url: str, articles: int, rate: float, feeds: int = 20,
              copies: dict[str, int] | None = None, smtp_settings: dict[str, object] | None = None) -> Rig:
    broker = EmbeddedBroker(port=free_port(), log_path=folder / "broker.log")
    broker.start()
    smtp = SmtpSink().start()
    wire = newswire(articles, rate, feeds)
    config = rig_config(folder, wire, smtp_settings)
    wire.start()
    env = {"KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap, "WIREWATCH_CONFIG": str(config),
           "WIREWATCH_DATA_DIR": str(folder / "data"), "WIREWATCH_DATABASE_URL": database_url,
           "WIREWATCH_SMTP_HOST": "127.0.0.1", "WIREWATCH_SMTP_PORT": str(smtp.port)}
    # the model is trained once, before the workers start, not by each classify worker at once
    subprocess.run([*_cli(), "train"], env={**_base_env(), **env}, check=True, capture_output=True, timeout=300)
    cluster = LocalCluster(folder / "workers", env, copies or {})
    cluster.start()
    return Rig(folder, broker, smtp, wire, database_url, cluster)


def stop_rig(rig: Rig) -> None:
    rig.cluster.stop(timeout=60)
    rig.wire.stop()
    rig.smtp.stop()
    if rig.broker is not None:
        rig.broker.stop()


def _cli() -> list[str]:
    import sys

    return [sys.executable, "-m", "wirewatch.app.cli"]


def _base_env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith(("KAFKA_", "WIREWATCH_"))}


def expected_alerts(store: AppState) -> set[str]:
    """The idempotency keys of the alerts that were due: the desk's from each archived article's own tags,
    the analyst's from each article linked to the watched story as a follow-up."""
    keys = set()
    with store.engine.connect() as conn:
        for article_id, tagged_json in conn.execute(select(archive.c.article_id, archive.c.tagged_json)):
            tagged = decode(tagged_json, TaggedArticle)
            if any(t.topic == "ceasefire_talks" and t.score >= MIN_SCORE for t in tagged.fired()):
                keys.add(f"{SUBSCRIBER}|{article_id}|topic")
        for (article_id,) in conn.execute(select(story_members.c.article_id).where(
                (story_members.c.watch_id == "doha") & (story_members.c.relation == "follow_up"))):
            keys.add(f"{ANALYST}|{article_id}|followup:doha")
    return keys


def settled(rig: Rig) -> bool:
    """Everything published is archived and linked, and the outbox has nothing left to send."""
    store = rig.store()
    try:
        if rig.wire.published < rig.wire.total or store.alerts.archive_count() < rig.wire.total:
            return False
        counts = store.alerts.alert_counts()
        return counts.get("pending", 0) == 0 and counts.get("sending", 0) == 0 and \
            counts.get("sent", 0) >= len(expected_alerts(store)) and \
            len(received_refs(rig)) >= counts.get("sent", 0)
    except Exception:  # the database may be the thing that is down
        return False
    finally:
        store.close()


def received_refs(rig: Rig) -> Counter[str]:
    refs: Counter[str] = Counter()
    for message in rig.smtp.received():
        refs.update(str(message.get("X-Wirewatch-Refs", "")).split())
    return refs


def wait_settled(rig: Rig, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if settled(rig):
            return
        time.sleep(2)
    store = rig.store()
    detail = (f"published {rig.wire.published}/{rig.wire.total}, archived {store.alerts.archive_count()}, "
              f"entries {store.entries.counts()}, outbox {store.alerts.alert_counts()}, "
              f"received {len(rig.smtp.received())}")
    logs = "\n".join(f"--- {w.name}\n{rig.cluster.log_tail(w, 15)}" for w in rig.cluster.workers)
    pytest.fail(f"not settled within {timeout:.0f}s: {detail}\n{logs}")


def check_end_state(rig: Rig) -> dict[str, int]:
    """The invariants of the module docstring; returns figures for the report."""
    store = rig.store()
    try:
        with store.engine.connect() as conn:
            urls = [r[0] for r in conn.execute(select(archive.c.url))]
            unlinked = conn.execute(select(archive.c.article_id).where(~archive.c.linked)).all()
            outbox = {r.idem_key: r for r in conn.execute(select(alerts.c.idem_key, alerts.c.status,
                                                                 alerts.c.interrupted))}
        published = {rig.wire.url(a) for a in rig.wire.articles}
        assert len(urls) == len(set(urls)) == rig.wire.total, "each article archived exactly once"
        assert set(urls) == published
        assert unlinked == [], f"{len(unlinked)} archived articles were never linked"
        assert store.entries.counts() == {"archived": rig.wire.total}, store.entries.counts()
        due = expected_alerts(store)
        assert set(outbox) == due, (f"{len(due - set(outbox))} due alerts missing from the outbox, "
                                    f"{len(set(outbox) - due)} not due")
        assert {r.status for r in outbox.values()} == {"sent"}
        refs = received_refs(rig)
        in_doubt = {alert_ref(k) for k, r in outbox.items() if r.interrupted > 0}
        for key in due:
            ref = alert_ref(key)
            assert refs[ref] >= 1, f"alert {key} was never received"
            assert refs[ref] == 1 or ref in in_doubt, f"alert {key} received {refs[ref]} times"
        assert set(refs) <= {alert_ref(k) for k in due}, "an email for an alert that was not due"
        follow_ups = sum(1 for k in due if k.startswith(ANALYST))
        installments = sum(1 for a in rig.wire.articles if a.installment)
        assert follow_ups >= installments // 2, f"only {follow_ups} of {installments} installments were follow-ups"
        return {"articles": len(urls), "alerts": len(due), "follow_ups": follow_ups,
                "emails": len(rig.smtp.received()),
                "in_doubt": len(in_doubt), "duplicates": sum(n - 1 for n in refs.values())}
    finally:
        store.close()


@pytest.fixture()
def rig_factory(tmp_path: Path) -> Iterator[Callable[..., Rig]]:
    """Rigs started by the test, stopped after it (request the database fixture first: it must outlive them)."""
    rigs: list[Rig] = []

    def make(database_url: str, **kw: object) -> Rig:
        rig = start_rig(tmp_path, database_url, **kw)  # type: ignore[arg-type]
        rigs.append(rig)
        return rig

    yield make
    for rig in rigs:
        stop_rig(rig)


def test_kill_9_random_workers_while_2000_articles_flow(pg_url: str, rig_factory: Callable[..., Rig]) -> None:
    rig = rig_factory(pg_url, articles=2000, rate=25.0)
    rng = random.Random(2026)
    kills = 0
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and not settled(rig) and kills < 40:
        time.sleep(rng.uniform(3.0, 8.0))
        victim = rng.choice(rig.cluster.workers)
        rig.cluster.kill(victim, signal.SIGKILL)
        kills += 1
        time.sleep(rng.uniform(0.2, 2.0))
        rig.cluster.start(victim)
        assert rig.cluster.dead() == [], [rig.cluster.log_tail(w) for w in rig.cluster.dead()]
    wait_settled(rig, 600)
    figures = check_end_state(rig)
    assert kills >= 10, "too few kills to say anything"
    print(f"\nkill -9: {kills} kills ({Counter(w.stage for w in rig.cluster.workers for _ in range(w.kills))}); "
          f"{figures}")


def test_broker_restarted_mid_stream_loses_its_memory_and_nothing_else(pg_url: str,
                                                                       rig_factory: Callable[..., Rig]) -> None:
    rig = rig_factory(pg_url, articles=600, rate=20.0)
    time.sleep(12)  # mid-stream: some articles through, some on their way
    assert rig.broker is not None
    rig.broker.stop()
    time.sleep(5)
    rig.broker.start()  # same port, empty: every topic and committed offset is gone
    wait_settled(rig, 600)
    figures = check_end_state(rig)
    assert rig.cluster.dead() == []
    print(f"\nbroker restart: {figures}")


def test_smtp_server_down_for_a_while(pg_url: str, rig_factory: Callable[..., Rig]) -> None:
    rig = rig_factory(pg_url, articles=600, rate=20.0)
    time.sleep(10)
    rig.smtp.stop()
    time.sleep(20)
    store = rig.store()
    waiting = store.alerts.alert_counts().get("pending", 0)
    store.close()
    rig.smtp.start()
    wait_settled(rig, 600)
    figures = check_end_state(rig)
    assert waiting > 0, "the outage should have held some alerts back"
    print(f"\nSMTP outage: {waiting} alerts waited; {figures}")


@pytest.fixture()
def private_pg() -> Iterator[tuple[str, Callable[[], None], Callable[[], None]]]:
    """A PostgreSQL server of this test's own (initdb in tmp), so that it can be stopped without stopping
    the machine's; skips, saying why, where the server binaries or the postgres user are missing."""
    import glob
    import os
    import pwd

    bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if not bins or os.geteuid() != 0:
        pytest.skip("a private PostgreSQL needs /usr/lib/postgresql/*/bin and root (to run it as user postgres)")
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        pytest.skip("no postgres user to run a private PostgreSQL server as")
    bindir = Path(bins[-1]).parent
    home = Path(tempfile.mkdtemp(prefix="wirewatch-pg-"))  # pytest's own tmp is not open to user postgres
    shutil.chown(home, "postgres")
    port = free_port()

    def as_postgres(*args: str) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", *args], check=True, capture_output=True, timeout=120)

    as_postgres(str(bindir / "initdb"), "-D", str(home / "data"), "-A", "trust", "-U", "postgres")

    def start() -> None:
        as_postgres(str(bindir / "pg_ctl"), "-D", str(home / "data"), "-l", str(home / "log"), "-w", "-o",
                    f"-p {port} -k {home} -c listen_addresses=127.0.0.1", "start")

    def stop() -> None:  # immediate: no clean shutdown, as a crash
        as_postgres(str(bindir / "pg_ctl"), "-D", str(home / "data"), "-m", "immediate", "-w", "stop")

    start()
    as_postgres(str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "wirewatch")
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/wirewatch", start, stop
    finally:
        subprocess.run(["runuser", "-u", "postgres", "--", str(bindir / "pg_ctl"), "-D", str(home / "data"), "-m",
                        "immediate", "stop"], capture_output=True, timeout=60)
        shutil.rmtree(home, ignore_errors=True)


def wait_all_stages_running(rig: Rig, timeout: float = 180.0) -> None:
    """Until every stage has a worker whose heartbeat says running (a loaded machine starts them slowly)."""
    deadline = time.monotonic() + timeout
    up: set[str] = set()
    while time.monotonic() < deadline:
        store = rig.store()
        try:
            up = {b.worker.stage for b in heard_since(store.db, datetime.now(UTC) - timedelta(minutes=1))
                  if b.state == "running"}
        finally:
            store.close()
        if up >= {"poll", "extract", "classify", "alert"}:
            return
        time.sleep(1.0)
    pytest.fail(f"not every stage running within {timeout:.0f}s: only {sorted(up)}")


def test_postgresql_down_for_a_while(private_pg: tuple[str, Callable[[], None], Callable[[], None]],
                                     rig_factory: Callable[..., Rig]) -> None:
    url, start_pg, stop_pg = private_pg
    rig = rig_factory(url, articles=600, rate=20.0)
    wait_all_stages_running(rig)  # the outage comes while they work, not before they have started
    time.sleep(5)
    stop_pg()
    time.sleep(20)
    start_pg()
    wait_settled(rig, 600)
    figures = check_end_state(rig)
    assert rig.cluster.dead() == [], [rig.cluster.log_tail(w) for w in rig.cluster.dead()]
    print(f"\nPostgreSQL outage: {figures}")
