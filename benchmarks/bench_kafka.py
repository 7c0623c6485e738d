"""Benchmark: CPU per article of the pipeline's Kafka path in one process, with and without the crc32c module.

In: the 181 real pages' gold bodies (../shared/data/pages/ground-truth.json), as article texts. Out, for
each page ``--rounds`` times: the CPU milliseconds (this process, all its threads: kafka-python's I/O
threads too) to publish its :class:`Article` through a :class:`Delivery` and its :class:`TaggedArticle`
likewise, and to consume and decode both, as extract, classify and alert do, over the bundled broker;
once with the C ``crc32c`` module that kafka-python uses for its record checksums when it is installed,
and once in a fresh interpreter where it is hidden (kafka-python's pure-Python checksum). Run:

    .venv/bin/python benchmarks/bench_kafka.py [--rounds 3] [--shared ../shared]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def measure(shared: Path, rounds: int) -> dict[str, float]:
    from kafka import KafkaConsumer, TopicPartition

    from wirewatch.broker import EmbeddedBroker
    from wirewatch.config import KafkaSettings
    from wirewatch.kafka import ARTICLES, TAGGED, Delivery, KafkaWiring, Output
    from wirewatch.schema import Article, Entry, TaggedArticle, TopicTag, decode

    gold = json.loads((shared / "data" / "pages" / "ground-truth.json").read_text(encoding="utf-8"))
    articles = []
    for r in range(rounds):
        for n, (key, page) in enumerate(sorted(gold.items())):
            entry = Entry(article_id=f"{key}-{r}", url=page["url"], canonical_url=page["url"], feed_url="bench",
                          title=f"Page {n}", summary="A short summary from the feed.")
            articles.append(Article(entry=entry, title=f"Page {n}", text=page["articleBody"]))
    tags = [TopicTag(topic=t, score=0.3, fired=False, explanation="rules 0/4; model p=0.30")
            for t in ("ceasefire_talks", "energy_strikes")]
    tagged = [TaggedArticle(article=a, topics=tags) for a in articles]
    cpu: dict[str, float] = {}
    with EmbeddedBroker() as broker:
        wiring = KafkaWiring(KafkaSettings(), broker.bootstrap)
        wiring.ensure_topics()
        for topic, messages in ((ARTICLES, articles), (TAGGED, tagged)):
            delivery = Delivery(wiring, "bench")
            start = time.process_time()
            for i in range(0, len(messages), 50):  # batches as a stage publishes them
                delivery.deliver([Output(topic, m.article_id, m) for m in messages[i:i + 50]])
            cpu[f"publish {topic}"] = time.process_time() - start
            delivery.close()
            consumer = KafkaConsumer(bootstrap_servers=broker.bootstrap, group_id=f"bench-{topic}",
                                     enable_auto_commit=False, auto_offset_reset="earliest", max_poll_records=50,
                                     fetch_max_bytes=20_971_520, max_partition_fetch_bytes=10_485_760)
            consumer.assign([TopicPartition(wiring.topic(topic), p) for p in range(wiring.settings.partitions)])
            kind = Article if topic == ARTICLES else TaggedArticle
            got = 0
            start = time.process_time()
            deadline = time.monotonic() + 120
            while got < len(messages) and time.monotonic() < deadline:
                for records in consumer.poll(timeout_ms=200).values():
                    for record in records:
                        decode(record.value, kind)
                        got += 1
                consumer.commit()
            cpu[f"consume {topic}"] = time.process_time() - start
            consumer.close(autocommit=False)
            if got < len(messages):
                sys.exit(f"only {got} of {len(messages)} {topic} records came back")
    return {k: v / len(articles) * 1000 for k, v in cpu.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[2] / "shared")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if not (args.shared / "data" / "pages" / "ground-truth.json").is_file():
        print(f"skipped: no pages at {args.shared / 'data' / 'pages'} (pass --shared)")
        return
    if args.child:
        from kafka.record import util

        print(json.dumps({"crc": util.calc_crc32c.__defaults__[0].__module__ or "?", **measure(args.shared,
                                                                                              args.rounds)}))
        return
    rows = {}
    with tempfile.TemporaryDirectory() as hidden:
        (Path(hidden) / "crc32c.py").write_text("raise ImportError('hidden by bench_kafka.py')\n", encoding="utf-8")
        for name, path in (("with the crc32c module (C)", ""), ("crc32c hidden (pure Python)", hidden)):
            env = dict(os.environ)
            if path:
                env["PYTHONPATH"] = os.pathsep.join(p for p in (path, env.get("PYTHONPATH", "")) if p)
            out = subprocess.run([sys.executable, __file__, "--child", "--rounds", str(args.rounds), "--shared",
                                  str(args.shared)], capture_output=True, text=True, env=env, check=True, timeout=900)
            rows[name] = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"CPU ms per article in one process, {args.rounds} x the 181 gold bodies (bundled broker):")
    steps = [k for k in next(iter(rows.values())) if k != "crc"]
    print(f"  {'':32s}" + "".join(f"{s:>18s}" for s in steps) + f"{'all':>10s}  checksum")
    for name, row in rows.items():
        print(f"  {name:32s}" + "".join(f"{row[s]:15.2f} ms" for s in steps)
              + f"{sum(row[s] for s in steps):7.2f} ms  {row['crc']}")


if __name__ == "__main__":
    main()
