"""Kafka wiring and the one loop that feeds every consuming stage.

In: records from one topic. Out: the stage's output messages on other topics, and a
:class:`~wirewatch.schema.DeadLetter` for each record the stage could not process.

A stage is a plain function ``handle(message) -> list[Output]``; :class:`StageRunner` does the rest,
once for all stages: consume in a consumer group, decode, call the stage, produce, and commit the
offsets only after the outputs are flushed (at-least-once; the stages' sinks are idempotent). A
record that is no message — a tombstone, empty, larger than ``[kafka] max_message_bytes``, not
valid JSON, not of the expected schema — or whose processing keeps failing, goes to ``deadletter``
with its own topic, partition, offset and reason, and processing goes on.
"""

from __future__ import annotations

import contextvars
import logging
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic
from kafka.errors import (
    GroupAuthorizationFailedError,
    KafkaError,
    KafkaTimeoutError,
    TopicAlreadyExistsError,
    TopicAuthorizationFailedError,
)

from wirewatch.config import KafkaSettings
from wirewatch.log_reset import LogResetWatch
from wirewatch.schema import BadMessage, DeadLetter, Message, decode, payload_of

log = logging.getLogger(__name__)

ENTRIES, ARTICLES, TAGGED, DEADLETTER = "entries", "articles", "tagged", "deadletter"
ALL_TOPICS = (ENTRIES, ARTICLES, TAGGED, DEADLETTER)

M = TypeVar("M", bound=Message)


class BrokerUnavailable(RuntimeError):
    """No broker answered at the configured address."""


@dataclass(frozen=True)
class Output:
    """One message a stage wants published: topic name (without prefix), key and message."""

    topic: str
    key: str
    message: Message


LATENCY_BUCKETS = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0, 21600.0, 86400.0,
                   float("inf"))


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

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {"consumed": dict(self.consumed), "produced": dict(self.produced),
                    "deadlettered": dict(self.deadlettered),
                    "busy_seconds": {k: round(v, 2) for k, v in self.busy_seconds.items()},
                    "events": dict(self.events),
                    "lag_records": {s: sum(p.values()) for s, p in self.lag_records.items()},
                    "lag_seconds": {s: round(v, 1) for s, v in self.lag_seconds.items()},
                    "latency": {k: list(v) for k, v in self.latency.items()}}


#: the id (record key) of the article a stage is processing, for log lines (see observability.ArticleContext)
CURRENT_ARTICLE: contextvars.ContextVar[str] = contextvars.ContextVar("wirewatch_article", default="")


class TransientFailure(RuntimeError):
    """A service the stage needs (database, broker, SMTP) is down: wait and retry; the message is fine."""


