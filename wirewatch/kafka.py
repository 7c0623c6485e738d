"""Kafka wiring and the one loop that feeds every consuming stage.

In: records from one topic. Out: the stage's output messages on other topics, and a
:class:`~wirewatch.schema.DeadLetter` for each record the stage could not process.

A stage is a plain function ``handle(message) -> list[Output]``; :class:`StageRunner` does the rest,
once for all stages: consume in a consumer group, decode, call the stage, produce, and commit the
offsets only after the outputs are flushed (at-least-once; the stages' sinks are idempotent). A
record that is not valid JSON or not of the expected schema, or whose processing keeps failing,
goes to ``deadletter`` with the reason, and processing goes on.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic
from kafka.errors import KafkaError, KafkaTimeoutError, TopicAlreadyExistsError

from wirewatch.config import KafkaSettings
from wirewatch.schema import BadMessage, DeadLetter, Message, decode

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


@dataclass
class Progress:
    """Counts of what each stage consumed and produced, thread-safe; the demo and `run` read it."""

    consumed: Counter[str] = field(default_factory=Counter)
    produced: Counter[str] = field(default_factory=Counter)
    deadlettered: Counter[str] = field(default_factory=Counter)
    busy_seconds: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, counter: str, key: str, n: float = 1) -> None:
        with self._lock:
            getattr(self, counter)[key] += n

    def snapshot(self) -> dict[str, dict[str, int]]:
        with self._lock:
            return {"consumed": dict(self.consumed), "produced": dict(self.produced),
                    "deadlettered": dict(self.deadlettered),
                    "busy_seconds": {k: round(v, 2) for k, v in self.busy_seconds.items()}}


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
                linger_ms=5, retries=5, max_in_flight_requests_per_connection=1,
                max_request_size=10_485_760,
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
                max_partition_fetch_bytes=10_485_760,
            )
        except KafkaTimeoutError:
            raise BrokerUnavailable(f"no Kafka broker answers at {self.bootstrap}") from None

    def publish(self, producer: KafkaProducer, outputs: Iterable[Output]) -> int:
        n = 0
        for out in outputs:
            producer.send(self.topic(out.topic), key=out.key.encode("utf-8"), value=out.message.to_bytes())
            n += 1
        return n


class StageRunner(Generic[M]):
    """Consume one topic in a consumer group, apply a stage function, publish, commit.

    ``handle`` gets a decoded message and returns the outputs. Exceptions it raises are retried
    ``retries`` times, then the record goes to ``deadletter``; :class:`BadMessage` is not retried.
    """

    def __init__(self, stage: str, wiring: KafkaWiring, source: str, message_type: type[M],
                 handle: Callable[[M], list[Output]], progress: Progress | None = None,
                 retries: int = 2, retry_delay: float = 0.2,
                 on_idle: Callable[[], None] | None = None,
                 handle_batch: Callable[[list[M]], list[list[Output]]] | None = None) -> None:
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

    def process(self, raw: bytes, partition: int = -1, offset: int = -1) -> list[Output]:
        """Decode and handle one record; failures become a dead letter instead of an exception."""
        try:
            message = decode(raw, self.message_type)
        except BadMessage as exc:
            reason = "bad_json" if str(exc).startswith("not valid JSON") else "bad_schema"
            return [self._dead(raw, reason, str(exc), partition, offset)]
        attempt = 0
        while True:
            try:
                return self.handle(message)
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
            return [self.process(r.value, r.partition, r.offset) for r in records]
        results: list[list[Output] | None] = [None] * len(records)
        good: list[tuple[int, M]] = []
        for i, r in enumerate(records):
            try:
                good.append((i, decode(r.value, self.message_type)))
            except BadMessage:
                results[i] = self.process(r.value, r.partition, r.offset)
        try:
            for (i, _msg), outputs in zip(good, self.handle_batch([m for _, m in good]), strict=True):
                results[i] = outputs
        except Exception as exc:
            log.warning("%s: batch of %d failed (%s); processing its records one by one", self.stage, len(good), exc)
            for i, _msg in good:
                results[i] = self.process(records[i].value, records[i].partition, records[i].offset)
        return [r or [] for r in results]

    def _dead(self, raw: bytes, reason: str, error: str, partition: int, offset: int) -> Output:
        log.warning("%s: %s at %s[%s]@%s: %s", self.stage, reason, self.source, partition, offset, error)
        self.progress.add("deadlettered", self.stage)
        letter = DeadLetter(stage=self.stage, reason=reason, error=error, source_topic=self.wiring.topic(self.source),
                            partition=partition, offset=offset, payload=raw.decode("utf-8", errors="replace"))
        return Output(DEADLETTER, f"{self.stage}:{partition}:{offset}", letter)

    def run(self, stop: threading.Event, group: str | None = None) -> None:
        """Run until ``stop`` is set: drain the current batch, flush, commit, close."""
        group = group or f"{self.wiring.settings.topic_prefix}wirewatch-{self.stage}"
        consumer = self.wiring.consumer(group, [self.source])
        producer = self.wiring.producer()
        log.info("%s: consuming %s", self.stage, self.wiring.topic(self.source))
        try:
            while not stop.is_set():
                batch: dict[Any, list[Any]] = consumer.poll(timeout_ms=300)
                if not batch:
                    if self.on_idle:
                        self.on_idle()
                    continue
                started = time.perf_counter()
                records = [r for rs in batch.values() for r in rs]
                for outputs in self.process_batch(records):
                    for out in outputs:
                        self.progress.add("produced", out.topic)
                    self.wiring.publish(producer, outputs)
                producer.flush()
                consumer.commit()
                self.progress.add("busy_seconds", self.stage, time.perf_counter() - started)
                for records in batch.values():
                    self.progress.add("consumed", self.source, len(records))
        except KafkaError as exc:
            log.error("%s: Kafka error, stopping this worker: %s", self.stage, exc)
            raise
        finally:
            producer.flush(timeout=10)
            producer.close(timeout=10)
            consumer.close(autocommit=False)
            log.info("%s: stopped", self.stage)
