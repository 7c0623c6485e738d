"""Benchmark: where the start-up of ``wirewatch run --once`` goes.

In: nothing but the bundled code (an empty loopback feed). Out: the wall time of ``run --once`` over
an empty feed, beside the interpreter and CLI alone (``wirewatch --help``), in a fresh data directory,
in one that already holds the trained model, and with a 2 s Kafka session timeout; then each step of
the start-up timed in one process: CLI imports, broker, topics, schema, trafilatura and scikit-learn
imports, model training and loading, the alert stage, consumer-group joins under each session
timeout beside a manual partition assignment, and the extraction pool's first results four ways
(each in a fresh interpreter whose main script imports the CLI, as ``wirewatch`` does), with the
CPU of its workers and fork server. Each `run --once` also prints its own log lines, timed from its start,
and the CPU seconds of each of its processes (sampled from /proc: the CLI process, the extraction workers,
the fork server, the broker). Then each consuming stage as a separate worker (`wirewatch extract`,
`classify`, `alert`) against `wirewatch broker`: the seconds from its start to its first output for a
record that waited on its topic (ready to consume, and one record through), under the default
session timeout and under 2 s. Run:

    .venv/bin/python benchmarks/bench_startup.py [--wirewatch PATH]

``--wirewatch``: the command to time (default: the ``wirewatch`` script beside this interpreter). To time
an older checkout, run this script with ``PYTHONPATH`` at it and ``--wirewatch`` at a script that starts
its command line as its own script did (see docs/benchmarks.md, issue 14).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from wirewatch.devtools.render import rss_feed
from wirewatch.devtools.site import LoopbackSite, Resource

_SCRIPT = Path(sys.executable).with_name("wirewatch")
WIREWATCH = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "wirewatch.app.cli"]  # --wirewatch


def timed(command: list[str], cwd: Path) -> float:
    return timeline(command, cwd)[0]


def timeline(command: list[str], cwd: Path,
             cpu: dict[str, float] | None = None) -> tuple[float, list[tuple[float, str]]]:
    """Wall seconds of the command, and its JSON log lines as (seconds since its start, message); the CPU
    seconds of its processes by role go into ``cpu`` (sampled from /proc)."""
    from bench_pipeline import TreeCpu  # (it imports trafilatura: not before the steps below are timed)

    start_wall, start = time.time(), time.perf_counter()
    proc = subprocess.Popen(command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    tree = TreeCpu(proc.pid) if Path("/proc/self/stat").exists() else None
    _, stderr = proc.communicate(timeout=300)
    seconds = time.perf_counter() - start
    if tree is not None and cpu is not None:
        cpu.update(tree.stop())
    if proc.returncode != 0:
        sys.exit(f"{' '.join(command)} failed ({proc.returncode}):\n{stderr[-3000:]}")
    events = []
    for line in stderr.splitlines():
        try:
            record = json.loads(line)
            when = datetime.fromisoformat(record["time"]).timestamp() - start_wall
            events.append((when, f"{record.get('stage', '')}: {record['message'][:90]}"))
        except (ValueError, KeyError, TypeError):
            continue
    return seconds, events


def cli_startup(tmp: Path, feed_url: str) -> None:
    print(f"interpreter and CLI alone (wirewatch --help):          {timed([*WIREWATCH, '--help'], tmp):6.2f} s")
    for name, extra in (("fresh data dir (the model is trained)", ""),
                        ("same data dir again (the model is loaded)", ""),
                        ("same, [kafka] session_timeout_ms = 2000", "[kafka]\nsession_timeout_ms = 2000\n"
                                                                    "heartbeat_interval_ms = 600\n")):
        config = tmp / "wirewatch.toml"
        config.write_text(f'data_dir = "{tmp / "data"}"\n{extra}[http]\nallow_networks = ["127.0.0.0/8"]\n'
                          f'[[feeds]]\nurl = "{feed_url}"\n', encoding="utf-8")
        cpu: dict[str, float] = {}
        seconds, events = timeline([*WIREWATCH, "--config", str(config), "run", "--once"], tmp, cpu)
        print(f"run --once, empty feed, {name:42s} {seconds:6.2f} s")
        for when, message in events:
            print(f"    {when:6.2f} s  {message}")
        print(f"    {seconds:6.2f} s  (exit)")
        print("    CPU: " + ", ".join(f"{role.split(' (')[0]} {v:.2f} s" for role, v in sorted(cpu.items()))
              + f"; all {sum(cpu.values()):.2f} s")


def steps(tmp: Path) -> list[tuple[str, float]]:
    marks: list[tuple[str, float]] = []

    def step(name: str, fn: Callable[[], Any]) -> Any:
        start = time.perf_counter()
        out = fn()
        marks.append((name, time.perf_counter() - start))
        return out

    step("import wirewatch.app.cli (its root group: each family of commands is imported at first use)",
         lambda: __import__("wirewatch.app.cli"))
    step("import the `run` commands' family (the pipeline: pydantic, SQLAlchemy, Alembic, kafka-python)",
         lambda: __import__("wirewatch.app.cli.workers"))
    from wirewatch.alerts.alert_store import AlertStore
    from wirewatch.alerts.stage import build_alerter
    from wirewatch.process.stage import build_classifier

    from wirewatch.broker import EmbeddedBroker
    from wirewatch.config import Settings
    from wirewatch.kafka import ENTRIES, KafkaWiring

    settings = Settings.model_validate({"data_dir": str(tmp / "steps")})
    settings.data_path.mkdir(parents=True)
    broker = EmbeddedBroker()
    step("embedded broker listening", broker.start)
    try:
        wiring = KafkaWiring(settings.kafka, broker.bootstrap)
        step("topics created", wiring.ensure_topics)
        store = step("database schema from nothing (SQLite)", lambda: AlertStore.open(settings.database_url))
        step("import trafilatura, htmldate, py3langid (wirewatch.process.page_text)",
             lambda: __import__("wirewatch.process.page_text"))
        step("import scikit-learn (training only: a saved model is scored without it)",
             lambda: __import__("sklearn.linear_model"))
        # .model waits for a model trained in the background (a plain attribute before that change)
        step("classify: train the model (no model in the data dir)", lambda: build_classifier(settings).model)
        step("classify: load the saved model", lambda: build_classifier(settings).model)
        step("alert: build the stage", lambda: build_alerter(settings, store))
        for session, heartbeat in ((6000, 2000), (2000, 600)):
            kafka = settings.kafka.model_copy(
                update={"session_timeout_ms": session, "heartbeat_interval_ms": heartbeat})
            wired = KafkaWiring(kafka, broker.bootstrap)
            step(f"consumer-group join, 3 groups at once, session timeout {session} ms",
                 lambda w=wired, s=session: joins(w, f"s{s}"))
        step("manual assignment of every partition, no group join (kafka-python)",
             lambda: assigned(broker.bootstrap, wiring.topic(ENTRIES), settings.kafka.partitions))
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


POOL_VARIANTS = {
    "extract_html": "process.extractor.extract_html submitted (before issue 14's pool change)",
    "extract_page": "process.page_text.extract_page submitted",
    "preload": "extract_page, forkserver preloading process.page_text only",
    "stage": "the extract stage as built now (Extractor: preload, warm-up pages)",
}
PAGE = b"<html><body><article><p>" + b"Words of a warm-up page. " * 20 + b"</p></article></body></html>"


def pool_first_result(variant: str = "extract_html") -> None:
    """Start a forkserver pool of 2 and wait for two results of each worker (run in a fresh process)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from wirewatch.process.extractor import extract_html
    from wirewatch.process.page_text import extract_page

    urls = [f"https://warm.test/{i}" for i in range(4)]
    if variant == "stage":
        from wirewatch.process.extractor import Extractor

        from wirewatch.config import ExtractSettings, HttpSettings

        extractor = Extractor(ExtractSettings(workers=2), HttpSettings(), None)  # type: ignore[arg-type]
        pool = extractor.worker_pool()
        assert pool is not None
        list(pool.map(extract_page, [PAGE] * 4, urls))
        report_pool_cpu(pool)
        extractor.close()
        return
    context = multiprocessing.get_context("forkserver")
    if variant == "preload":
        context.set_forkserver_preload(["wirewatch.process.page_text"])
    fn = extract_html if variant == "extract_html" else extract_page
    with ProcessPoolExecutor(2, mp_context=context) as pool:
        list(pool.map(fn, [PAGE] * 4, urls))
        report_pool_cpu(pool)


