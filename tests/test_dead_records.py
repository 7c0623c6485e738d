"""Junk records on the real broker: each becomes a dead letter naming its own topic, partition, offset
and reason, and the worker goes on with the next record (issue 11: a tombstone killed every worker)."""

import threading
import uuid

import pytest
from kafka import KafkaProducer

from wirewatch.config import KafkaSettings
from wirewatch.kafka import DEADLETTER, ENTRIES, TAGGED, KafkaWiring, Output
from wirewatch.runner import StageRunner
from wirewatch.schema import Article, DeadLetter, Entry, TaggedArticle, decode

pytestmark = pytest.mark.integration


def tagged(article_id: str, text: str) -> TaggedArticle:
    entry = Entry(article_id=article_id, url=f"https://news.test/{article_id}", canonical_url="", feed_url="f")
    return TaggedArticle(article=Article(entry=entry, title="t", text=text), topics=[])


def test_tombstones_empty_binary_and_huge_records_are_dead_letters_and_the_worker_goes_on(broker: str) -> None:
    wiring = KafkaWiring(KafkaSettings(topic_prefix=f"j{uuid.uuid4().hex[:8]}-", partitions=1), broker)
    wiring.ensure_topics()
    raw = KafkaProducer(bootstrap_servers=broker, max_request_size=30_000_000)
    junk = [None, b"", b"\x00\x9f\x92\x96binary", tagged("huge", "x" * 20 * 1024 * 1024).to_bytes()]
    for value in junk:
        raw.send(wiring.topic(TAGGED), key=b"k", value=value)
    raw.send(wiring.topic(TAGGED), key=b"k", value=tagged("fine", "a normal article").to_bytes())
    raw.flush()
    raw.close()
    seen: list[str] = []
    done = threading.Event()

    def handle(message: TaggedArticle) -> list[Output]:
        seen.append(message.article_id)
        done.set()
        return []

    runner = StageRunner("alert", wiring, TAGGED, TaggedArticle, handle)
    stop = threading.Event()
    worker = threading.Thread(target=runner.run, args=(stop,))
    worker.start()
    try:
        assert done.wait(60), "the worker stopped at a junk record"
    finally:
        stop.set()
        worker.join(timeout=30)
    assert not worker.is_alive() and seen == ["fine"]
    letters = [decode(r.value, DeadLetter) for r in wiring.read_topic(DEADLETTER, expected=4)]
    got = sorted((d.offset, d.reason, d.source_topic, d.partition) for d in letters)
    topic = wiring.topic(TAGGED)
    assert got == [(0, "tombstone", topic, 0), (1, "empty", topic, 0), (2, "bad_json", topic, 0),
                   (3, "too_large", topic, 0)]
    huge = next(d for d in letters if d.reason == "too_large")
    assert huge.payload_bytes > 20 * 1024 * 1024 and len(huge.payload) <= 20_000


def test_a_too_large_output_names_the_input_record_and_a_dead_letter_keeps_its_reason(broker: str) -> None:
    wiring = KafkaWiring(KafkaSettings(topic_prefix=f"o{uuid.uuid4().hex[:8]}-", partitions=1), broker)
    wiring.ensure_topics()
    producer = wiring.producer()
    entry = Entry(article_id="big", url="https://news.test/big", canonical_url="", feed_url="f")
    for e in (Entry(article_id="other", url="https://news.test/o", canonical_url="", feed_url="f"), entry):
        producer.send(wiring.topic(ENTRIES), key=e.article_id.encode(), value=e.to_bytes())
    producer.flush()
    producer.close()

    def handle(e: Entry) -> list[Output]:  # a stage whose output outgrows what the broker takes
        if e.article_id != "big":
            return []
        letter = DeadLetter(stage="extract", reason="processing_error", error="boom", payload="y" * 2_000_000)
        return [Output("articles", e.article_id, Article(entry=e, title="t", text="z" * 2_000_000)),
                Output(DEADLETTER, "x", letter)]

    runner = StageRunner("extract", wiring, ENTRIES, Entry, handle)
    stop = threading.Event()
    worker = threading.Thread(target=runner.run, args=(stop,))
    worker.start()
    try:
        letters = [decode(r.value, DeadLetter) for r in wiring.read_topic(DEADLETTER, expected=2)]
    finally:
        stop.set()
        worker.join(timeout=30)
    by_reason = {d.reason: d for d in letters}
    big = by_reason["too_large"]
    assert (big.source_topic, big.partition, big.offset) == (wiring.topic(ENTRIES), 0, 1)
    assert "articles message for big" in big.error and decode(big.payload, Entry) == entry
    assert big.key == "big"  # the input record's key, which a replay sends again
    assert by_reason["processing_error"].error == "boom" and len(by_reason["processing_error"].payload) < 1_000_000
