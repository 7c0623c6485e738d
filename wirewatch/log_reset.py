"""Noticing that the broker forgot a consumer's log: a topic created anew, or committed offsets lost.

In: the consumer a stage runs, and the offsets it committed. Out: partitions moved back to their
start when their log is not the one the positions belong to (a restarted in-memory broker, or a
topic deleted and made again), with a warning saying so. Reading again is harmless: every sink is
idempotent.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from kafka import KafkaConsumer
from kafka.errors import KafkaError

log = logging.getLogger(__name__)

OFFSETS_CHECK_SECONDS = 10.0  # how often a worker checks that the broker still has its committed offsets


class LogResetWatch:
    """Per consuming worker: ``check(consumer)`` before each poll, ``committed(records)`` after each commit."""

    def __init__(self, stage: str, topic: str, every: float = OFFSETS_CHECK_SECONDS) -> None:
        self.stage = stage
        self.topic = topic
        self.every = every
        self._committed: dict[tuple[str, int], int] = {}  # (topic, partition) -> the offset this worker committed
        self._topic_id: Any = None  # the source topic's id when last seen
        self._checked = time.monotonic()

    def committed(self, records: list[Any]) -> None:
        for r in records:
            self._committed[(r.topic, r.partition)] = r.offset + 1

    def check(self, consumer: KafkaConsumer) -> None:
        self._check_topic_id(consumer)
        if time.monotonic() - self._checked >= self.every:
            self._checked = time.monotonic()
            self._check_offsets(consumer)

    def _check_topic_id(self, consumer: KafkaConsumer) -> None:
        """A topic whose id changed was created anew: the positions held for it belong to a log that is
        gone, so it is read from its start."""
        cluster = getattr(getattr(consumer, "_client", None), "cluster", None)  # kafka-python keeps ids there
        if cluster is None or not hasattr(cluster, "topic_id"):
            return
        now_id = cluster.topic_id(self.topic)
        if now_id is None:
            return
        before, self._topic_id = self._topic_id, now_id
        if before is None or before == now_id:
            return
        mine = [tp for tp in consumer.assignment() if tp.topic == self.topic]
        log.warning("%s: topic %s was created anew (its id changed); reading its partitions from the start",
                    self.stage, self.topic)
        if mine:
            consumer.seek_to_beginning(*mine)
        for tp in mine:
            self._committed.pop((tp.topic, tp.partition), None)

    def _check_offsets(self, consumer: KafkaConsumer) -> None:
        """Offsets this worker committed that the broker no longer has: its partitions' logs started
        again, so they are read again from their start."""
        lost = []
        try:
            for tp in consumer.assignment():
                if (tp.topic, tp.partition) in self._committed and consumer.committed(tp) is None:
                    lost.append(tp)
        except KafkaError as exc:
            log.debug("%s: committed offsets not checked: %s", self.stage, exc)
            return
        if lost:
            log.warning("%s: the broker lost the committed offsets of %s; reading them again from the start",
                        self.stage, ", ".join(f"{tp.topic}[{tp.partition}]" for tp in lost))
            consumer.seek_to_beginning(*lost)
            for tp in lost:
                del self._committed[(tp.topic, tp.partition)]
