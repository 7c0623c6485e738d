"""CPU seconds of a process tree by role, sampled from /proc (Linux) while the tree runs.

In: the root process's pid. Out: :meth:`TreeCpu.stop`, CPU seconds summed by role (the root process, the
broker, the fork server, the extraction workers…), as ``bench_pipeline.py`` reports them.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path


class TreeCpu:
    """CPU seconds of a process and all its descendants by role, sampled from /proc (Linux) while it runs."""

    TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

    def __init__(self, root: int) -> None:
        self.root = root
        self.seen: dict[int, tuple[str, float]] = {}  # pid -> (role, CPU seconds when last seen)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(0.2):
            self.sample()

    def sample(self) -> None:
        parents: dict[int, int] = {}
        cpu: dict[int, float] = {}
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            pid = int(stat.parent.name)
            parents[pid] = int(fields[1])
            cpu[pid] = (int(fields[11]) + int(fields[12])) / self.TICK
        for pid in cpu:
            depth, up = 0, pid
            while up in parents and up != self.root:
                up, depth = parents[up], depth + 1
            if up == self.root:
                self.seen[pid] = (self._role(pid, depth), cpu[pid])

    def _role(self, pid: int, depth: int) -> str:
        if pid in self.seen:
            return self.seen[pid][0]
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            cmd = ""
        if depth == 0:
            return "wirewatch process (poll, fetch, classify, alert, Kafka clients)"
        if "tansu" in cmd:
            return "broker (tansu)"
        if "resource_tracker" in cmd:
            return "multiprocessing resource tracker"
        if "forkserver" in cmd and depth == 1:
            return "forkserver"
        return "extraction workers" if depth >= 2 or "multiprocessing" in cmd else f"other: {cmd[:40]}"

    def stop(self) -> dict[str, float]:
        self.sample()
        self._stop.set()
        self._thread.join()
        roles: dict[str, float] = {}
        for role, seconds in self.seen.values():
            roles[role] = roles.get(role, 0.0) + seconds
        return roles