def report_pool_cpu(pool: Any) -> None:
    import multiprocessing.forkserver

    def cpu(pid: int) -> float:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    server = getattr(multiprocessing.forkserver._forkserver, "_forkserver_pid", None)
    print(f"cpu {sum(cpu(p) for p in list(pool._processes)):.2f} {cpu(server) if server else 0.0:.2f}")


def entry_import() -> str:
    """The import line of the `wirewatch` script timed (what a worker that runs it again imports)."""
    script = Path(WIREWATCH[0])
    if len(WIREWATCH) == 1 and script.is_file():
        for line in script.read_text(encoding="utf-8").splitlines():
            if line.startswith("from ") and line.endswith(" import main"):
                return line
    return "import wirewatch.app.cli"


def pool_variants(tmp: Path) -> None:
    """Each variant in a fresh interpreter whose main script starts as the `wirewatch` script timed does (a
    worker that runs the main script again then pays for its imports, as under `wirewatch run`)."""
    line = entry_import()
    print(f"extraction pool (forkserver, 2 workers) to two results of each, in a fresh process whose main script "
          f"starts as `wirewatch` does ({line}):")
    script = tmp / "pool_probe.py"
    script.write_text(f"{line}  # as the wirewatch script does\n"
                      f"import sys, time\n"
                      f"if __name__ == '__main__':\n"
                      f"    sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
                      f"    import bench_startup as b\n"
                      f"    t = time.perf_counter()\n    b.pool_first_result(sys.argv[1])\n"
                      f"    print(time.perf_counter() - t)\n",
                      encoding="utf-8")
    for variant, name in POOL_VARIANTS.items():
        out = subprocess.run([sys.executable, str(script), variant], cwd=tmp, capture_output=True, text=True,
                             timeout=120)
        if out.returncode != 0:
            print(f"     n/a  {name} (not in this checkout)")
            continue
        lines = out.stdout.split("\n")
        workers, server = (float(x) for x in next(x for x in lines if x.startswith("cpu")).split()[1:])
        print(f"  {float(lines[-2]):6.2f} s  {name}; CPU: workers {workers:.2f} s, forkserver {server:.2f} s")


