"""Chaos: ``kill -9`` at random moments while 2,000 articles flow, then one final run (issue 11).

1. The whole process group of the all-in-one ``wirewatch run`` (embedded broker, SQLite, every
   stage in one process) is killed ``WIREWATCH_CHAOS_KILLS`` times (20 by default) at random
   moments, and restarted each time. The embedded broker keeps nothing: every kill loses every
   topic and offset, so what was in flight must come back from the database (accepted entries are
   published again, archived-but-unlinked articles completed from the archive). The claim timeout
   is left at 300 s: a claim of a killed run is released at once, or the run would not settle.
2. Random workers (one to three at once) of a multi-process cluster with two extract and two alert
   workers on a shared broker and PostgreSQL are killed and restarted.

After the final run, the end state of tests/test_crash.py holds: every article archived once and
linked, every due alert in the outbox once and received once (a second copy, same Message-ID, only
for an alert whose sender was killed during the SMTP conversation). Each test prints its figures.
``benchmarks/chaos.py`` runs the first with 100 kills.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.test_crash import (
    Rig,
    _base_env,
    _cli,
    check_end_state,
    newswire,
    rig_config,
    settled,
    start_rig,
    stop_rig,
    wait_settled,
)
from wirewatch.devtools.cluster import STAGES, LocalCluster, RunProcess
from wirewatch.devtools.smtpsink import SmtpSink

KILLS = int(os.environ.get("WIREWATCH_CHAOS_KILLS", "20"))
ARTICLES = int(os.environ.get("WIREWATCH_CHAOS_ARTICLES", "2000"))

pytestmark = [pytest.mark.integration, pytest.mark.timeout(1200 + 15 * KILLS)]


@pytest.fixture()
def run_rig(tmp_path: Path) -> Iterator[tuple[Rig, RunProcess]]:
    smtp = SmtpSink().start()
    wire = newswire(ARTICLES, rate=8.0)  # about four minutes of flow: the kills fall while articles flow
    config = rig_config(tmp_path, wire, {"claim_timeout_seconds": 300})
    env = {"WIREWATCH_CONFIG": str(config), "WIREWATCH_DATA_DIR": str(tmp_path / "data"),
           "WIREWATCH_SMTP_HOST": "127.0.0.1", "WIREWATCH_SMTP_PORT": str(smtp.port)}
    subprocess.run([*_cli(), "train"], env={**_base_env(), **env}, check=True, capture_output=True, timeout=300)
    rig = Rig(tmp_path, None, smtp, wire, f"sqlite:///{tmp_path / 'data' / 'wirewatch.db'}",
              LocalCluster(tmp_path / "workers", env, {stage: 0 for stage in STAGES}))  # no separate workers
    run = RunProcess(tmp_path / "run.log", env)
    wire.start()
    run.start()
    try:
        yield rig, run
    finally:
        run.stop(timeout=30)
        stop_rig(rig)


def archived(rig: Rig) -> int:
    store = rig.store()
    try:
        return store.alerts.archive_count()
    finally:
        store.close()


def log_tail(path: Path, lines: int = 30) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def test_kill_9_the_whole_run_process_group_at_random_moments(run_rig: tuple[Rig, RunProcess]) -> None:
    rig, run = run_rig
    rng = random.Random(11)
    started = time.monotonic()
    archived_at_kill = []
    while run.kills < KILLS:
        before, up = archived(rig), time.monotonic()
        if rng.random() < 0.75:  # mostly while articles flow: once this run has archived one, a moment later
            while archived(rig) == before < rig.wire.total and time.monotonic() - up < 60:
                time.sleep(0.3)
            time.sleep(rng.uniform(0.0, 4.0))
        else:  # or during start-up
            time.sleep(rng.uniform(0.5, 6.0))
        assert run.running, f"`wirewatch run` exited on its own:\n{log_tail(run.log_path)}"
        run.kill_group()
        archived_at_kill.append(archived(rig))
        run.start()
    last_kill = time.monotonic()
    wait_settled(rig, 600)
    settle = time.monotonic() - last_kill
    figures = check_end_state(rig)
    assert run.survivors == 0, f"{run.survivors} processes of killed groups outlived them (the broker?)"
    mid_flow = sum(1 for a, b in zip([0, *archived_at_kill], archived_at_kill, strict=False) if b > a)
    print(f"\nkill -9 of the whole `run` group: {run.kills} kills ({mid_flow} while articles were being archived) "
          f"over {last_kill - started:.0f} s while "
          f"{rig.wire.total} articles were published (archived at each kill: {archived_at_kill}); settled "
          f"{settle:.0f} s after the last kill; {figures}; processes left behind by killed groups: "
          f"{run.survivors}")
    assert mid_flow >= KILLS // 2, "too few kills fell while articles flowed to say anything"


@pytest.fixture()
def cluster_rig(pg_url: str, tmp_path: Path) -> Iterator[Rig]:
    rig = start_rig(tmp_path, pg_url, articles=ARTICLES, rate=25.0, copies={"extract": 2, "alert": 2},
                    smtp_settings={"claim_timeout_seconds": 300})
    try:
        yield rig
    finally:
        stop_rig(rig)


def test_kill_9_random_workers_of_a_cluster_one_to_three_at_once(cluster_rig: Rig) -> None:
    rig = cluster_rig
    rng = random.Random(12)
    kills = 0
    started = time.monotonic()
    while kills < KILLS and not settled(rig):
        time.sleep(rng.uniform(2.0, 6.0))
        victims = rng.sample(rig.cluster.workers, rng.randint(1, 3))
        for victim in victims:
            rig.cluster.kill(victim, signal.SIGKILL)
        kills += len(victims)
        time.sleep(rng.uniform(0.2, 2.0))
        for victim in victims:
            rig.cluster.start(victim)
        assert rig.cluster.dead() == [], [rig.cluster.log_tail(w) for w in rig.cluster.dead()]
    last_kill = time.monotonic()
    wait_settled(rig, 600)
    figures = check_end_state(rig)
    by_stage = Counter(w.stage for w in rig.cluster.workers for _ in range(w.kills))
    print(f"\nkill -9 of random cluster workers: {kills} kills ({dict(by_stage)}) over {last_kill - started:.0f} s; "
          f"settled {time.monotonic() - last_kill:.0f} s after the last kill; {figures}")
    assert kills >= min(KILLS, 10), "too few kills to say anything"
