"""Chaos benchmark: many ``kill -9`` of the whole ``wirewatch run`` process group while articles flow.

The longer version of ``tests/test_chaos.py`` (which kills 20 times in the suite): it runs that
test with ``--kills`` kills (100 by default) over ``--articles`` articles, and first, as the
baseline in the same run, the same flow with no kill at all. Each run prints its figures: kills,
articles archived and linked, alerts due and received, copies (same Message-ID) of alerts whose
sender was killed mid-conversation, processes left behind by killed groups, and the time to
settle after the last kill. ``--cluster`` also runs the cluster variant (random workers killed).

    .venv/bin/python benchmarks/chaos.py --kills 100
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(test: str, kills: int, articles: int) -> tuple[int, str, float]:
    env = {**os.environ, "WIREWATCH_CHAOS_KILLS": str(kills), "WIREWATCH_CHAOS_ARTICLES": str(articles)}
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:warnings", "-p", "no:cacheprovider",
                           "-o", "timeout=7200", f"tests/test_chaos.py::{test}"], cwd=ROOT, env=env,
                          capture_output=True, text=True)
    figures = [line for line in done.stdout.splitlines() if line.startswith("kill -9")]
    return done.returncode, figures[0] if figures else done.stdout[-3000:], time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=100)
    parser.add_argument("--articles", type=int, default=2000)
    parser.add_argument("--cluster", action="store_true", help="also kill random workers of a cluster")
    args = parser.parse_args()
    tests = ["test_kill_9_the_whole_run_process_group_at_random_moments"]
    if args.cluster:
        tests.append("test_kill_9_random_workers_of_a_cluster_one_to_three_at_once")
    for test in tests:
        for kills in (0, args.kills):  # the baseline first: the same flow, never killed
            code, figures, took = run(test, kills, args.articles)
            print(f"{test} with {kills} kills: {'PASSED' if code == 0 else 'FAILED'} in {took:.0f} s")
            print(f"  {figures}")
            sys.stdout.flush()


if __name__ == "__main__":
    main()
