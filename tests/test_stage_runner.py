"""The one Kafka loop, over the real bundled broker: dead letters with reasons, and processing goes on."""

import threading
import uuid

import pytest

from wirewatch.config import KafkaSettings
from wirewatch.kafka import ARTICLES, DEADLETTER, ENTRIES, KafkaWiring, Output
from wirewatch.runner import StageRunner
from wirewatch.schema import Article, DeadLetter, Entry, decode

pytestmark = pytest.mark.integration


def read_all(wiring: KafkaWiring, topic: str, expected: int, timeout: float = 30) -> list[bytes]:
    return [r.value for r in wiring.read_topic(topic, expected, quiet=timeout, timeout=timeout)]


def test_bad_records_go_to_deadletter_and_the_rest_goes_on(broker: str) -> None:
    wiring = KafkaWiring(KafkaSettings(topic_prefix=f"t{uuid.uuid4().hex[:6]}-"), broker)
    wiring.ensure_topics()

    def handle(entry: Entry) -> list[Output]:
        if entry.title == "explode":
            raise RuntimeError("boom")
        return [Output(ARTICLES, entry.article_id, Article(entry=entry, title=entry.title, text="t"))]

    def entry(title: str) -> bytes:
        return Entry(article_id=title, url="https://x.test/" + title, canonical_url="", feed_url="f",
                     title=title).to_bytes()

    producer = wiring.producer()
    for raw in [b"{not json", b'{"schema": "article", "v": 1}', entry("explode"), entry("fine")]:
        producer.send(wiring.topic(ENTRIES), key=b"k", value=raw)  # one key: one partition, in order
    producer.flush()
    producer.close()

    runner = StageRunner("extract", wiring, ENTRIES, Entry, handle, retries=1, retry_delay=0.01)
    stop = threading.Event()
    worker = threading.Thread(target=runner.run, args=(stop,))
    worker.start()
    try:
        letters = sorted((decode(v, DeadLetter) for v in read_all(wiring, DEADLETTER, 3)), key=lambda d: d.offset)
        outputs = [decode(v, Article) for v in read_all(wiring, ARTICLES, 1)]
    finally:
        stop.set()
        worker.join(timeout=30)
    assert [d.reason for d in letters] == ["bad_json", "bad_schema", "processing_error"]
    assert letters[2].error == "RuntimeError: boom" and '"explode"' in letters[2].payload
    assert all(d.stage == "extract" and d.source_topic == wiring.topic(ENTRIES) and d.offset >= 0 for d in letters)
    assert all(d.key == "k" for d in letters)  # the record's own key, kept for a replay
    assert [a.title for a in outputs] == ["fine"]
    assert runner.progress.snapshot()["consumed"][ENTRIES] == 4


def test_a_database_outage_holds_the_records_instead_of_dead_lettering_them(broker: str) -> None:
    """While the handler's database is down (OperationalError), the runner waits and retries the same
    records: none goes to deadletter, none is committed before it is done, all come out once it is back."""
    from sqlalchemy.exc import OperationalError

    wiring = KafkaWiring(KafkaSettings(topic_prefix=f"t{uuid.uuid4().hex[:6]}-"), broker)
    wiring.ensure_topics()
    down = {"calls": 0}

    def handle(entry: Entry) -> list[Output]:
        if down["calls"] < 4:
            down["calls"] += 1
            raise OperationalError("SELECT 1", {}, Exception("connection refused"))
        return [Output(ARTICLES, entry.article_id, Article(entry=entry, title=entry.title, text="t"))]

    producer = wiring.producer()
    for n in range(3):
        e = Entry(article_id=f"a{n}", url=f"https://x.test/{n}", canonical_url="", feed_url="f", title=f"t{n}")
        producer.send(wiring.topic(ENTRIES), key=b"k", value=e.to_bytes())
    producer.flush()
    producer.close()
    runner = StageRunner("extract", wiring, ENTRIES, Entry, handle, retries=0, transient=(OperationalError,),
                         max_outage_wait=0.3)
    stop = threading.Event()
    worker = threading.Thread(target=runner.run, args=(stop,))
    worker.start()
    try:
        outputs = [decode(v, Article) for v in read_all(wiring, ARTICLES, 3)]
    finally:
        stop.set()
        worker.join(timeout=30)
    assert sorted(a.title for a in outputs) == ["t0", "t1", "t2"]
    snap = runner.progress.snapshot()
    assert snap["deadlettered"] == {} and snap["events"]["extract_outage_retries"] >= 4
    assert runner.outage == ""