class KafkaWiring:
    """Factories for producers, consumers and topics, bound to one bootstrap address and settings."""

    def __init__(self, settings: KafkaSettings, bootstrap: str) -> None:
        self.settings = settings
        self.bootstrap = bootstrap

    def topic(self, name: str) -> str:
        return f"{self.settings.topic_prefix}{name}"

    def check_reachable(self, timeout: float = 5.0) -> None:
        """Fail fast, with one clear line, when no bootstrap server accepts a TCP connection."""
        problems = []
        for server in self.bootstrap.split(","):
            host, _, port = server.strip().rpartition(":")
            try:
                with socket.create_connection((host.strip("[]") or "localhost", int(port)), timeout=timeout):
                    return
            except (OSError, ValueError) as exc:
                problems.append(f"{server.strip()}: {exc}")
        raise BrokerUnavailable(f"no Kafka broker answers at {self.bootstrap} ({'; '.join(problems)})")

    def ensure_topics(self, names: Sequence[str] = ALL_TOPICS) -> None:
        """Create the pipeline's topics where missing (an existing topic is left as it is)."""
        self.check_reachable()
        try:
            admin = KafkaAdminClient(bootstrap_servers=self.bootstrap, client_id=f"{self.settings.client_id}-admin",
                                     request_timeout_ms=15000)
        except KafkaTimeoutError:
            raise BrokerUnavailable(f"no Kafka broker answers at {self.bootstrap}") from None
        try:
            existing = set(admin.list_topics())
            missing = [self.topic(n) for n in names if self.topic(n) not in existing]
            if missing:
                try:
                    admin.create_topics([NewTopic(t, self.settings.partitions, 1) for t in missing])
                    log.info("created topics %s", ", ".join(missing))
                except TopicAlreadyExistsError:
                    log.debug("topics created concurrently by another worker: %s", missing)
        finally:
            admin.close()

    def producer(self) -> KafkaProducer:
        try:
            return KafkaProducer(
                bootstrap_servers=self.bootstrap, client_id=self.settings.client_id, acks="all",
                # no idempotent producer: its producer-id state is what a restarted in-memory broker forgets
                # (then every send fails for good); duplicates are harmless, every sink is idempotent
                enable_idempotence=False,
                linger_ms=5, retries=5, max_in_flight_requests_per_connection=1,
                max_request_size=10_485_760, metadata_max_age_ms=self.settings.metadata_max_age_ms,
            )
        except KafkaTimeoutError:
            raise BrokerUnavailable(f"no Kafka broker answers at {self.bootstrap}") from None

    def consumer(self, group: str, topics: Sequence[str]) -> KafkaConsumer:
        try:
            return KafkaConsumer(
                *[self.topic(t) for t in topics], bootstrap_servers=self.bootstrap, group_id=group,
                client_id=f"{self.settings.client_id}-{group}", enable_auto_commit=False,
                auto_offset_reset="earliest", session_timeout_ms=self.settings.session_timeout_ms,
                heartbeat_interval_ms=self.settings.heartbeat_interval_ms,
                max_poll_records=self.settings.max_poll_records, fetch_max_bytes=20_971_520,
                max_partition_fetch_bytes=10_485_760, metadata_max_age_ms=self.settings.metadata_max_age_ms,
            )
        except KafkaTimeoutError:
            raise BrokerUnavailable(f"no Kafka broker answers at {self.bootstrap}") from None

    def publish(self, producer: KafkaProducer, outputs: Iterable[Output], stage: str = "",
                source: Any = None) -> list[Any]:
        """Send the outputs; returns their futures (see :func:`delivered`).

        A message larger than ``[kafka] max_message_bytes`` (what a real broker accepts by default) is
        not sent: a dead letter takes its place, so that one huge article never stalls a partition. It
        names the input record (``source``: the consumed record, with topic, partition, offset and
        value) that led to it, and keeps that input as its payload; a dead letter that is itself too
        large keeps its own reason and source and only its payload is cut. A broker that does not
        answer in time is a :class:`TransientFailure`.
        """
        futures = []
        for out in outputs:
            value = out.message.to_bytes()
            topic = out.topic
            if len(value) > self.settings.max_message_bytes:
                message = self._too_large(out, len(value), stage, source)
                value, topic = message.to_bytes(), DEADLETTER
            try:
                futures.append(producer.send(self.topic(topic), key=out.key.encode("utf-8"), value=value))
            except KafkaTimeoutError as exc:
                raise TransientFailure(f"the broker did not answer: {exc}") from None
        return futures

    def _too_large(self, out: Output, size: int, stage: str, source: Any) -> DeadLetter:
        limit = self.settings.max_message_bytes
        log.error("%s message %s is %d bytes, over [kafka] max_message_bytes (%d): dead-lettered",
                  out.topic, out.key, size, limit)
        if isinstance(out.message, DeadLetter):  # a record already dead: keep why, cut what it carries
            letter = out.message
            return letter.model_copy(update={"payload": letter.payload[:limit // 8]})
        payload, payload_bytes = payload_of(getattr(source, "value", None) if source is not None
                                            else out.message.to_bytes())
        return DeadLetter(stage=stage or out.topic, reason="too_large",
                          error=f"its {out.topic} message for {out.key} is {size} bytes, over [kafka] "
                                f"max_message_bytes ({limit})",
                          source_topic=getattr(source, "topic", "") or self.topic(out.topic),
                          partition=getattr(source, "partition", -1), offset=getattr(source, "offset", -1),
                          payload=payload, payload_bytes=payload_bytes)

    def read_topic(self, topic: str, expected: int | None = None, quiet: float = 5.0,
                   timeout: float = 60.0) -> list[Any]:
        """Every record of a topic from the start, read by a throw-away consumer group: until ``expected``
        records came, or none came for ``quiet`` seconds (at most ``timeout``)."""
        consumer = self.consumer(f"wirewatch-reader-{uuid.uuid4().hex[:8]}", [topic])
        records: list[Any] = []
        started = quiet_since = time.monotonic()
        try:
            while time.monotonic() - quiet_since < quiet and time.monotonic() - started < timeout:
                for batch in consumer.poll(timeout_ms=500).values():
                    records += batch
                    quiet_since = time.monotonic()
                if expected is not None and len(records) >= expected:
                    break
        finally:
            consumer.close(autocommit=False)
        return records

    def replace_producer(self, producer: KafkaProducer, who: str) -> KafkaProducer:
        """A new producer for one that keeps failing (a client can be left in a state it never leaves);
        the old one while no broker answers."""
        try:
            fresh = self.producer()
        except BrokerUnavailable:
            return producer
        log.warning("%s: replaced the Kafka producer after repeated failures", who)
        try:
            producer.close(timeout=2)
        except KafkaError as exc:
            log.debug("closing the old producer: %s", exc)
        return fresh


def delivered(producer: KafkaProducer, futures: Sequence[Any]) -> None:
    """Flush, then raise :class:`TransientFailure` unless the broker acknowledged every record."""
    try:
        producer.flush(timeout=30)
    except KafkaTimeoutError as exc:
        raise TransientFailure(f"the broker did not acknowledge {len(futures)} records in time: {exc}") from None
    failed = [f for f in futures if not f.succeeded()]
    if failed:
        why = failed[0].exception if failed[0].is_done else "not acknowledged"
        raise TransientFailure(f"{len(failed)} of {len(futures)} records were not acknowledged by the broker: {why}")


class StageRunner(Generic[M]):
    """Consume one topic in a consumer group, apply a stage function, publish, commit.

    ``handle`` gets a decoded message and returns the outputs. Exceptions it raises are retried
    ``retries`` times, then the record goes to ``deadletter``; :class:`BadMessage` is not retried.
    An exception of a ``transient`` type (the database is down, say) is not the message's fault: the
    runner pauses its partitions, waits with backoff and retries the same records for as long as it
    takes, without committing, dead-lettering or leaving the consumer group.
    """

    def __init__(self, stage: str, wiring: KafkaWiring, source: str, message_type: type[M],
                 handle: Callable[[M], list[Output]], progress: Progress | None = None,
                 retries: int = 2, retry_delay: float = 0.2,
                 on_idle: Callable[[], None] | None = None,
                 handle_batch: Callable[[list[M]], list[list[Output]]] | None = None,
                 transient: tuple[type[BaseException], ...] = (), max_outage_wait: float = 30.0) -> None:
        self.stage = stage
        self.wiring = wiring
        self.source = source
        self.message_type = message_type
        self.handle = handle
        self.progress = progress or Progress()
        self.retries = retries
        self.retry_delay = retry_delay
        self.on_idle = on_idle
        self.handle_batch = handle_batch
        self.transient: tuple[type[BaseException], ...] = (TransientFailure, *transient)
        self.max_outage_wait = max_outage_wait
        self.outage: str = ""  # what is down, while it is
        self.resets = LogResetWatch(stage, wiring.topic(source))

    def process(self, raw: bytes | None, partition: int = -1, offset: int = -1,
                key: bytes | None = None) -> list[Output]:
        """Decode and handle one record; failures become a dead letter instead of an exception
        (except a transient failure, which is raised for :meth:`run` to wait out)."""
        token = CURRENT_ARTICLE.set(key.decode("utf-8", "replace") if key else "")
        try:
            return self._process(raw, partition, offset)
        finally:
            CURRENT_ARTICLE.reset(token)

    def _process(self, raw: bytes | None, partition: int, offset: int) -> list[Output]:
        try:
            message = decode(raw, self.message_type, self.wiring.settings.max_message_bytes)
        except BadMessage as exc:
            return [self._dead(raw, exc.reason, str(exc), partition, offset)]
        attempt = 0
        while True:
            try:
                return self.handle(message)
            except self.transient:
                raise
            except Exception as exc:
                attempt += 1
                if attempt > self.retries:
                    log.exception("%s: giving up on %s[%s]@%s after %d attempts", self.stage, self.source,
                                  partition, offset, attempt)
                    return [self._dead(raw, "processing_error", f"{type(exc).__name__}: {exc}", partition, offset)]
                time.sleep(self.retry_delay * attempt)

    def process_batch(self, records: list[Any]) -> list[list[Output]]:
        """Process a consumed batch, through ``handle_batch`` when the stage has one.

        If the batch call fails as a whole, each record is processed alone, so that one bad record
        ends in ``deadletter`` and the others go on.
        """
        if self.handle_batch is None or len(records) < 2:
            return [self.process(r.value, r.partition, r.offset, r.key) for r in records]
        results: list[list[Output] | None] = [None] * len(records)
        good: list[tuple[int, M]] = []
        for i, r in enumerate(records):
            try:
                good.append((i, decode(r.value, self.message_type, self.wiring.settings.max_message_bytes)))
            except BadMessage:
                results[i] = self.process(r.value, r.partition, r.offset, r.key)
        try:
            for (i, _msg), outputs in zip(good, self.handle_batch([m for _, m in good]), strict=True):
                results[i] = outputs
        except self.transient:
            raise
        except Exception as exc:
            log.warning("%s: batch of %d failed (%s); processing its records one by one", self.stage, len(good), exc)
            for i, _msg in good:
                results[i] = self.process(records[i].value, records[i].partition, records[i].offset,
                                          records[i].key)
        return [r or [] for r in results]

    def _dead(self, raw: bytes | None, reason: str, error: str, partition: int, offset: int) -> Output:
        log.warning("%s: %s at %s[%s]@%s: %s", self.stage, reason, self.source, partition, offset, error)
        self.progress.add("deadlettered", self.stage)
        payload, size = payload_of(raw)
        letter = DeadLetter(stage=self.stage, reason=reason, error=error, source_topic=self.wiring.topic(self.source),
                            partition=partition, offset=offset, payload=payload, payload_bytes=size)
        return Output(DEADLETTER, f"{self.stage}:{partition}:{offset}", letter)

    def _complete(self, producer: KafkaProducer, records: list[Any]) -> None:
        """Process a batch and publish its outputs, acknowledged by the broker (or raise transient)."""
        futures: list[Any] = []
        produced: Counter[str] = Counter()
        for record, outputs in zip(records, self.process_batch(records), strict=True):
            futures += self.wiring.publish(producer, outputs, self.stage, source=record)
            produced.update(out.topic for out in outputs)
        delivered(producer, futures)
        for topic, n in produced.items():
            self.progress.add("produced", topic, n)

    def _wait_out(self, consumer: KafkaConsumer, exc: BaseException, attempt: int, stop: threading.Event) -> None:
        """An outage: say so once, keep the group membership (paused polls), back off."""
        what = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
        if not self.outage:
            log.error("%s: %s; holding these records and retrying until it is back", self.stage, what)
        self.outage = what
        self.progress.event(f"{self.stage}_outage_retries")
        consumer.pause(*consumer.assignment())
        deadline = time.monotonic() + min(self.max_outage_wait, 0.5 * 2 ** min(attempt, 8))
        while not stop.is_set() and time.monotonic() < deadline:
            consumer.pause(*consumer.assignment())  # again: a rebalance meanwhile brings unpaused partitions
            for tp, records in consumer.poll(timeout_ms=200).items():  # keeps the consumer in its group
                consumer.seek(tp, records[0].offset)  # not ours to take now: read them again later
        consumer.resume(*consumer.paused())

    def _lag(self, consumer: KafkaConsumer, records: list[Any]) -> None:
        last: dict[Any, int] = {}
        newest = 0
        for r in records:
            last[(r.topic, r.partition)] = r.offset
            newest = max(newest, r.timestamp or 0)
        before = self.progress.lag_records.get(self.stage, {})
        behind = {}
        for tp in consumer.assignment():
            high = consumer.highwater(tp)
            offset = last.get((tp.topic, tp.partition))
            if high is not None and offset is not None:
                behind[tp.partition] = max(0, high - offset - 1)
            elif not records:  # nothing came: caught up
                behind[tp.partition] = 0
            else:  # records came for other partitions only: this one's lag is as last seen
                behind[tp.partition] = before.get(tp.partition, 0)
        self.progress.set_lag(self.stage, behind, max(0.0, time.time() - newest / 1000) if newest else None)

    def run(self, stop: threading.Event, group: str | None = None) -> None:
        """Run until ``stop`` is set: finish the current batch, flush, commit, close."""
        group = group or f"{self.wiring.settings.topic_prefix}wirewatch-{self.stage}"
        consumer = self.wiring.consumer(group, [self.source])
        producer = self.wiring.producer()
        log.info("%s: consuming %s", self.stage, self.wiring.topic(self.source))
        try:
            while not stop.is_set():
                self.resets.check(consumer)
                try:
                    batch: dict[Any, list[Any]] = consumer.poll(timeout_ms=300)
                except KafkaError as exc:
                    if isinstance(exc, GroupAuthorizationFailedError | TopicAuthorizationFailedError):
                        raise
                    log.warning("%s: polling failed (%s); trying again", self.stage, exc)  # the broker is back soon
                    stop.wait(1.0)
                    continue
                records = [r for rs in batch.values() for r in rs]
                self._lag(consumer, records)
                if not records:
                    self._idle(consumer, stop)
                    continue
                started = time.perf_counter()
                attempt = 0
                while not stop.is_set():
                    try:
                        self._complete(producer, records)
                        break
                    except self.transient as exc:
                        attempt += 1
                        self._wait_out(consumer, exc, attempt, stop)
                        if isinstance(exc, TransientFailure):  # a client can be stuck where a new one is not
                            producer = self._fresh_producer(producer)
                else:
                    break  # stopped during an outage: nothing committed, the records come again
                if self.outage:
                    log.warning("%s: back after %d retries (%s)", self.stage, attempt, self.outage)
                    self.outage = ""
                try:
                    consumer.commit()
                    self.resets.committed(records)
                except KafkaError as exc:
                    if isinstance(exc, GroupAuthorizationFailedError | TopicAuthorizationFailedError):
                        raise  # a configuration to fix: the worker stops and says so
                    # the group moved on (a rebalance, a broker that restarted and forgot the group): the
                    # records will come again, to whoever owns them
                    log.warning("%s: offsets not committed (%s); the records will be processed again", self.stage,
                                exc)
                self.progress.add("busy_seconds", self.stage, time.perf_counter() - started)
                self.progress.add("consumed", self.source, len(records))
        except KafkaError as exc:
            log.error("%s: Kafka error, stopping this worker: %s", self.stage, exc)
            raise
        finally:
            try:
                producer.flush(timeout=10)
            except KafkaError as exc:
                log.warning("%s: could not flush on stop: %s", self.stage, exc)
            producer.close(timeout=10)
            consumer.close(autocommit=False)
            log.info("%s: stopped", self.stage)

    def _fresh_producer(self, producer: KafkaProducer) -> KafkaProducer:
        return self.wiring.replace_producer(producer, self.stage)

    def _idle(self, consumer: KafkaConsumer, stop: threading.Event) -> None:
        if self.on_idle is None:
            return
        attempt = 0
        while not stop.is_set():
            try:
                self.on_idle()
            except self.transient as exc:
                attempt += 1
                self._wait_out(consumer, exc, attempt, stop)
                continue
            if self.outage:
                log.warning("%s: back after %d retries (%s)", self.stage, attempt, self.outage)
                self.outage = ""
            return
