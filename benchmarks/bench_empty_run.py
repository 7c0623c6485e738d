"""Benchmark: an empty ``wirewatch run --once`` of two checkouts, alternated, CPU by process.

In: two ``wirewatch`` commands (``--before PATH``, and this checkout's unless ``--after PATH``). Out: for each, a data
folder where a first, untimed run saved its model (no feed configured), then ``--pairs`` timed runs, before and
after alternated so that the machine's load meets both alike: the wall time and the CPU seconds of each process
(sampled from /proc: the ``wirewatch`` process, the fork server, the extraction workers, the broker), their medians,
and the ratios of the medians after ÷ before. Run:

    .venv/bin/python benchmarks/bench_empty_run.py --before /tmp/base/.venv/bin/wirewatch [--pairs 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_pipeline import TreeCpu


def empty_run(command: str, data: Path) -> tuple[float, dict[str, float]]:
    start = time.perf_counter()
    proc = subprocess.Popen([command, "--data-dir", str(data), "run", "--once"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    tree = TreeCpu(proc.pid)
    _, stderr = proc.communicate(timeout=300)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"{command} run --once failed ({proc.returncode}):\n{stderr[-2000:]}")
    return seconds, {role.split(" (")[0]: cpu for role, cpu in tree.stop().items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", required=True, help="the wirewatch command of the checkout to compare with")
    parser.add_argument("--after", default=str(Path(sys.executable).with_name("wirewatch")))
    parser.add_argument("--pairs", type=int, default=5)
    args = parser.parse_args()
    commands = {"before": args.before, "after": args.after}
    runs: dict[str, list[tuple[float, dict[str, float]]]] = {name: [] for name in commands}
    with tempfile.TemporaryDirectory() as tmp:
        for name, command in commands.items():
            empty_run(command, Path(tmp) / name)  # trains and saves its model: the timed runs load it
        for pair in range(args.pairs):
            for name, command in commands.items():
                seconds, cpu = empty_run(command, Path(tmp) / name)
                runs[name].append((seconds, cpu))
                shown = ", ".join(f"{role} {v:.2f}" for role, v in sorted(cpu.items()))
                print(f"pair {pair + 1} {name:6s} {seconds:6.2f} s wall; CPU: {shown} s; "
                      f"load {os.getloadavg()[0]:.1f}", flush=True)
    medians: dict[str, dict[str, float]] = {}
    for name, done in runs.items():
        roles = sorted({role for _, cpu in done for role in cpu})
        medians[name] = {"wall": statistics.median(s for s, _ in done),
                         **{role: statistics.median(cpu.get(role, 0.0) for _, cpu in done) for role in roles},
                         "CPU, all processes": statistics.median(sum(cpu.values()) for _, cpu in done)}
    print(f"medians of {args.pairs}:                 before     after   after/before")
    for key in dict.fromkeys([*medians["before"], *medians["after"]]):
        old, new = medians["before"].get(key, 0.0), medians["after"].get(key, 0.0)
        ratio = f"{new / old:6.2f}" if old else "     -"
        print(f"  {key:34s} {old:7.2f} s {new:7.2f} s   {ratio}")


if __name__ == "__main__":
    main()
