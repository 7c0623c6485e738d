"""The runners: the one loop that feeds every consuming stage, and the one that drives every source.

In: a stage's declaration (:mod:`wirewatch.stage`) and its handler or source. Out: the stage's output
messages on their topics, and a :class:`~wirewatch.schema.DeadLetter` for each record it could not
process, all through the stage's :class:`~wirewatch.kafka.Delivery`.

:class:`StageRunner` consumes in a consumer group (or, when this process owns the broker, on every
partition of its topic under the group's committed offsets: ``KafkaWiring.sole_member``), decodes,
calls the handler, publishes, and commits the offsets only after the outputs are acknowledged
(at-least-once; the stages' sinks are idempotent). A record that is no message — a tombstone, empty,
larger than ``[kafka] max_message_bytes``, not valid JSON, not of the expected schema — or whose
processing keeps failing, goes to ``deadletter`` with its own topic, partition, offset, key and
reason, and processing goes on. :class:`SourceRunner` calls a source's cycles, waits between them,
and backs off (with a new producer when the broker kept failing) while a service it needs is down.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Generic, TypeVar

from kafka import KafkaConsumer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord
from kafka.errors import GroupAuthorizationFailedError, KafkaError, TopicAuthorizationFailedError

from wirewatch.kafka import DEADLETTER, Delivery, JoinAhead, KafkaWiring, Output, TransientFailure
from wirewatch.log_reset import LogResetWatch
from wirewatch.progress import CURRENT_ARTICLE, Progress
from wirewatch.schema import BadMessage, DeadLetter, Message, decode, payload_of
from wirewatch.stage import ConsumingStage, Handler, Source, SourceStage, Stage, StageContext, Worker

log = logging.getLogger(__name__)

M = TypeVar("M", bound=Message)


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
                 transient: tuple[type[BaseException], ...] = (), max_outage_wait: float = 30.0,
                 on_reload: Callable[[], None] | None = None, on_close: Callable[[], None] | None = None) -> None:
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
        self.on_reload = on_reload
        self.on_close = on_close
        self.joining: JoinAhead | None = None  # a consumer joining its group while the stage was built


    @classmethod
    def of(cls, stage: ConsumingStage[M], handler: Handler[M], wiring: KafkaWiring,
           progress: Progress | None = None) -> StageRunner[M]:
        """The runner of a declared stage and its handler."""
        return cls(stage.name, wiring, stage.input, stage.message_type, handler.handle, progress,
                   on_idle=handler.flush, handle_batch=handler.handle_batch if handler.batches else None,
                   transient=stage.transient, on_reload=handler.reload, on_close=handler.close)

    def reload(self) -> None:
        if self.on_reload is not None:
            self.on_reload()

    def close(self) -> None:
        """Release the handler's clients (after :meth:`run` returned, or if it never ran)."""
        if self.joining is not None:
            self.joining.close()
        if self.on_close is not None:
            self.on_close()

    def process(self, raw: bytes | None, partition: int = -1, offset: int = -1,
                key: bytes | None = None) -> list[Output]:
        """Decode and handle one record; failures become a dead letter instead of an exception
        (except a transient failure, which is raised for :meth:`run` to wait out)."""
        token = CURRENT_ARTICLE.set(key.decode("utf-8", "replace") if key else "")
        try:
            return self._process(raw, partition, offset, key)
        finally:
            CURRENT_ARTICLE.reset(token)

    def _process(self, raw: bytes | None, partition: int, offset: int, key: bytes | None) -> list[Output]:
        try:
            message = decode(raw, self.message_type, self.wiring.settings.max_message_bytes)
        except BadMessage as exc:
            return [self._dead(raw, exc.reason, str(exc), partition, offset, key)]
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
                    return [self._dead(raw, "processing_error", f"{type(exc).__name__}: {exc}", partition, offset,
                                       key)]
                time.sleep(self.retry_delay * attempt)

    def process_batch(self, records: list[ConsumerRecord]) -> list[list[Output]]:
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

    def _dead(self, raw: bytes | None, reason: str, error: str, partition: int, offset: int,
              key: bytes | None = None) -> Output:
        log.warning("%s: %s at %s[%s]@%s: %s", self.stage, reason, self.source, partition, offset, error)
        self.progress.add("deadlettered", self.stage)
        payload, size = payload_of(raw)
        letter = DeadLetter(stage=self.stage, reason=reason, error=error, source_topic=self.wiring.topic(self.source),
                            partition=partition, offset=offset, payload=payload, payload_bytes=size,
                            key=key.decode("utf-8", "replace") if key is not None else None)
        return Output(DEADLETTER, f"{self.stage}:{partition}:{offset}", letter)

    def _complete(self, delivery: Delivery, records: list[ConsumerRecord]) -> None:
        """Process a batch and publish its outputs, acknowledged by the broker (or raise transient)."""
        produced: Counter[str] = Counter()
        for record, outputs in zip(records, self.process_batch(records), strict=True):
            produced.update(delivery.send(outputs, source=record))  # where they went: too large, dead letters
        delivery.confirm()
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

    def _lag(self, consumer: KafkaConsumer, records: list[ConsumerRecord]) -> None:
        last: dict[tuple[str, int], int] = {}
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
        consumer = self.joining.take(stop) if self.joining is not None and group is None else None
        if consumer is None:
            consumer = self.wiring.consumer(group or group_of(self.wiring, self.stage), [self.source])
        delivery = Delivery(self.wiring, self.stage)
        log.info("%s: consuming %s", self.stage, self.wiring.topic(self.source))
        ready = False
        try:
            while not stop.is_set():
                self.resets.check(consumer)
                try:
                    batch: dict[TopicPartition, list[ConsumerRecord]] = consumer.poll(timeout_ms=300)
                except KafkaError as exc:
                    if isinstance(exc, GroupAuthorizationFailedError | TopicAuthorizationFailedError):
                        raise
                    log.warning("%s: polling failed (%s); trying again", self.stage, exc)  # the broker is back soon
                    stop.wait(1.0)
                    continue
                if not ready and consumer.assignment():  # joined (or assigned): from now on records come
                    ready = True
                    log.info("%s: ready: %d partitions of %s %s", self.stage, len(consumer.assignment()),
                             self.wiring.topic(self.source),
                             "assigned (sole member)" if self.wiring.sole_member else "from the group")
                records = [r for rs in batch.values() for r in rs]
                self._lag(consumer, records)
                if not records:
                    self._idle(consumer, stop)
                    continue
                started = time.perf_counter()
                attempt = 0
                while not stop.is_set():
                    try:
                        self._complete(delivery, records)
                        break
                    except self.transient as exc:
                        attempt += 1
                        self._wait_out(consumer, exc, attempt, stop)
                        if isinstance(exc, TransientFailure):  # a client can be stuck where a new one is not
                            delivery.renew()
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
            delivery.close()
            consumer.close(autocommit=False)
            log.info("%s: stopped", self.stage)

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


