"""A local cluster: every stage as separate worker processes on this machine, as ops would run them.

In: a working folder, the environment the workers share (broker address, database URL, SMTP
server, configuration file) and how many copies of each stage to run. Out: running
``wirewatch <stage>`` processes that can be killed (SIGKILL, as a crash), restarted and stopped,
each logging to its own file, and their CPU and memory as the operating system reports them.

Used by the crash tests and the soak benchmark; it is also the quickest way to watch consumer groups
spread partitions over several workers without a container engine. :class:`RunProcess` is the
all-in-one ``wirewatch run`` (embedded broker) in a process group of its own, for the chaos tests
that kill the whole group at once.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from wirewatch.app import registry

STAGES = registry.NAMES

#: settings for a cluster on one machine that must react in seconds, not minutes (tests, benchmarks)
QUICK = {
    "kafka": {"partitions": 4, "redrive_after_seconds": 30, "max_redrives": 20, "metadata_max_age_ms": 5000},
    "http": {"allow_networks": ["127.0.0.0/8"]},
    "poll": {"interval_seconds": 2, "min_interval_seconds": 1, "max_interval_seconds": 3, "timeout_seconds": 5,
             "deadline_seconds": 10},
    "extract": {"timeout_seconds": 5, "deadline_seconds": 10},
    "smtp": {"security": "none", "timeout_seconds": 5, "retry_first_seconds": 1, "retry_max_seconds": 4,
             "claim_timeout_seconds": 10},
}


def write_config(path: Path, feeds: list[str], subscribers: list[dict[str, object]],
                 sections: Mapping[str, Mapping[str, object]] = QUICK,
                 watches: list[dict[str, object]] | None = None) -> Path:
    """A TOML configuration file for the workers of a local cluster."""
    def value(v: object) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, str):
            return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        if isinstance(v, dict):
            return "{ " + ", ".join(f"{k} = {value(x)}" for k, x in v.items()) + " }"
        return str(v)

    lines = []
    for section, keys in sections.items():
        lines.append(f"[{section}]")
        lines += [f"{k} = {value(v)}" for k, v in keys.items()]
    for url in feeds:
        lines += ["[[feeds]]", f"url = {value(url)}"]
    for watch in watches or []:
        lines.append("[[watches]]")
        lines += [f"{k} = {value(v)}" for k, v in watch.items()]
    for sub in subscribers:
        lines.append("[[subscribers]]")
        lines += [f"{k} = {value(v)}" for k, v in sub.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@dataclass
class WorkerProcess:
    stage: str
    index: int
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0
    kills: int = 0

    @property
    def name(self) -> str:
        return f"{self.stage}-{self.index}"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


@dataclass
class LocalCluster:
    """``with LocalCluster(folder, env, copies={"extract": 2}) as cluster: cluster.kill(...)``."""

    folder: Path
    env: Mapping[str, str]
    copies: Mapping[str, int] = field(default_factory=dict)
    workers: list[WorkerProcess] = field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        for stage in STAGES:
            for i in range(self.copies.get(stage, 1)):
                self.workers.append(WorkerProcess(stage, i, self.folder / f"{stage}-{i}.log"))

    def _environment(self) -> dict[str, str]:
        base = {k: v for k, v in os.environ.items() if not k.startswith(("KAFKA_", "WIREWATCH_"))}
        base.update(self.env)
        return base

    def start(self, worker: WorkerProcess | None = None) -> None:
        """Start one worker, or every worker that is not running."""
        for w in [worker] if worker else self.workers:
            if w.running:
                continue
            log = open(w.log_path, "ab")  # noqa: SIM115 - the child keeps it
            try:
                w.proc = subprocess.Popen([sys.executable, "-m", "wirewatch.app.cli", w.stage], env=self._environment(),
                                          stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            finally:
                log.close()
            w.starts += 1

    def kill(self, worker: WorkerProcess, sig: int = signal.SIGKILL) -> None:
        """Kill a worker (SIGKILL: no draining, no commit, no goodbye) and reap it."""
        if worker.proc is not None and worker.proc.poll() is None:
            worker.proc.send_signal(sig)
            worker.proc.wait(timeout=60)
            worker.kills += sig == signal.SIGKILL

    def stop(self, timeout: float = 60.0) -> dict[str, int | None]:
        """SIGTERM every worker, wait for them to drain; returns each one's exit code (SIGKILL after ``timeout``)."""
        for w in self.workers:
            if w.running:
                w.proc.send_signal(signal.SIGTERM)  # type: ignore[union-attr]
        deadline = time.monotonic() + timeout
        codes: dict[str, int | None] = {}
        for w in self.workers:
            if w.proc is None:
                continue
            try:
                codes[w.name] = w.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                w.proc.kill()
                w.proc.wait(timeout=10)
                codes[w.name] = None
        return codes

    def dead(self) -> list[WorkerProcess]:
        """Workers that exited on their own (not killed by us): each is a failure to look into."""
        return [w for w in self.workers if w.proc is not None and w.proc.poll() is not None]

    def usage(self) -> dict[str, tuple[float, int]]:
        """Per worker, with its child processes (an extraction pool): CPU seconds used so far and resident
        memory in bytes, from /proc."""
        out = {}
        for w in self.workers:
            if not w.running:
                continue
            cpu, rss = 0.0, 0
            for pid in _family(w.proc.pid):  # type: ignore[union-attr]
                c, r = _proc_usage(pid)
                cpu, rss = cpu + c, rss + r
            out[w.name] = (cpu, rss)
        return out

    def log_tail(self, worker: WorkerProcess, lines: int = 20) -> str:
        try:
            return "\n".join(worker.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def __enter__(self) -> LocalCluster:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _family(pid: int) -> list[int]:
    """A process and its descendants (Linux /proc)."""
    found, queue = [], [pid]
    while queue:
        p = queue.pop()
        found.append(p)
        try:
            for task in Path(f"/proc/{p}/task").iterdir():
                queue += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def _proc_usage(pid: int) -> tuple[float, int]:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        rss_pages = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return 0.0, 0
    return (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK"), rss_pages * os.sysconf("SC_PAGE_SIZE")


@dataclass
class RunProcess:
    """``wirewatch run`` in its own process group: its embedded broker and extraction pool die with it
    when :meth:`kill_group` sends SIGKILL to the whole group (a machine losing power, an OOM kill)."""

    log_path: Path
    env: Mapping[str, str]
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0
    kills: int = 0
    survivors: int = 0  # processes of a killed group found alive after it (there should be none)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self) -> None:
        base = {k: v for k, v in os.environ.items() if not k.startswith(("KAFKA_", "WIREWATCH_"))}
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child keeps it
        try:
            self.proc = subprocess.Popen([sys.executable, "-m", "wirewatch.app.cli", "run"], env={**base, **self.env},
                                         stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         start_new_session=True)
        finally:
            log.close()
        self.starts += 1

    def kill_group(self) -> None:
        """SIGKILL to every process of the group, then count what is still alive a moment later."""
        if self.proc is None:
            return
        group = self.proc.pid
        with contextlib.suppress(ProcessLookupError):  # gone already
            os.killpg(group, signal.SIGKILL)
        self.proc.wait(timeout=60)
        self.kills += 1
        time.sleep(0.2)
        self.survivors += len(_in_group(group))

    def stop(self, timeout: float = 60.0) -> int | None:
        """SIGTERM (drain and exit), SIGKILL to the group after ``timeout``; returns the exit code."""
        if not self.running:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)  # type: ignore[union-attr]
        try:
            return self.proc.wait(timeout=timeout)  # type: ignore[union-attr]
        except subprocess.TimeoutExpired:
            self.kill_group()
            return None


def _in_group(group: int) -> list[int]:
    """Live processes whose process group is ``group`` (Linux /proc; zombies not counted)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[0] != "Z" and int(fields[2]) == group:
            found.append(int(entry.name))
    return found
