"""Benchmark: where the start-up of ``wirewatch run --once`` goes.

In: nothing but the bundled code (an empty loopback feed). Out: the wall time of ``run --once`` over
an empty feed, beside the interpreter and CLI alone (``wirewatch --help``), in a fresh data directory,
in one that already holds the trained model, and with a 2 s Kafka session timeout; then each step of
the start-up timed in one process: CLI imports, broker, topics, schema, trafilatura and scikit-learn
imports, model training and loading, the alert stage, consumer-group joins under each session
timeout beside a manual partition assignment, and the extraction pool's first result. Run:

    .venv/bin/python benchmarks/bench_startup.py
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from wirewatch.demo.render import rss_feed
from wirewatch.demo.site import LoopbackSite, Resource

_SCRIPT = Path(sys.executable).with_name("wirewatch")
WIREWATCH = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "wirewatch.cli"]


def timed(command: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, capture_output=True, check=True, timeout=300)
    return time.perf_counter() - start


def cli_startup(tmp: Path, feed_url: str) -> None:
    print(f"interpreter and CLI alone (wirewatch --help):          {timed([*WIREWATCH, '--help'], tmp):6.2f} s")
    for name, extra in (("fresh data dir (the model is trained)", ""),
                        ("same data dir again (the model is loaded)", ""),
                        ("same, [kafka] session_timeout_ms = 2000", "[kafka]\nsession_timeout_ms = 2000\n"
                                                                    "heartbeat_interval_ms = 600\n")):
        config = tmp / "wirewatch.toml"
        config.write_text(f'data_dir = "{tmp / "data"}"\n{extra}[http]\nallow_networks = ["127.0.0.0/8"]\n'
                          f'[[feeds]]\nurl = "{feed_url}"\n', encoding="utf-8")
        seconds = timed([*WIREWATCH, "--config", str(config), "run", "--once"], tmp)
        print(f"run --once, empty feed, {name:42s} {seconds:6.2f} s")


def steps(tmp: Path) -> list[tuple[str, float]]:
    marks: list[tuple[str, float]] = []

    def step(name: str, fn: Callable[[], Any]) -> Any:
        start = time.perf_counter()
        out = fn()
        marks.append((name, time.perf_counter() - start))
        return out

    step("import wirewatch.cli (click, pydantic, SQLAlchemy, Alembic, kafka)", lambda: __import__("wirewatch.cli"))
    from wirewatch.broker import EmbeddedBroker
    from wirewatch.config import Settings
    from wirewatch.kafka import ENTRIES, KafkaWiring
    from wirewatch.pipeline import build_alerter, build_classifier
    from wirewatch.storage import Store

    settings = Settings.model_validate({"data_dir": str(tmp / "steps")})
    settings.data_path.mkdir(parents=True)
    broker = EmbeddedBroker()
    step("embedded broker listening", broker.start)
    try:
        wiring = KafkaWiring(settings.kafka, broker.bootstrap)
        step("topics created", wiring.ensure_topics)
        store = step("database schema from nothing (SQLite)", lambda: Store(settings.database_url))
        step("import trafilatura, htmldate, py3langid (process.page_text)", lambda: __import__("process.page_text"))
        step("import scikit-learn", lambda: __import__("sklearn.linear_model"))
        step("classify: train the model (no model in the data dir)", lambda: build_classifier(settings))
        step("classify: load the saved model", lambda: build_classifier(settings))
        step("alert: build the stage", lambda: build_alerter(settings, store))
        for session, heartbeat in ((6000, 2000), (2000, 600)):
            kafka = settings.kafka.model_copy(
                update={"session_timeout_ms": session, "heartbeat_interval_ms": heartbeat})
            wired = KafkaWiring(kafka, broker.bootstrap)
            step(f"consumer-group join, 3 groups at once, session timeout {session} ms",
                 lambda w=wired, s=session: joins(w, f"s{s}"))
        step("manual assignment of every partition, no group join (kafka-python)",
             lambda: assigned(broker.bootstrap, wiring.topic(ENTRIES), settings.kafka.partitions))
        step("extraction pool (forkserver, 2 workers) to its first result", pool_first_result)
        store.close()
    finally:
        broker.stop()
    return marks


def joins(wiring: Any, tag: str) -> None:
    from wirewatch.kafka import ARTICLES, ENTRIES, TAGGED

    def join(topic: str) -> None:
        consumer = wiring.consumer(f"bench-{tag}-{topic}", [topic])
        while not consumer.assignment():
            consumer.poll(timeout_ms=50)
        consumer.close(autocommit=False)

    threads = [threading.Thread(target=join, args=(t,)) for t in (ENTRIES, ARTICLES, TAGGED)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def assigned(bootstrap: str, topic: str, partitions: int) -> None:
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id="bench-manual", enable_auto_commit=False)
    consumer.assign([TopicPartition(topic, p) for p in range(partitions)])
    consumer.poll(timeout_ms=50)
    consumer.close(autocommit=False)


def pool_first_result() -> None:
    from concurrent.futures import ProcessPoolExecutor

    from process.extractor import _pool_context, extract_html

    with ProcessPoolExecutor(2, mp_context=_pool_context()) as pool:
        page = b"<html><body><article><p>" + b"Words of a warm-up page. " * 20 + b"</p></article></body></html>"
        list(pool.map(extract_html, [page, page], ["https://warm.test/1", "https://warm.test/2"]))


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp_name, LoopbackSite(keep_requests=False) as site:
        tmp = Path(tmp_name)
        site.resources["/empty.xml"] = Resource(rss_feed("empty", site.url("/"), []), "application/rss+xml")
        cli_startup(tmp, site.url("/empty.xml"))
        print("steps, in this process:")
        for name, seconds in steps(tmp):
            print(f"  {seconds:6.2f} s  {name}")


if __name__ == "__main__":
    main()