@pytest.mark.parametrize("raw", [
    b"[" * 200_000 + b"]" * 200_000,  # nesting that would blow the parser's stack
    b'{"schema": "entry", "v": 1, "article_id": "' + b"x" * 5_000_000 + b'"}',  # a 5 MB field, wrong shape
    b"\xff\xfe\x00garbage",  # not UTF-8
    b'{"schema": "entry", "v": 99}',  # a version from the future
    b"null",
    b'{"schema": "entry", "v": 1, "article_id": {"$where": "1"}, "url": ["x"]}',  # types that do not fit
    None,  # a tombstone
    b"",
    b'{"schema": "entry", "v": 1, "n": 1' + b"9" * 5000 + b"}",  # more digits than Python converts
], ids=["deep", "huge", "bytes", "future", "null", "types", "tombstone", "empty", "digits"])
def test_hostile_records_become_dead_letters_without_raising(raw: bytes) -> None:
    wiring = KafkaWiring(KafkaSettings(), "127.0.0.1:1")  # not contacted: process() only decides

    def handle(entry: Entry) -> list[Output]:
        raise AssertionError("a hostile record must not reach the stage")

    runner = StageRunner("extract", wiring, ENTRIES, Entry, handle)
    [out] = runner.process(raw, 0, 7)
    assert out.topic == DEADLETTER and isinstance(out.message, DeadLetter)
    assert out.message.reason in ("bad_json", "bad_schema", "too_large", "tombstone", "empty")
    assert out.message.offset == 7 and out.message.partition == 0 and out.message.source_topic == "entries"


def test_the_sole_member_is_assigned_every_partition_and_resumes_from_its_committed_offsets(broker: str) -> None:
    """A process that owns its broker assigns instead of joining: it is ready at once, and what a runner
    committed is where the next one starts (a restart processes nothing twice that it had committed)."""
    wiring = KafkaWiring(KafkaSettings(topic_prefix=f"t{uuid.uuid4().hex[:6]}-"), broker, sole_member=True)
    wiring.ensure_topics()

    def publish(numbers: range) -> None:
        producer = wiring.producer()
        for n in numbers:
            entry = Entry(article_id=f"a{n}", url=f"https://x.test/{n}", canonical_url="", feed_url="f", title=f"t{n}")
            producer.send(wiring.topic(ENTRIES), key=entry.article_id.encode(), value=entry.to_bytes())
        producer.flush()
        producer.close()

    consumer = wiring.consumer("probe", [ENTRIES])
    try:  # no join to wait for: the partitions are there before the first poll
        assert {tp.partition for tp in consumer.assignment()} == set(range(wiring.settings.partitions))
    finally:
        consumer.close(autocommit=False)
    seen: list[str] = []

    def handle(entry: Entry) -> list[Output]:
        seen.append(entry.article_id)
        return [Output(ARTICLES, entry.article_id, Article(entry=entry, title=entry.title, text="t"))]

    for numbers in (range(12), range(12, 15)):  # the second runner of the group starts at the first one's commits
        publish(numbers)
        runner = StageRunner("extract", wiring, ENTRIES, Entry, handle)
        stop = threading.Event()
        worker = threading.Thread(target=runner.run, args=(stop,))
        worker.start()
        try:
            assert len(read_all(wiring, ARTICLES, numbers.stop, timeout=20)) == numbers.stop
        finally:
            stop.set()
            worker.join(timeout=30)
    assert sorted(seen) == sorted(f"a{n}" for n in range(15))  # each once: the second read nothing again


def test_a_consumer_joining_ahead_leaves_every_record_for_the_runner(broker: str) -> None:
    """A separate worker's consumer joins its group while the stage is built; what came with the join is
    read again by the runner, none skipped."""
    from wirewatch.kafka import JoinAhead

    wiring = KafkaWiring(KafkaSettings(topic_prefix=f"t{uuid.uuid4().hex[:6]}-", session_timeout_ms=2000,
                                       heartbeat_interval_ms=600), broker)
    wiring.ensure_topics()
    producer = wiring.producer()
    for n in range(8):
        producer.send(wiring.topic(ENTRIES), key=f"k{n}".encode(), value=f"v{n}".encode())
    producer.flush()
    producer.close()
    joining = JoinAhead(wiring, "ahead", [ENTRIES])
    consumer = joining.take(threading.Event())
    assert consumer is not None and consumer.assignment()
    values: list[bytes] = []
    try:
        for _ in range(50):
            values += [r.value for rs in consumer.poll(timeout_ms=100).values() for r in rs]
            if len(values) >= 8:
                break
    finally:
        consumer.close(autocommit=False)
    assert sorted(values) == sorted(f"v{n}".encode() for n in range(8))
