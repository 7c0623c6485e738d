"""Story linking: clustering quality on labeled event clusters, and linking time as the archive grows.

In: ../shared/data/event-clusters (WikiRef220: 220 articles labeled by event or topic) for quality;
synthetic articles (names drawn for invented events) for speed. Out, printed: B-cubed precision,
recall and F1 of the story index at several thresholds; then the time to link one article when the
index already holds 10k, 100k and 1M articles, beside the baseline of scoring every story (a scan)
at the same sizes, in the same run. Run:

    .venv/bin/python benchmarks/bench_stories.py [--shared ../shared] [--max 1000000]
"""

from __future__ import annotations

import argparse
import csv
import random
import time
from collections import Counter
from pathlib import Path

from wirewatch.alerts.stories import TermStats, names
from wirewatch.alerts.story_index import StoryIndex, bcubed


def quality(shared: Path) -> None:
    base = shared / "data" / "event-clusters"
    with open(base / "labels_wikiref220.csv", encoding="utf-8") as fh:
        labels = {r["file"]: r["topic"] for r in csv.DictReader(fh)}
    texts = {}
    for name in labels:
        raw = (base / "WikiRef220" / name).read_bytes()
        try:
            texts[name] = raw.decode("utf-8").replace("\r\n", "\n")
        except UnicodeDecodeError:
            texts[name] = raw.decode("cp1252").replace("\r\n", "\n")
    print(f"WikiRef220: {len(texts)} articles, {len(set(labels.values()))} labels")
    for threshold in (0.1, 0.15, 0.2, 0.3):
        stats = TermStats.with_background()
        for text in texts.values():
            stats.add(text)
        index = StoryIndex(stats, threshold=threshold)
        assigned = {name: index.link(names(text))[0] for name, text in sorted(texts.items())}
        p, r, f = bcubed(assigned, labels)
        print(f"  threshold {threshold:.2f}: {len(index.stories):3d} stories; B-cubed precision {p:.3f} "
              f"recall {r:.3f} F1 {f:.3f}")


def synthetic(n: int, rng: random.Random, vocabulary: int = 300_000) -> list[list[str]]:
    """Articles as name lists: 5 to 15 articles per invented event, each naming 4 of the event's 8
    names and 4 names drawn from the whole vocabulary."""
    articles: list[list[str]] = []
    while len(articles) < n:
        core = [f"n{rng.randrange(vocabulary)}" for _ in range(8)]
        for _ in range(rng.randint(5, 15)):
            articles.append(rng.sample(core, 4) + [f"n{int(rng.paretovariate(1.2)) % vocabulary}"
                                                   for _ in range(4)])
    rng.shuffle(articles)
    return articles[:n]


def scan_link(index: StoryIndex, article: list[str]) -> float:
    """The baseline: score the article against every story (no inverted index)."""
    vec = index.stats.vector(Counter(article))
    best = 0.0
    for story in index.stories.values():
        centroid = index.stats.vector(story.centroid)
        best = max(best, sum(v * centroid.get(t, 0.0) for t, v in vec.items()))
    return best


def speed(max_size: int) -> None:
    rng = random.Random(7)
    sizes = [s for s in (10_000, 100_000, 1_000_000) if s <= max_size]
    articles = synthetic(sizes[-1] + 1_000 * len(sizes), rng)
    stats = TermStats()
    for a in articles:
        stats.docs += 1
        stats.df.update(set(a))
    index = StoryIndex(stats, threshold=0.3)
    done = 0
    print("linking time per article (index of N archived articles; mean over 1,000 new articles):")
    for size in sizes:
        for a in articles[done:size]:
            index.link(a)
        done = size
        probe = articles[-1_000 * (sizes.index(size) + 1):][:1_000]  # articles not yet in the index
        start = time.perf_counter()
        for a in probe:
            index.link(a)
        linked = (time.perf_counter() - start) / len(probe)
        scan_n = 20 if size >= 100_000 else 100
        start = time.perf_counter()
        for a in probe[:scan_n]:
            scan_link(index, a)
        scanned = (time.perf_counter() - start) / scan_n
        print(f"  N = {size:>9,}: {len(index.stories):>7,} stories; index {linked * 1e3:7.3f} ms/article; "
              f"scan of every story {scanned * 1e3:9.1f} ms/article ({scanned / linked:,.0f}x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[2] / "shared")
    parser.add_argument("--max", type=int, default=1_000_000)
    args = parser.parse_args()
    if (args.shared / "data" / "event-clusters").is_dir():
        quality(args.shared)
    else:
        print(f"skipped quality: no event-clusters under {args.shared}")
    speed(args.max)


if __name__ == "__main__":
    main()
