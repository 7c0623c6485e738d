"""Kafka wiring: topic names, producers, consumers, and the one delivery path every stage publishes through.

In: :class:`Output` (a message for a topic, with its key) or :class:`RawRecord` (bytes sent again as
they were, by :func:`replay_dead_letters`). Out: records on the broker, acknowledged: :class:`Delivery`
publishes and then waits until the broker acknowledged every record, or raises
:class:`TransientFailure`. A message larger than ``[kafka] max_message_bytes`` is not sent: a
:class:`~wirewatch.schema.DeadLetter` takes its place. The loops that consume and produce are in
:mod:`wirewatch.runner`; the counters in :mod:`wirewatch.progress`.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic
from kafka.consumer.fetcher import ConsumerRecord
from kafka.errors import KafkaError, KafkaTimeoutError, TopicAlreadyExistsError
from kafka.producer.future import FutureRecordMetadata

from wirewatch.config import KafkaSettings
from wirewatch.schema import BadMessage, DeadLetter, Message, decode, payload_of

log = logging.getLogger(__name__)

ENTRIES, ARTICLES, TAGGED, DEADLETTER = "entries", "articles", "tagged", "deadletter"
ALL_TOPICS = (ENTRIES, ARTICLES, TAGGED, DEADLETTER)

class BrokerUnavailable(RuntimeError):
    """No broker answered at the configured address."""


@dataclass(frozen=True)
class Output:
    """One message a stage wants published: topic name (without prefix), key and message."""

    topic: str
    key: str
    message: Message


@dataclass(frozen=True)
class RawRecord:
    """Bytes sent again as they were (a dead letter's original message): the full topic name (with its
    prefix, as the dead letter names it), the original key (None: the record had none), the value."""

    full_topic: str
    key: str | None
    value: bytes


class TransientFailure(RuntimeError):
    """A service the stage needs (database, broker, SMTP) is down: wait and retry; the message is fine."""


class KafkaWiring:
    """Factories for producers, consumers and topics, bound to one bootstrap address and settings.

    ``sole_member``: this process owns the broker (the embedded one of ``wirewatch run``), so no other
    member of its consumer groups can exist. Its consumers are then assigned every partition of their
    topics instead of joining their group (a join costs seconds on the bundled broker, an assignment
    a few milliseconds); they keep the group id, so commits and committed offsets work as before.
    """

    def __init__(self, settings: KafkaSettings, bootstrap: str, sole_member: bool = False) -> None:
        self.settings = settings
        self.bootstrap = bootstrap
        self.sole_member = sole_member

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
        """A consumer of the topics in ``group``: subscribed (it joins the group), or, for the
        :attr:`sole_member`, assigned every partition of them."""
        names = [self.topic(t) for t in topics]
        try:
            consumer = KafkaConsumer(
                *([] if self.sole_member else names), bootstrap_servers=self.bootstrap, group_id=group,
                client_id=f"{self.settings.client_id}-{group}", enable_auto_commit=False,
                auto_offset_reset="earliest", session_timeout_ms=self.settings.session_timeout_ms,
                heartbeat_interval_ms=self.settings.heartbeat_interval_ms,
                max_poll_records=self.settings.max_poll_records, fetch_max_bytes=20_971_520,
                max_partition_fetch_bytes=10_485_760, metadata_max_age_ms=self.settings.metadata_max_age_ms,
            )
        except KafkaTimeoutError:
            raise BrokerUnavailable(f"no Kafka broker answers at {self.bootstrap}") from None
        if self.sole_member:
            try:
                consumer.assign(self._partitions(consumer, names))
            except BaseException:
                consumer.close(autocommit=False)
                raise
        return consumer

    def _partitions(self, consumer: KafkaConsumer, names: Sequence[str]) -> list[TopicPartition]:
        """Every partition of the topics, as the broker's metadata has them (the configured count where
        a topic is not known yet: it is created with that many)."""
        parts = []
        for name in names:
            try:
                known = consumer.partitions_for_topic(name)
            except KafkaTimeoutError:
                raise BrokerUnavailable(f"no Kafka broker answers at {self.bootstrap}") from None
            ids = sorted(known) if known else range(self.settings.partitions)
            parts += [TopicPartition(name, p) for p in ids]
        return parts

    def publish(self, producer: KafkaProducer, outputs: Iterable[Output | RawRecord], stage: str = "",
                source: ConsumerRecord | None = None,
                landed: Counter[str] | None = None) -> list[FutureRecordMetadata]:
        """Send the outputs; returns their futures (see :func:`delivered`), and counts in ``landed`` the
        records sent to each topic (its name without prefix; a raw record's, with it).

        A message larger than ``[kafka] max_message_bytes`` (what a real broker accepts by default) is
        not sent: a dead letter takes its place, so that one huge article never stalls a partition. It
        names the input record (``source``: the consumed record, with topic, partition, offset and
        value) that led to it, and keeps that input as its payload; a dead letter that is itself too
        large keeps its own reason and source and only its payload is cut. A broker that does not
        answer in time is a :class:`TransientFailure`.
        """
        futures = []
        for out in outputs:
            if isinstance(out, RawRecord):
                value, topic, name = out.value, out.full_topic, out.full_topic
            else:
                value, topic, name = out.message.to_bytes(), self.topic(out.topic), out.topic
            if len(value) > self.settings.max_message_bytes:
                value, topic = self._too_large(out, len(value), stage, source).to_bytes(), self.topic(DEADLETTER)
                name = DEADLETTER
            if landed is not None:
                landed[name] += 1
            try:
                key = out.key.encode("utf-8") if out.key is not None else None
                futures.append(producer.send(topic, key=key, value=value))
            except KafkaTimeoutError as exc:
                raise TransientFailure(f"the broker did not answer: {exc}") from None
        return futures

    def _too_large(self, out: Output | RawRecord, size: int, stage: str,
                   source: ConsumerRecord | None) -> DeadLetter:
        limit = self.settings.max_message_bytes
        topic = out.full_topic if isinstance(out, RawRecord) else self.topic(out.topic)
        log.error("%s message %s is %d bytes, over [kafka] max_message_bytes (%d): dead-lettered",
                  topic, out.key, size, limit)
        if isinstance(out, Output) and isinstance(out.message, DeadLetter):  # already dead: keep why, cut the rest
            letter = out.message
            return letter.model_copy(update={"payload": letter.payload[:limit // 8]})
        if source is not None:
            raw: bytes | None = source.value
        else:
            raw = out.value if isinstance(out, RawRecord) else out.message.to_bytes()
        payload, payload_bytes = payload_of(raw)
        key: str | None = out.key
        if source is not None:  # the record it came from is what a replay sends again, with its key
            key = source.key.decode("utf-8", "replace") if source.key is not None else None
        return DeadLetter(stage=stage or topic, reason="too_large",
                          error=f"its {topic} message for {out.key} is {size} bytes, over [kafka] "
                                f"max_message_bytes ({limit})",
                          source_topic=source.topic if source is not None else topic,
                          partition=source.partition if source is not None else -1,
                          offset=source.offset if source is not None else -1,
                          payload=payload, payload_bytes=payload_bytes, key=key)

    def read_topic(self, topic: str, expected: int | None = None, quiet: float = 5.0,
                   timeout: float = 60.0) -> list[ConsumerRecord]:
        """Every record of a topic from the start, read by a throw-away consumer group: until ``expected``
        records came, or none came for ``quiet`` seconds (at most ``timeout``)."""
        consumer = self.consumer(f"wirewatch-reader-{uuid.uuid4().hex[:8]}", [topic])
        records: list[ConsumerRecord] = []
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


class JoinAhead:
    """A consumer that joins its group in a thread of its own while the stage is still being built (a join
    takes seconds on the bundled broker: about half the session timeout), then is handed to the runner.

    Records that come with the join are not taken: their partitions are moved back to them, so the
    runner reads them first. :meth:`take` waits for the join (the runner could not consume before it
    anyway) and returns the consumer, or None when it failed (the runner makes its own and meets the
    failure itself); :meth:`close` closes a consumer never taken.
    """

    def __init__(self, wiring: KafkaWiring, group: str, topics: Sequence[str], patience: float = 60.0) -> None:
        self._consumer: KafkaConsumer | None = None
        self._cancelled = threading.Event()
        self._thread = threading.Thread(target=self._join, args=(wiring, group, topics, patience),
                                        name=f"join-{group}", daemon=True)
        self._thread.start()

    def _join(self, wiring: KafkaWiring, group: str, topics: Sequence[str], patience: float) -> None:
        try:
            consumer = wiring.consumer(group, topics)
        except (BrokerUnavailable, KafkaError) as exc:
            log.debug("joining %s ahead failed: %s", group, exc)
            return
        deadline = time.monotonic() + patience
        try:
            while not consumer.assignment() and not self._cancelled.is_set() and time.monotonic() < deadline:
                for tp, records in consumer.poll(timeout_ms=100).items():
                    consumer.seek(tp, records[0].offset)  # the runner's to take
        except BaseException as exc:  # never a member left behind: the runner joins with a consumer of its own
            log.debug("joining %s ahead failed: %s", group, exc)
            consumer.close(autocommit=False)
            return
        self._consumer = consumer

    def take(self, stop: threading.Event) -> KafkaConsumer | None:
        while self._thread.is_alive() and not stop.is_set():
            self._thread.join(timeout=0.1)
        if self._thread.is_alive():  # stopped meanwhile: the join is left to end, and its consumer closed
            self.close()
            return None
        consumer, self._consumer = self._consumer, None
        return consumer

    def close(self) -> None:
        self._cancelled.set()
        self._thread.join(timeout=5)
        if self._consumer is not None:
            self._consumer.close(autocommit=False)
            self._consumer = None


def delivered(producer: KafkaProducer, futures: Sequence[FutureRecordMetadata]) -> None:
    """Flush, then raise :class:`TransientFailure` unless the broker acknowledged every record."""
    try:
        producer.flush(timeout=30)
    except KafkaTimeoutError as exc:
        raise TransientFailure(f"the broker did not acknowledge {len(futures)} records in time: {exc}") from None
    failed = [f for f in futures if not f.succeeded()]
    if failed:
        why = failed[0].exception if failed[0].is_done else "not acknowledged"
        raise TransientFailure(f"{len(failed)} of {len(futures)} records were not acknowledged by the broker: {why}")


class Delivery:
    """One stage's producer and the one way to publish: :meth:`send` outputs, then :meth:`confirm` that
    the broker acknowledged them all (or :class:`TransientFailure`); :meth:`deliver` does both.

    The runners own it: they :meth:`renew` the producer after repeated failures (a client can be left
    in a state it never leaves) and :meth:`close` it, flushed, when the stage stops.
    """

    def __init__(self, wiring: KafkaWiring, stage: str) -> None:
        self.wiring = wiring
        self.stage = stage
        self.producer = wiring.producer()
        self._futures: list[FutureRecordMetadata] = []

    def send(self, outputs: Iterable[Output | RawRecord], source: ConsumerRecord | None = None) -> Counter[str]:
        """Hand the outputs (of ``source``, the consumed record they came from) to the producer; how many went
        to each topic (a message too large for its topic goes to the dead letters instead)."""
        landed: Counter[str] = Counter()
        try:
            self._futures += self.wiring.publish(self.producer, outputs, self.stage, source, landed)
        except BaseException:  # the caller sends the whole batch again
            self._futures = []
            raise
        return landed

    def confirm(self) -> None:
        """Wait until the broker acknowledged everything sent since the last confirmation."""
        futures, self._futures = self._futures, []
        delivered(self.producer, futures)

    def deliver(self, outputs: Iterable[Output | RawRecord]) -> Counter[str]:
        """Send and confirm: when this returns, the broker holds every output; how many went to each topic."""
        landed = self.send(outputs)
        self.confirm()
        return landed

    def renew(self) -> None:
        """A new producer for one that keeps failing; what was sent and not confirmed is sent again."""
        self._futures = []
        self.producer = self.wiring.replace_producer(self.producer, self.stage)

    def close(self) -> None:
        try:
            self.producer.flush(timeout=10)
        except KafkaError as exc:  # the broker is gone: what was not acknowledged was not recorded either
            log.warning("%s: could not flush on stop: %s", self.stage, exc)
        self.producer.close(timeout=10)


def read_dead_letters(wiring: KafkaWiring, quiet: float = 5.0, timeout: float = 600.0) -> list[tuple[int, int,
                                                                                                     DeadLetter]]:
    """Every dead letter on the topic, as (partition, offset, letter), oldest failure first; a record
    there that is no dead letter is logged and skipped."""
    letters = []
    for record in wiring.read_topic(DEADLETTER, quiet=quiet, timeout=timeout):
        try:
            letters.append((record.partition, record.offset, decode(record.value, DeadLetter)))
        except BadMessage as exc:
            log.warning("deadletter[%s]@%s is not a dead letter: %s", record.partition, record.offset, exc)
    return sorted(letters, key=lambda x: x[2].failed_at)


def replay_dead_letters(wiring: KafkaWiring, letters: Sequence[DeadLetter]) -> int:
    """Publish the dead letters' original messages again, to the topic they came from, with their
    original keys, through a :class:`Delivery`: it returns (the number sent) once the broker holds them
    all. Only letters that keep their :attr:`~wirewatch.schema.DeadLetter.whole` message are sent; one
    written before keys were kept goes without a key."""
    records = [RawRecord(d.source_topic, d.key, d.payload.encode("utf-8")) for d in letters if d.whole]
    delivery = Delivery(wiring, "replay")
    try:
        delivery.deliver(records)
    finally:
        delivery.close()
    return len(records)
