"""What this process's stages did: counters, consumer lag and alert latency, shared by every worker thread.

In: counts and observations from the runners and the stages. Out: :meth:`Progress.snapshot`, which the
demo, ``run``, the heartbeat and ``/metrics`` read; and :data:`CURRENT_ARTICLE`, the record key of the
article a stage is processing, for log lines.
"""

from __future__ import annotations

import contextvars
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import TypedDict

LATENCY_BUCKETS = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0, 21600.0, 86400.0,
                   float("inf"))

#: the id (record key) of the article a stage is processing, for log lines (see observability.ArticleContext)
CURRENT_ARTICLE: contextvars.ContextVar[str] = contextvars.ContextVar("wirewatch_article", default="")


class Snapshot(TypedDict):
    """:meth:`Progress.snapshot`: plain dicts, as ``run`` prints them and heartbeats store them."""

    consumed: dict[str, int]  # topic (or what a source reads) -> records
    produced: dict[str, int]  # topic -> records
    deadlettered: dict[str, int]  # stage -> records
    busy_seconds: dict[str, float]  # stage -> seconds spent handling records
    events: dict[str, int]  # event name -> count
    lag_records: dict[str, int]  # stage -> records behind, over its partitions
    lag_seconds: dict[str, float]  # stage -> age of the newest record it took
    latency: dict[str, list[float]]  # since -> bucket counts, then sum


@dataclass
class Progress:
    """What this process's stages did, thread-safe: counts per topic and stage, named events (feeds
    polled, alerts sent, ...), consumer lag, and alert latency histograms. The demo, ``run``, the
    heartbeat and ``/metrics`` read it."""

    consumed: Counter[str] = field(default_factory=Counter)
    produced: Counter[str] = field(default_factory=Counter)
    deadlettered: Counter[str] = field(default_factory=Counter)
    busy_seconds: Counter[str] = field(default_factory=Counter)
    events: Counter[str] = field(default_factory=Counter)
    lag_records: dict[str, dict[int, int]] = field(default_factory=dict)  # stage -> partition -> records behind
    lag_seconds: dict[str, float] = field(default_factory=dict)  # stage -> age of the newest record it took
    latency: dict[str, list[float]] = field(default_factory=dict)  # since -> bucket counts, then sum
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, counter: str, key: str, n: float = 1) -> None:
        with self._lock:
            getattr(self, counter)[key] += n

    def event(self, name: str, n: int = 1) -> None:
        self.add("events", name, n)

    def set_lag(self, stage: str, partitions: dict[int, int], seconds: float | None) -> None:
        """The stage's lag now: ``partitions`` holds every partition it is assigned (others are not its own)."""
        with self._lock:
            self.lag_records[stage] = dict(partitions)
            if seconds is not None:
                self.lag_seconds[stage] = seconds

    def observe_latency(self, since: str, seconds: float) -> None:
        """One alert's delay from the article's publication (``since="publication"``) or first sighting."""
        with self._lock:
            counts = self.latency.setdefault(since, [0.0] * (len(LATENCY_BUCKETS) + 1))
            for i, bound in enumerate(LATENCY_BUCKETS):
                if seconds <= bound:
                    counts[i] += 1
            counts[-1] += max(0.0, seconds)

    def snapshot(self) -> Snapshot:
        with self._lock:
            return {"consumed": {k: int(v) for k, v in self.consumed.items()},
                    "produced": {k: int(v) for k, v in self.produced.items()},
                    "deadlettered": {k: int(v) for k, v in self.deadlettered.items()},
                    "busy_seconds": {k: round(v, 2) for k, v in self.busy_seconds.items()},
                    "events": {k: int(v) for k, v in self.events.items()},
                    "lag_records": {s: sum(p.values()) for s, p in self.lag_records.items()},
                    "lag_seconds": {s: round(v, 1) for s, v in self.lag_seconds.items()},
                    "latency": {k: list(v) for k, v in self.latency.items()}}