class SourceRunner:
    """Drive a source: call its cycles until ``stop`` (one, with ``once``), wait in between as it asks.

    An exception of the declaration's ``transient`` types (the database or the broker is down) or
    ``retried`` types (a write the database refused: logged with its trace) ends the cycle: the
    runner backs off, replaces the producer after a :class:`TransientFailure`, and tries again for
    as long as it takes; the source records nothing as done before the broker acknowledged it.
    """

    def __init__(self, stage: SourceStage, source: Source, wiring: KafkaWiring, progress: Progress | None = None,
                 once: bool = False, max_outage_wait: float = 30.0) -> None:
        self.stage = stage
        self.name = stage.name
        self.source = source
        self.wiring = wiring
        self.progress = progress or Progress()
        self.once = once
        self.transient: tuple[type[BaseException], ...] = (TransientFailure, *stage.transient)
        self.retried: tuple[type[BaseException], ...] = stage.retried
        self.max_outage_wait = max_outage_wait

    def run(self, stop: threading.Event) -> None:
        delivery = Delivery(self.wiring, self.name)
        try:
            self.source.open()
            outage = 0
            while not stop.is_set():
                try:
                    wait = self.source.cycle(delivery)
                except (*self.transient, *self.retried) as exc:
                    if not isinstance(exc, self.transient):  # a bug to report, not a reason to stop the stage
                        log.exception("%s: the cycle failed; retrying it", self.name)
                    outage += 1
                    if outage == 1:
                        log.error("%s: %s; retrying until it is back", self.name, str(exc).splitlines()[0][:300])
                    self.progress.event(f"{self.name}_outage_retries")
                    if isinstance(exc, TransientFailure):  # a client can be stuck where a new one is not
                        delivery.renew()
                    stop.wait(min(self.max_outage_wait, 0.5 * 2 ** min(outage, 8)))
                    continue
                if outage:
                    log.warning("%s: back after %d retries", self.name, outage)
                    outage = 0
                if self.once:
                    break
                stop.wait(min(5.0, max(0.05, 5.0 if wait is None else wait)))
        finally:
            try:
                self.source.close()
            finally:
                delivery.close()
            log.info("%s: stopped", self.name)

    def reload(self) -> None:
        self.source.reload()

    def close(self) -> None:
        """Nothing to do: :meth:`run` opens and closes the source in its own thread."""


def group_of(wiring: KafkaWiring, stage: str) -> str:
    """The consumer group of a stage's workers."""
    return f"{wiring.settings.topic_prefix}wirewatch-{stage}"


def worker_for(stage: Stage, ctx: StageContext) -> Worker:
    """Build a declared stage and the runner that drives it."""
    if isinstance(stage, SourceStage):
        return SourceRunner(stage, stage.build(ctx), ctx.wiring, ctx.progress, once=ctx.once)
    if isinstance(stage, ConsumingStage):
        return consuming_runner(stage, ctx)
    raise TypeError(f"{stage.name}: a stage is a ConsumingStage or a SourceStage, not a {type(stage).__name__}")


def consuming_runner(stage: ConsumingStage[M], ctx: StageContext) -> StageRunner[M]:
    """The stage's runner; its consumer joins the group while the stage is built (the sole member of its
    groups is assigned its partitions at once instead: nothing to overlap)."""
    wiring = ctx.wiring
    joining = None if wiring.sole_member else JoinAhead(wiring, group_of(wiring, stage.name), [stage.input])
    try:
        runner = StageRunner.of(stage, stage.build(ctx), wiring, ctx.progress)
    except BaseException:
        if joining is not None:
            joining.close()
        raise
    runner.joining = joining
    return runner
