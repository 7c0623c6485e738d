"""Benchmark: real article pages through extract → classify → alert over the bundled broker.

In: the 181 real pages of ../shared/data/pages (gzipped HTML), served on a loopback HTTP server.
Out: printed articles per second for the pipeline (from the first record consumed to idle; the
consumer-group join before it is excluded and printed apart) beside bare ``trafilatura.extract`` on
the same pages, in the same run, and their ratio. Run:

    .venv/bin/python benchmarks/bench_pipeline.py [--rounds N] [--shared ../shared]
"""

from __future__ import annotations

import argparse
import gzip
import sys
import tempfile
import threading
import time
from pathlib import Path

import trafilatura

from wirewatch.config import Settings
from wirewatch.demo.site import LoopbackSite, Resource
from wirewatch.kafka import ENTRIES, Output
from wirewatch.pipeline import Pipeline
from wirewatch.schema import Entry


def load_pages(shared: Path) -> list[bytes]:
    folder = shared / "data" / "pages" / "html"
    if not folder.is_dir():
        sys.exit(f"skipped: no pages at {folder} (pass --shared)")
    return [gzip.decompress(p.read_bytes()) for p in sorted(folder.glob("*.html.gz"))]


def bare_trafilatura(pages: list[bytes]) -> float:
    start = time.perf_counter()
    for html in pages:
        trafilatura.extract(html)
    return time.perf_counter() - start


def pipeline_run(pages: list[bytes], rounds: int) -> tuple[float, float, dict]:  # type: ignore[type-arg]
    with tempfile.TemporaryDirectory() as tmp, LoopbackSite() as site:
        for i, html in enumerate(pages):
            site.resources[f"/p/{i}.html"] = Resource(html)
        settings = Settings.model_validate({
            "data_dir": tmp, "http": {"allow_networks": ["127.0.0.0/8"]}, "subscribers": [{"email": "bench@example.org",
                                              "topics": {"ceasefire_talks": 0.5, "energy_strikes": 0.5}}]})
        with Pipeline(settings) as pipeline:
            producer = pipeline.wiring.producer()
            entries = [Entry(article_id=f"r{r}-{i}", url=site.url(f"/p/{i}.html"), canonical_url="",
                             feed_url="bench", title=f"page {i}", summary="")
                       for r in range(rounds) for i in range(len(pages))]
            pipeline.wiring.publish(producer, [Output(ENTRIES, e.article_id, e) for e in entries])
            producer.flush()
            producer.close()
            pipeline.progress.add("produced", ENTRIES, len(entries))
            stop = threading.Event()
            t0 = time.perf_counter()
            worker = threading.Thread(target=pipeline.run, args=(("extract", "classify", "alert"), stop),
                                      kwargs={"until_idle": True, "idle_grace": 0.5, "timeout": 1800})
            worker.start()
            while not pipeline.progress.snapshot()["consumed"].get(ENTRIES):
                time.sleep(0.01)
            first = time.perf_counter()
            worker.join()
            # until_idle waits idle_grace after the last record; take it off
            done = time.perf_counter() - 0.5
            snap = pipeline.progress.snapshot()
            rows = pipeline.store.recent_archive(len(entries))
            snap["from_page"] = sum('"text_source": "page"' in r["tagged_json"] for r in rows)
            return done - first, first - t0, snap


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=2, help="times each page goes through the pipeline")
    parser.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[2] / "shared")
    args = parser.parse_args()
    pages = load_pages(args.shared)
    n = len(pages) * args.rounds
    bare = sum(bare_trafilatura(pages) for _ in range(args.rounds))
    seconds, join, snap = pipeline_run(pages, args.rounds)
    print(f"pages: {len(pages)} real pages x {args.rounds} rounds = {n} articles")
    print(f"bare trafilatura.extract:            {n / bare:7.1f} articles/s ({bare:.2f} s)")
    print(f"pipeline extract->classify->alert:   {n / seconds:7.1f} articles/s ({seconds:.2f} s, "
          f"after a {join:.1f} s consumer-group join)")
    print(f"pipeline / bare trafilatura:         {bare / seconds:7.2f}")
    print(f"articles whose text came from the page (not a fallback): {snap.pop('from_page')} of {n}")
    print(f"counts: {snap}")


if __name__ == "__main__":
    main()
