"""Worker heartbeats and lag: who is alive, and how far behind, for every worker and stage to read.

In: each worker's :class:`Heartbeat` every few seconds (its id, state, records behind, counters).
Out: rows of ``workers``, and the typed reads that cross stages — the running workers of a stage
(:meth:`Heartbeats.running`), the stages reporting records waiting (:meth:`Heartbeats.lagging`,
for the poller's redrive) and :func:`heard_from`, a SQL condition true while a worker is heard from
(the alert outbox joins its claims to it, ``alerts.claimed_by`` holding the claiming worker's id).

A worker is named by :class:`WorkerId` (host, process id, stage), written ``host:pid:stage``. The
rows of workers not heard from for :data:`RETENTION` are deleted by the live workers as they beat,
at most once per :data:`PRUNE_EVERY`, so the table holds what is running and what ran lately.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal, cast

from sqlalchemy import ColumnElement, Exists, RowMapping, delete, insert, select, update

from wirewatch.database import Database, OnDatabase, aware, utcnow
from wirewatch.tables import workers

WorkerState = Literal["running", "stopping", "stopped", "failed"]
RETENTION = timedelta(days=7)  # a worker not heard from for a week is forgotten
PRUNE_EVERY = timedelta(hours=1)


@dataclass(frozen=True, order=True)
class WorkerId:
    """One stage of one worker process."""

    host: str
    pid: int
    stage: str

    def __str__(self) -> str:
        return f"{self.host}:{self.pid}:{self.stage}"

    @classmethod
    def parse(cls, text: str) -> WorkerId | None:
        """The id written by ``str()``; None for anything else."""
        host, _, rest = text.rpartition(":")
        host, _, pid = host.rpartition(":")
        if not host or not pid.isdigit() or not rest:
            return None
        return cls(host, int(pid), rest)

    @classmethod
    def here(cls, stage: str) -> WorkerId:
        """This process's worker of ``stage``."""
        return cls(socket.gethostname(), os.getpid(), stage)


@dataclass(frozen=True)
class WorkerCounters:
    """What a worker counted since it started (shown by ``wirewatch status``)."""

    consumed: int = 0
    produced: int = 0
    deadlettered: int = 0
    busy_seconds: float = 0.0
    events: Mapping[str, int] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps({"consumed": self.consumed, "produced": self.produced, "deadlettered": self.deadlettered,
                           "busy_seconds": self.busy_seconds, "events": dict(self.events)})

    @classmethod
    def from_json(cls, text: str) -> WorkerCounters:
        data = json.loads(text or "{}")
        return cls(int(data.get("consumed", 0)), int(data.get("produced", 0)), int(data.get("deadlettered", 0)),
                   float(data.get("busy_seconds", 0.0)), {str(k): int(v) for k, v in data.get("events", {}).items()})


@dataclass(frozen=True)
class Heartbeat:
    """A worker's report: alive in ``state``, ``lag_records`` behind its input (None: not known)."""

    worker: WorkerId
    started_at: datetime
    state: WorkerState
    lag_records: int | None = None
    lag_seconds: float | None = None
    counters: WorkerCounters = field(default_factory=WorkerCounters)
    heartbeat_at: datetime | None = None  # when it was recorded (set on the rows read back)

    @classmethod
    def from_row(cls, row: RowMapping) -> Heartbeat:
        started, heard = aware(row["started_at"]), aware(row["heartbeat_at"])
        assert started is not None and heard is not None  # both NOT NULL
        return cls(WorkerId(row["host"], int(row["pid"]), row["stage"]), started, cast(WorkerState, row["state"]),
                   row["lag_records"], row["lag_seconds"], WorkerCounters.from_json(row["stats_json"]), heard)


@dataclass(frozen=True)
class StageLag:
    """A running worker that reports records waiting in its input topic."""

    worker: WorkerId
    records: int


class Heartbeats(OnDatabase):
    """The ``workers`` table: written by each worker for itself, read by the others."""

    def __init__(self, db: Database, retention: timedelta = RETENTION, prune_every: timedelta = PRUNE_EVERY) -> None:
        super().__init__(db)
        self.retention = retention
        self.prune_every = prune_every
        self._pruned: datetime | None = None

    def record(self, beats: Sequence[Heartbeat], now: datetime | None = None) -> None:
        """Record that these workers are alive, in one transaction; now and then forget the rows of
        workers not heard from for :attr:`retention`."""
        now = now or utcnow()
        with self.engine.begin() as conn:
            for beat in beats:
                values = {"heartbeat_at": now, "state": beat.state, "lag_records": beat.lag_records,
                          "lag_seconds": beat.lag_seconds, "stats_json": beat.counters.to_json()}
                done = conn.execute(update(workers).where(workers.c.id == str(beat.worker)).values(**values))
                if done.rowcount == 0:
                    conn.execute(insert(workers).values(id=str(beat.worker), stage=beat.worker.stage,
                                                        host=beat.worker.host, pid=beat.worker.pid,
                                                        started_at=beat.started_at, **values))
        if self._pruned is None or now - self._pruned >= self.prune_every:
            self._pruned = now
            self.prune(now - self.retention)

    def prune(self, before: datetime) -> int:
        """Forget the workers not heard from since ``before``; returns how many."""
        with self.engine.begin() as conn:
            return int(conn.execute(delete(workers).where(workers.c.heartbeat_at < before)).rowcount)

    def running(self, stage: str, since: datetime) -> list[WorkerId]:
        """The workers of ``stage`` running and heard from since ``since``."""
        query = (select(workers.c.host, workers.c.pid).where(
            (workers.c.stage == stage) & (workers.c.state == "running") & (workers.c.heartbeat_at >= since))
            .order_by(workers.c.id))
        with self.engine.connect() as conn:
            return [WorkerId(host, int(pid), stage) for host, pid in conn.execute(query)]

    def lagging(self, stages: Iterable[str], since: datetime) -> list[StageLag]:
        """Running workers of these stages, heard from since ``since``, that report records waiting."""
        query = (select(workers.c.host, workers.c.pid, workers.c.stage, workers.c.lag_records).where(
            workers.c.stage.in_(list(stages)) & (workers.c.state == "running") & (workers.c.heartbeat_at >= since)
            & (workers.c.lag_records > 0)).order_by(workers.c.stage, workers.c.id))
        with self.engine.connect() as conn:
            rows = list(conn.execute(query))
        return [StageLag(WorkerId(host, int(pid), stage), int(lag)) for host, pid, stage, lag in rows]


def heard_from(worker_id: ColumnElement[str], since: datetime) -> Exists:
    """True while the worker whose id ``worker_id`` holds is running and was heard from since ``since``."""
    return select(workers.c.id).where((workers.c.id == worker_id) & (workers.c.heartbeat_at >= since)
                                      & (workers.c.state == "running")).exists()
