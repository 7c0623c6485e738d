"""Assembly: builds each stage from the settings and runs it as a worker, alone or all together.

In: :class:`Settings`. Out: running workers. This is the one place that knows every stage (the
stages themselves never import each other); it resolves the embedded defaults — the bundled broker
when no bootstrap servers are set, SQLite under the data directory, the ``.eml`` outbox — and,
when the broker is the embedded memory-only one, re-publishes entries that were accepted but never
archived, so that a crash of the whole process loses nothing it had accepted. The database is opened
when a stage that keeps state in it (poll, alert) starts; extract and classify start without it, and
their heartbeats reach it when it answers.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from wirewatch.alerts.alert_store import AlertStore
from wirewatch.app.state import AppState, adopt_config
from wirewatch.broker import EmbeddedBroker
from wirewatch.config import ConfigError, Settings
from wirewatch.database import UNAVAILABLE, Database, StorageError
from wirewatch.heartbeats import Heartbeat, Heartbeats, WorkerCounters, WorkerId, WorkerState
from wirewatch.kafka import ARTICLES, ENTRIES, TAGGED, KafkaWiring, Output, Progress, StageRunner, delivered
from wirewatch.schema import Article, Entry, TaggedArticle, decode

if TYPE_CHECKING:  # the stages are imported when a command builds them, so that a command loads only its own
    from wirewatch.alerts.alerter import Alerter
    from wirewatch.process.classifier import TopicClassifier

log = logging.getLogger(__name__)

CONSUMING_STAGES = ("extract", "classify", "alert")
STAGE_INPUT = {"extract": ENTRIES, "classify": ARTICLES, "alert": TAGGED}
STAGE_OUTPUT = {"poll": ENTRIES, "extract": ARTICLES, "classify": TAGGED, "alert": ""}
NEEDS_DATABASE = frozenset({"poll", "alert"})  # extract and classify keep nothing in it
STAGE_EVENTS = {"poll": ("feeds_", "entries_", "poll_"), "extract": ("extract_",), "classify": ("classify_",),
                "alert": ("alerts_", "articles_linked", "alert_")}


class PipelineError(RuntimeError):
    """The pipeline cannot start as configured; the message says what to change."""


def build_classifier(settings: Settings) -> TopicClassifier:
    from wirewatch.process.classifier import RuleSource, TopicClassifier
    from wirewatch.process.model import ModelError, load_or_train, training_examples
    from wirewatch.process.rules import RuleError, bundled_rules_dir

    folder = settings.classify.rules_dir or bundled_rules_dir()
    try:
        rules = RuleSource(folder)
    except (RuleError, OSError) as exc:
        problems = exc.problems if isinstance(exc, RuleError) else [str(exc)]
        more = f" (and {len(problems) - 1} more: `wirewatch rules check {folder}`)" if len(problems) > 1 else ""
        raise PipelineError(f"rules: {problems[0]}{more}") from None
    try:
        model = load_or_train(settings.model_file, training_examples(settings.classify.training_data),
                              named=bool(settings.classify.model_path))
    except ModelError as exc:
        raise PipelineError(str(exc)) from None
    return TopicClassifier(rules, model, settings.classify.fire_score, settings.classify.model_alone_probability)


def build_alerter(settings: Settings, store: AlertStore, progress: Progress | None = None,
                  worker: WorkerId | None = None) -> Alerter:
    from wirewatch.alerts.alerter import Alerter
    from wirewatch.alerts.compose import Composer
    from wirewatch.alerts.mailer import RetryPolicy, make_mailer

    smtp = settings.smtp
    mailer = make_mailer(smtp, settings.outbox_path)
    from wirewatch.links import LinkSigner

    composer = Composer(smtp.sender, LinkSigner.from_settings(settings))
    return Alerter(settings.alert, store, composer, mailer, progress=progress, worker=worker,
                   retry=RetryPolicy(smtp.retry_first_seconds, smtp.retry_max_seconds),
                   claim_timeout=smtp.claim_timeout_seconds)


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
        self.wiring = KafkaWiring(self.settings.kafka, bootstrap)
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

    def replay_unfinished(self) -> int:
        """Re-publish accepted entries that never reached the archive (embedded broker only)."""
        if self.embedded is None:
            return 0
        pending = self.state.entries.unfinished()
        if not pending:
            return 0
        producer = self.wiring.producer()
        try:
            outputs = [Output(ENTRIES, e.article_id, e) for e in (decode(raw, Entry) for raw in pending)]
            delivered(producer, self.wiring.publish(producer, outputs))
        finally:
            producer.close()
        self.progress.add("produced", ENTRIES, len(pending))
        log.info("re-published %d accepted entries that were not yet archived", len(pending))
        return len(pending)

    def runner(self, stage: str) -> StageRunner[Any]:
        handle: Callable[[Any], list[Output]]
        on_idle, batch = None, None
        if stage == "extract":
            from wirewatch.http import AddressPolicy, make_client
            from wirewatch.process.extractor import Extractor

            http = self.settings.http
            client = make_client(self.settings.extract.timeout_seconds, http.agent, http.max_redirects,
                                 AddressPolicy.from_strings(http.allow_networks))
            self._stack.callback(client.close)
            extractor = Extractor(self.settings.extract, http, client)
            self._stack.callback(extractor.close)
            handle, kind, batch = extractor.handle, Entry, extractor.handle_batch
        elif stage == "classify":
            classifier = build_classifier(self.settings)
            self._on_reload.append(classifier.rules.reload_now)
            # between records too: a rule edit is loaded (or its error reported) when the file changes
            handle, kind, batch, on_idle = classifier.handle, Article, classifier.handle_batch, classifier.rules.current
        elif stage == "alert":
            alerter = build_alerter(self.settings, self.state.alerts, self.progress, WorkerId.here("alert"))
            self._on_reload.append(alerter.request_refresh)
            handle, kind, on_idle = alerter.handle, TaggedArticle, alerter.idle
        else:
            raise PipelineError(f"unknown stage {stage!r}; expected one of {', '.join(CONSUMING_STAGES)}")
        return StageRunner(stage, self.wiring, STAGE_INPUT[stage], kind, handle, self.progress, on_idle=on_idle,
                           handle_batch=batch, transient=UNAVAILABLE)

    def poll(self, stop: threading.Event, once: bool) -> None:
        from wirewatch.ingest.poller import run_poller

        run_poller(self.settings.poll, self.settings.http, self.wiring, self.state.ingest, stop, self.progress,
                   once=once)

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
        for stage in stages:
            source = "feeds" if stage == "poll" else STAGE_INPUT[stage]
            counters = WorkerCounters(
                consumed=snap["consumed"].get(source, 0),
                produced=snap["produced"].get(STAGE_OUTPUT[stage], 0) if STAGE_OUTPUT[stage] else
                snap["events"].get("alerts_sent", 0),
                deadlettered=snap["deadlettered"].get(stage, 0), busy_seconds=snap["busy_seconds"].get(stage, 0.0),
                events={k: v for k, v in snap["events"].items() if k.startswith(STAGE_EVENTS[stage])})
            beats.append(Heartbeat(WorkerId.here(stage), self._started, state if alive(stage) else "failed",
                                   snap["lag_records"].get(stage), snap["lag_seconds"].get(stage), counters))
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
        return all(consumed.get(t, 0) >= produced.get(t, 0) for t in (ENTRIES, ARTICLES, TAGGED))

    def run(self, stages: tuple[str, ...], stop: threading.Event, poll_once: bool = False,
            until_idle: bool = False, idle_grace: float = 1.5, timeout: float | None = None) -> None:
        """Run the given stages in threads until ``stop`` (or, with ``until_idle``, until all is done)."""
        threads: list[threading.Thread] = []
        errors: list[BaseException] = []
        poll_done = threading.Event()

        def guard(name: str, target: Callable[[], None]) -> None:
            try:
                target()
            except BaseException as exc:  # a dead worker stops the run instead of hanging it
                errors.append(exc)
                log.exception("%s worker failed", name)
                stop.set()

        for stage in stages:
            if stage == "poll":
                def poll_target() -> None:
                    self.poll(stop, poll_once)
                    poll_done.set()
                threads.append(threading.Thread(target=guard, args=("poll", poll_target), name="poll", daemon=True))
            else:
                runner = self.runner(stage)
                threads.append(threading.Thread(target=guard, args=(stage, lambda r=runner: r.run(stop)),
                                                name=stage, daemon=True))
        if NEEDS_DATABASE.intersection(stages):  # opened before any thread starts: an error is one line
            self.state  # noqa: B018
        self.replay_unfinished()
        for t in threads:
            t.start()
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
                if until_idle and ("poll" not in stages or poll_done.is_set()) and self.idle():
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