def first_record(bootstrap: str, topic: str, partitions: int, timeout: float) -> bool:
    """Whether a record comes on the topic within ``timeout`` (a consumer assigned its partitions: no join)."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest")
    consumer.assign([TopicPartition(topic, p) for p in range(partitions)])
    deadline = time.perf_counter() + timeout
    try:
        while time.perf_counter() < deadline:
            if any(consumer.poll(timeout_ms=50).values()):
                return True
        return False
    finally:
        consumer.close(autocommit=False)


def worker_ready(tmp: Path, site: LoopbackSite) -> None:
    """Each consuming stage as its own worker against `wirewatch broker`: seconds from its start until the
    output of a record that was waiting on its topic is there (ready to consume, and that record done)."""
    from wirewatch.alerts.alert_store import AlertStore

    from wirewatch.broker import free_port, wait_for_port
    from wirewatch.config import KafkaSettings
    from wirewatch.kafka import ARTICLES, ENTRIES, TAGGED, Delivery, KafkaWiring, Output
    from wirewatch.schema import Article, Entry, TaggedArticle

    print("separate workers against `wirewatch broker` (its model trained above): start to the first output "
          "of a record waiting on the stage's topic")
    site.resources["/ready.html"] = Resource(b"<html><head><title>Ready</title></head><body><article><p>"
                                             + b"Words of a page that a separate extract worker reads. " * 8
                                             + b"</p></article></body></html>")
    port = free_port()
    broker = subprocess.Popen([*WIREWATCH, "broker", "--port", str(port)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        if not wait_for_port("127.0.0.1", port, 30):
            sys.exit("wirewatch broker did not listen")
        for session in (6000, 2000):
            prefix = f"s{session}-"
            kafka = KafkaSettings(bootstrap_servers=f"127.0.0.1:{port}", topic_prefix=prefix)
            wiring = KafkaWiring(kafka, kafka.bootstrap_servers)
            wiring.ensure_topics()
            entry = Entry(article_id=f"ready{session}", url=site.url("/ready.html"), canonical_url="",
                          feed_url="bench", title="Ready", summary="A summary.", published="2024-08-01T00:00:00Z")
            article = Article(entry=entry, title="Ready", text="Words of an article about talks in Doha. " * 20)
            tagged = TaggedArticle(article=article, topics=[])
            config = tmp / f"worker{session}.toml"
            config.write_text(f'data_dir = "{tmp / "data"}"\n[kafka]\nbootstrap_servers = "127.0.0.1:{port}"\n'
                              f'topic_prefix = "{prefix}"\nsession_timeout_ms = {session}\n'
                              f'heartbeat_interval_ms = {session // 3}\n'
                              '[http]\nallow_networks = ["127.0.0.0/8"]\n', encoding="utf-8")
            db = AlertStore.open(f"sqlite:///{tmp / 'data' / 'wirewatch.db'}")
            archived_before = len(db.recent_archive(100_000))
            db.close()
            for stage, topic, message, output in (("extract", ENTRIES, entry, ARTICLES),
                                                  ("classify", ARTICLES, article, TAGGED),
                                                  ("alert", TAGGED, tagged, "")):
                delivery = Delivery(wiring, "bench")
                delivery.deliver([Output(topic, message.article_id, message)])
                delivery.close()
                start = time.perf_counter()
                proc = subprocess.Popen([*WIREWATCH, "--config", str(config), stage], stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL, cwd=tmp)
                try:
                    if output:
                        got = first_record(kafka.bootstrap_servers, wiring.topic(output), kafka.partitions, 60)
                    else:
                        got = False
                        while time.perf_counter() - start < 60 and not got:
                            time.sleep(0.05)
                            store = AlertStore.open(f"sqlite:///{tmp / 'data' / 'wirewatch.db'}")
                            got = len(store.recent_archive(100_000)) > archived_before
                            store.close()
                    seconds = time.perf_counter() - start
                finally:
                    proc.terminate()
                    proc.wait(timeout=60)
                shown = f"{seconds:6.2f} s" if got else "  none in 60 s"
                print(f"  {shown}  wirewatch {stage}, session timeout {session} ms")
    finally:
        broker.terminate()
        broker.wait(timeout=30)


def main() -> None:
    global WIREWATCH
    args = sys.argv[1:]
    if args[:1] == ["--wirewatch"] and len(args) == 2:
        WIREWATCH = [args[1]]
    elif args:
        sys.exit("usage: bench_startup.py [--wirewatch PATH]")
    print(f"command: {' '.join(WIREWATCH)}")
    with tempfile.TemporaryDirectory() as tmp_name, LoopbackSite(keep_requests=False) as site:
        tmp = Path(tmp_name)
        site.resources["/empty.xml"] = Resource(rss_feed("empty", site.url("/"), []), "application/rss+xml")
        print("steps, in this process:")
        for name, seconds in steps(tmp):
            print(f"  {seconds:6.2f} s  {name}")
        cli_startup(tmp, site.url("/empty.xml"))
        worker_ready(tmp, site)
        pool_variants(tmp)


if __name__ == "__main__":
    main()
