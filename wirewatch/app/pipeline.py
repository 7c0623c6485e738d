"""Assembly: builds the registry's stages from the settings and runs them as workers, alone or all together.

In: :class:`Settings`. Out: running workers. It knows the stages only through
:mod:`wirewatch.app.registry` (the stages themselves never import each other); it resolves the
embedded defaults — the bundled broker when no bootstrap servers are set, SQLite under the data
directory, the ``.eml`` outbox — and, when the broker is the embedded memory-only one, has each
source publish again what it accepted and was never finished (the poller's entries not archived),
so that a crash of the whole process loses nothing it had accepted. The database is opened when a
stage that keeps state in it (its declaration's ``keeps_state``: poll, alert) starts; extract and
classify start without it, and their heartbeats reach it when it answers.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime

from wirewatch.app import registry
from wirewatch.app.state import AppState, adopt_config
from wirewatch.broker import EmbeddedBroker
from wirewatch.config import ConfigError, Settings
from wirewatch.database import UNAVAILABLE, Database, StorageError
from wirewatch.heartbeats import Heartbeat, Heartbeats, WorkerCounters, WorkerId, WorkerState
from wirewatch.kafka import BrokerUnavailable, Delivery, KafkaWiring
from wirewatch.progress import Progress
from wirewatch.runner import worker_for
from wirewatch.stage import SourceStage, StageContext, StageError, Worker

log = logging.getLogger(__name__)

# what a stage's build raises when the configuration or a service it names is wrong: ended with one line
BUILD_ERRORS: tuple[type[BaseException], ...] = (StageError, StorageError, BrokerUnavailable, ConfigError,
                                                 *UNAVAILABLE)


class PipelineError(StageError):
    """The pipeline cannot start as configured; the message says what to change."""


@dataclass
class Pipeline:
    """The resolved environment of a run: broker address, wiring, database and progress counters."""

    settings: Settings
    progress: Progress = field(default_factory=Progress)
    allow_embedded: bool = True
    load_config: Callable[[], Settings] | None = None  # how SIGHUP reads the configuration again
    reload_requested: threading.Event = field(default_factory=threading.Event)  # set by the SIGHUP handler
    heartbeat_seconds: float = 10.0
    drain_seconds: float = 30.0  # on SIGTERM: how long the workers may take to finish their batch
    wiring: KafkaWiring = field(init=False)
    embedded: EmbeddedBroker | None = field(init=False, default=None)
    _stack: ExitStack = field(init=False, default_factory=ExitStack)
    _on_reload: list[Callable[[], None]] = field(init=False, default_factory=list)
    _started: datetime = field(init=False, default_factory=lambda: datetime.now(UTC))
    _db: Database | None = field(init=False, default=None)
    _state: AppState | None = field(init=False, default=None)
    _heartbeats: Heartbeats | None = field(init=False, default=None)

    def __enter__(self) -> Pipeline:
        try:
            return self._start()
        except BaseException:  # nothing started may outlive a failed start (the bundled broker above all)
            self._stack.close()
            raise

    def _start(self) -> Pipeline:
        self.settings.data_path.mkdir(parents=True, exist_ok=True)
        bootstrap = self.settings.kafka.bootstrap_servers
        if not bootstrap:
            if not self.allow_embedded:
                raise PipelineError("no Kafka bootstrap servers configured: set KAFKA_BOOTSTRAP_SERVERS (or "
                                    "[kafka] bootstrap_servers); `wirewatch broker` starts a local one, and "
                                    "`wirewatch run` runs every stage with an embedded broker")
            self.embedded = self._stack.enter_context(
                EmbeddedBroker(log_path=self.settings.data_path / "broker.log"))
            bootstrap = self.embedded.bootstrap
        # the embedded broker is this process's own: no other member of its consumer groups can exist, so
        # the consumers are assigned their partitions instead of joining (seconds per join on this broker)
        self.wiring = KafkaWiring(self.settings.kafka, bootstrap, sole_member=self.embedded is not None)
        self.wiring.ensure_topics()
        return self

    def database(self) -> Database:
        """The shared database, opened (and migrated) at first use; :class:`StorageError` if it cannot be."""
        if self._db is None:
            self._db = Database(self.settings.database_url, auto_migrate=self.settings.database.auto_migrate)
            self._stack.callback(self._db.close)
        return self._db

    @property
    def state(self) -> AppState:
        """What the stages keep in the database; opening it adopts the configuration's feeds, watches
        and subscribers."""
        if self._state is None:
            self._state = AppState(self.database())
            adopt_config(self.settings, self._state)
        return self._state

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def context(self, once: bool = False) -> StageContext:
        return StageContext(self.settings, self.wiring, lambda: self.state.db, self.progress, once)

    def replay_unfinished(self) -> int:
        """After the embedded memory-only broker started empty: each source publishes again what it
        accepted and was not finished (the poller's entries not yet archived)."""
        if self.embedded is None:
            return 0
        published = 0
        for stage in registry.stages():
            if isinstance(stage, SourceStage) and stage.after_broker_loss is not None:
                delivery = Delivery(self.wiring, stage.name)
                try:
                    published += stage.after_broker_loss(self.context(), delivery)
                finally:
                    delivery.close()
        return published

    def runner(self, stage: str, once: bool = False) -> Worker:
        """The worker of the registry's stage of that name; its clients are closed with the pipeline."""
        worker = worker_for(registry.stage(stage), self.context(once))
        self._on_reload.append(worker.reload)
        self._stack.callback(worker.close)
        return worker

    def reload(self) -> bool:
        """Read the configuration file again (SIGHUP): its feeds, watches and subscribers, and the rules.

        A file with errors is reported and the running configuration kept. Other settings (broker,
        database, SMTP, intervals) take effect when the worker restarts.
        """
        settings = None
        if self.load_config is not None:
            try:
                settings = self.load_config()
            except (ConfigError, OSError) as exc:
                log.error("reload: %s; keeping the running configuration", exc)
                return False
        try:
            if settings is not None and self._state is not None:  # extract and classify keep none of it
                adopt_config(settings, self._state, prune=True)
            for hook in self._on_reload:
                hook()
        except UNAVAILABLE as exc:
            log.error("reload: the database is unreachable (%s); try again", str(exc).splitlines()[0])
            return False
        except Exception:  # a seed file gone, say: reported, and the workers go on as they were
            log.exception("reload failed; the running configuration is kept")
            return False
        if settings is None:
            log.info("reload: rules, watches and subscribers checked (no configuration file to read again)")
        else:
            log.info("reload: %d feeds, %d watches, %d subscribers from the configuration; rules checked",
                     len(settings.feeds), len(settings.watches), len(settings.subscribers))
        return True

    def heartbeat(self, stages: tuple[str, ...], state: WorkerState, alive: Callable[[str], bool]) -> None:
        """One row per stage of this process in ``workers``, with its lag and counters (``wirewatch status``)."""
        snap = self.progress.snapshot()
        beats = []
        for name in stages:
            stage = registry.stage(name)
            counters = WorkerCounters(
                consumed=snap["consumed"].get(stage.reads, 0),
                produced=snap["produced"].get(stage.outputs[0], 0) if stage.outputs else
                snap["events"].get(stage.product, 0),
                deadlettered=snap["deadlettered"].get(name, 0), busy_seconds=snap["busy_seconds"].get(name, 0.0),
                events={k: v for k, v in snap["events"].items() if k.startswith(stage.events)})
            beats.append(Heartbeat(WorkerId.here(name), self._started, state if alive(name) else "failed",
                                   snap["lag_records"].get(name), snap["lag_seconds"].get(name), counters))
        try:
            if self._heartbeats is None:
                self._heartbeats = Heartbeats(self.database())
            self._heartbeats.record(beats)
        except StorageError as exc:  # a stage without the database runs on; its heartbeat waits for it
            log.warning("heartbeat not recorded: %s", exc)
        except UNAVAILABLE as exc:
            log.warning("heartbeat not recorded: the database is unreachable (%s)", str(exc).splitlines()[0][:200])

    def idle(self) -> bool:
        """True when every stage has consumed everything the previous one produced."""
        snap = self.progress.snapshot()
        produced, consumed = snap["produced"], snap["consumed"]
        topics = {t for s in registry.stages() for t in s.outputs}
        return all(consumed.get(t, 0) >= produced.get(t, 0) for t in topics)

    def run(self, stages: tuple[str, ...], stop: threading.Event, poll_once: bool = False,
            until_idle: bool = False, idle_grace: float = 1.5, timeout: float | None = None) -> None:
        """Run the given stages in threads until ``stop`` (or, with ``until_idle``, until all is done).

        Each stage is built in its own thread, all at once; the workers start when every build is done, so
        that a stage that cannot start (rules with errors, say) ends the run before anything ran."""
        threads: list[threading.Thread] = []
        errors: list[BaseException] = []
        sources_done: list[threading.Event] = []

        built = threading.Semaphore(0)  # released once per stage built
        all_built = threading.Event()  # every stage is built, or one failed to be: the workers may start

        def guard(name: str, done: threading.Event) -> None:
            try:  # each stage is built in its own thread: scikit-learn's import and the model's load overlap the rest
                worker = self.runner(name, once=poll_once)
            except BUILD_ERRORS as exc:  # a configuration to fix: the run ends with its one line
                errors.append(exc)
                stop.set()
                all_built.set()
                return
            except BaseException as exc:
                errors.append(exc)
                log.exception("%s worker could not be built", name)
                stop.set()
                all_built.set()
                return
            built.release()
            all_built.wait()  # a stage that cannot start stops the run before any worker consumed or published
            if stop.is_set():
                return
            try:
                worker.run(stop)
                done.set()
            except BaseException as exc:  # a dead worker stops the run instead of hanging it
                errors.append(exc)
                log.exception("%s worker failed", name)
                stop.set()

        for name in stages:
            registry.stage(name)  # an unknown name fails here, before anything starts
            done = threading.Event()
            if isinstance(registry.stage(name), SourceStage):
                sources_done.append(done)
            threads.append(threading.Thread(target=guard, args=(name, done), name=name, daemon=True))
        if any(registry.stage(name).keeps_state for name in stages):  # opened before any thread starts:
            self.state  # noqa: B018  # an error is one line, and the configuration's rows are in
        self.replay_unfinished()
        for t in threads:
            t.start()
        for _ in threads:  # every build done (or one failed): then the workers start together
            while not all_built.is_set() and not stop.is_set() and not built.acquire(timeout=0.2):
                pass
        all_built.set()
        # what start-up made (modules, models, tables) lives as long as the process: frozen, the collector's full
        # passes no longer walk it while the workers run (freed by reference counts, it still is; only cyclic
        # garbage made before this point stays)
        gc.freeze()
        health = None
        if self.settings.observability.port:
            from wirewatch.app.observability import HealthServer

            health = HealthServer(self.settings.observability.port, self.progress,
                                  ready=lambda: all(t.is_alive() for t in threads),
                                  alert_counts=self._state.alerts.alert_counts if self._state else None,
                                  host=self.settings.observability.host).start()
            log.info("health and metrics on http://%s:%d/metrics", self.settings.observability.host, health.port)
        started = time.monotonic()
        idle_since: float | None = None
        by_stage = dict(zip(stages, threads, strict=True))
        beat = 0.0
        try:
            while not stop.is_set() and any(t.is_alive() for t in threads):
                time.sleep(0.2)
                if self.reload_requested.is_set():
                    self.reload_requested.clear()
                    self.reload()
                if time.monotonic() - beat >= self.heartbeat_seconds:
                    beat = time.monotonic()
                    self.heartbeat(stages, "running", lambda st: by_stage[st].is_alive())
                if timeout and time.monotonic() - started > timeout:
                    log.error("run did not become idle within %.0fs; stopping", timeout)
                    stop.set()
                if until_idle and all(d.is_set() for d in sources_done) and self.idle():
                    idle_since = idle_since or time.monotonic()
                    if time.monotonic() - idle_since >= idle_grace:
                        stop.set()
                else:
                    idle_since = None
        finally:
            stop.set()
            self.heartbeat(stages, "stopping", lambda st: True)
            # each worker finishes its batch, flushes and commits; one stuck longer (a broker gone, say) is
            # left behind: the process exits, and its uncommitted records are delivered again
            drain_until = time.monotonic() + self.drain_seconds
            for t in threads:
                t.join(timeout=max(0.1, drain_until - time.monotonic()))
            stuck = [t.name for t in threads if t.is_alive()]
            if stuck:
                log.warning("stopping without waiting any longer for %s (their records will come again)",
                            ", ".join(stuck))
            self.heartbeat(stages, "stopped", lambda st: not by_stage[st].is_alive())
            if health is not None:
                health.stop()
        if errors:
            raise errors[0]
