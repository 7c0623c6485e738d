"""`wirewatch deadletter list|replay` over the bundled broker."""

import uuid

import pytest
from click.testing import CliRunner

from tests.test_stage_runner import read_all
from wirewatch.app.cli import main
from wirewatch.config import KafkaSettings
from wirewatch.kafka import DEADLETTER, ENTRIES, KafkaWiring
from wirewatch.schema import DeadLetter

pytestmark = pytest.mark.integration


def test_list_and_replay(broker: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    prefix = f"dl{uuid.uuid4().hex[:6]}-"
    wiring = KafkaWiring(KafkaSettings(topic_prefix=prefix), broker)
    wiring.ensure_topics()
    producer = wiring.producer()
    for i, reason in enumerate(["bad_json", "processing_error"]):
        letter = DeadLetter(stage="extract", reason=reason, error=f"boom {i}", source_topic=wiring.topic(ENTRIES),
                            partition=0, offset=i, payload=f'{{"n": {i}}}')
        producer.send(wiring.topic(DEADLETTER), key=b"k", value=letter.to_bytes())
    producer.flush()
    producer.close()
    cfg = tmp_path / "w.toml"
    cfg.write_text(f'data_dir = "{tmp_path}"\n[kafka]\ntopic_prefix = "{prefix}"\n')
    env = {"KAFKA_BOOTSTRAP_SERVERS": broker}
    runner = CliRunner()
    result = runner.invoke(main, ["--config", str(cfg), "deadletter", "list"], env=env)
    assert result.exit_code == 0, result.output
    assert "extract  bad_json" in result.output and "boom 1" in result.output and "2 dead letters" in result.output
    result = runner.invoke(main, ["--config", str(cfg), "deadletter", "replay", "--reason", "processing_error"],
                           env=env)
    assert result.exit_code == 0 and "replayed 1 messages" in result.output
    assert read_all(wiring, ENTRIES, 1) == [b'{"n": 1}']
    result = runner.invoke(main, ["--config", str(cfg), "deadletter", "list"], env={"KAFKA_BOOTSTRAP_SERVERS": ""})
    assert result.exit_code == 2 and "set KAFKA_BOOTSTRAP_SERVERS" in result.output


def test_replay_sends_the_original_keys_and_reads_old_letters_without_one(broker: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A replayed message keeps its record's key (so it lands where its article's other messages do);
    a dead letter written before keys were kept is still read, and replayed without a key."""
    import json

    prefix = f"dk{uuid.uuid4().hex[:6]}-"
    wiring = KafkaWiring(KafkaSettings(topic_prefix=prefix), broker)
    wiring.ensure_topics()
    keyed = DeadLetter(stage="extract", reason="processing_error", error="boom", source_topic=wiring.topic(ENTRIES),
                       partition=0, offset=3, payload='{"n": "keyed"}', payload_bytes=14, key="article-7")
    old = json.loads(keyed.to_bytes())
    del old["key"]
    old.update(payload='{"n": "old"}', payload_bytes=12, offset=4)
    producer = wiring.producer()
    producer.send(wiring.topic(DEADLETTER), key=b"extract:0:3", value=keyed.to_bytes())
    producer.send(wiring.topic(DEADLETTER), key=b"extract:0:4", value=json.dumps(old).encode())
    producer.flush()
    producer.close()
    cfg = tmp_path / "w.toml"
    cfg.write_text(f'data_dir = "{tmp_path}"\n[kafka]\ntopic_prefix = "{prefix}"\n')
    result = CliRunner().invoke(main, ["--config", str(cfg), "deadletter", "replay"],
                                env={"KAFKA_BOOTSTRAP_SERVERS": broker})
    assert result.exit_code == 0 and "replayed 2 messages" in result.output, result.output
    replayed = {r.value: r.key for r in wiring.read_topic(ENTRIES, expected=2, quiet=30)}
    assert replayed == {b'{"n": "keyed"}': b"article-7", b'{"n": "old"}': None}
