"""Story linking: clustering quality on two labelled sets, each choosing for the other, and linking time.

In: ../shared/data/event-clusters (WikiRef220: 220 English articles labelled by event or topic) and a
development set made of ../shared/data/stories-dev (six stories in 15 languages, their members one
label each) with ../shared/data/news-dev.jsonl (the ``doha_story`` members one more label); the other
rows of both (hard negatives, unlabelled news) stream through the index as distractors: one that
joins a story counts against its precision, and they are not scored themselves. Articles are linked
in publication order with the product's window, against the key frequencies of the whole set (as
a running index has them from its archive; no label is used). Speed: articles made from the real
articles' keys, recombined into events (real_texts.py: the keys of 2,783 real texts computed once), dated
as a stream; or, with ``--stream invented``, keys drawn for invented events. Out, printed:

- B-cubed precision, recall and F1 on both sets at every threshold of the grid, for the index's keys
  (:func:`alerts.story_index.story_keys`) and, as the baseline, for the capitalised names the index
  used before (:func:`alerts.stories.names`);
- with ``--cold``, the same from an empty archive (key frequencies learnt as the articles come);
- the threshold chosen on one set (its best F1) and the F1 it gives on the other, both ways;
- the CPU time to link one article (median, 90th percentile, mean of 1,000) when the index already holds
  10k, 100k and 1M articles (``--sizes``), beside the baseline of scoring every live story (a scan), the
  first size's index measured again beside each later size (the machine is shared), and, with
  ``--baseline``, another checkout's index fed the same articles; what the index holds at each size
  (``held()``) and the resident memory; and the cost of computing an article's keys (beside ``names``);
- an article's keys as the alert stage computes them, CPU per article over the real texts, and, at each size, the
  whole link step (those keys computed from a real text, then the link), with ``--keys-baseline`` another
  checkout's key functions beside. Run:

    .venv/bin/python benchmarks/bench_stories.py [--shared ../shared] [--max 1000000] [--per-day 20000]
    .venv/bin/python benchmarks/bench_stories.py --no-quality --baseline /tmp/base/alerts/story_index.py
    .venv/bin/python benchmarks/bench_stories.py --no-quality --keys-baseline /tmp/base --max 0  # the keys only
"""

from __future__ import annotations

import argparse
import copy
import csv
import importlib.util
import json
import random
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from real_texts import event_of_the_moment, real_texts, recombined
from wirewatch.alerts.stories import names
from wirewatch.alerts.story_index import KeyStats, StoryIndex, bcubed, story_keys

GRID = (0.03, 0.05, 0.07, 0.09, 0.11, 0.13, 0.15, 0.20, 0.30)
Item = tuple[str, str, datetime | None]


class Labelled:
    def __init__(self, name: str, items: list[Item], labels: dict[str, str], scored: set[str]) -> None:
        self.name, self.items, self.labels, self.scored = name, items, labels, scored


def wikiref(shared: Path) -> Labelled:
    base = shared / "data" / "event-clusters"
    with open(base / "labels_wikiref220.csv", encoding="utf-8") as fh:
        labels = {r["file"]: r["topic"] for r in csv.DictReader(fh)}
    items: list[Item] = []
    for name in sorted(labels):
        raw = (base / "WikiRef220" / name).read_bytes()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("cp1252")
        items.append((name, text.replace("\r\n", "\n"), None))
    return Labelled("WikiRef220", items, labels, set(labels))


def development(shared: Path) -> Labelled:
    items: list[Item] = []
    labels: dict[str, str] = {}
    scored: set[str] = set()
    with open(shared / "data" / "stories-dev" / "stories-dev.jsonl", encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            member = row["relation"] != "unrelated"
            items.append((row["id"], f"{row['title']}\n{row['text']}", datetime.fromisoformat(row["date"][:10])))
            labels[row["id"]] = row["story"] if member else f"other:{row['id']}"
            if member:
                scored.add(row["id"])
    with open(shared / "data" / "news-dev.jsonl", encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            key = f"news-dev:{row['id']}"
            items.append((key, f"{row['title']}\n{row['text']}", datetime.fromisoformat(row["date"][:10])))
            labels[key] = "doha_story" if row["labels"].get("doha_story") else f"other:{key}"
            if row["labels"].get("doha_story"):
                scored.add(key)
    items.sort(key=lambda item: (item[2] or datetime.min, item[0]))
    return Labelled("stories-dev + news-dev", items, labels, scored)


def archive_stats(keyed: Iterable[Counter[str]]) -> KeyStats:
    """Key frequencies of the whole set, as a running index has them from its archive (the alert stage
    restores the window's articles before it links new ones): the labels play no part."""
    stats = KeyStats()
    for keys in keyed:
        stats.add(keys)
    return stats


def grid(data: Labelled, keys: Callable[[str], Counter[str]], cold: bool = False
         ) -> dict[float, tuple[int, float, float, float]]:
    keyed = [(i, keys(text), when) for i, text, when in data.items]
    out = {}
    for threshold in GRID:
        index = StoryIndex(threshold, stats=None if cold else archive_stats(k for _, k, _ in keyed))
        assigned = {i: index.link(k, when)[0] for i, k, when in keyed}
        out[threshold] = (len(set(assigned.values())), *bcubed(assigned, data.labels, data.scored))
    return out


def quality(shared: Path, cold: bool = False) -> None:
    sets = [wikiref(shared), development(shared)]
    for data in sets:
        print(f"{data.name}: {len(data.items)} articles, {len(data.scored)} scored in "
              f"{len({data.labels[i] for i in data.scored})} labels")
    variants: list[tuple[str, Callable[[str], Counter[str]]]] = [
        ("keys (story_keys)", story_keys), ("capitalised names (before)", lambda t: Counter(names(t)))]
    for label, keys in variants:
        print(f"\n{label}: B-cubed precision / recall / F1 (stories)")
        results = {data.name: grid(data, keys, cold) for data in sets}
        print(f"  {'threshold':>9}  " + "  ".join(f"{d.name:>30}" for d in sets))
        for threshold in GRID:
            cells = []
            for data in sets:
                n, p, r, f = results[data.name][threshold]
                cells.append(f"{p:.3f} / {r:.3f} / {f:.3f} ({n:3d})")
            print(f"  {threshold:9.2f}  " + "  ".join(f"{c:>30}" for c in cells))
        for chooser, scored in ((sets[1], sets[0]), (sets[0], sets[1])):
            best = max(GRID, key=lambda t: (results[chooser.name][t][3], -t))
            print(f"  chosen on {chooser.name}: threshold {best:.2f} (F1 {results[chooser.name][best][3]:.3f} there)"
                  f" -> {scored.name} F1 {results[scored.name][best][3]:.3f}")
    texts = [text for data in sets for _, text, _ in data.items]
    for label, fn in (("story_keys", story_keys), ("names", names)):
        start = time.process_time()
        for text in texts:
            fn(text)
        print(f"computing an article's {label}: {(time.process_time() - start) / len(texts) * 1e3:.2f} ms CPU "
              f"(mean over the {len(texts)} texts)")


def synthetic(rng: random.Random, per_day: float, vocabulary: int = 300_000,
              start: datetime = datetime(2025, 1, 1)) -> Iterator[tuple[Counter[str], datetime]]:
    """Articles as key counts, dated as a stream of ``per_day``: each tells one of the events of the
    moment (a new event starts with one article in eight) with 20 of the event's 40 keys, plus 80
    keys drawn from the whole vocabulary (a heavy-tailed draw, as words are)."""
    events: list[list[str]] = []
    i = 0
    while True:
        event = event_of_the_moment(events, rng, lambda: [f"e{rng.randrange(vocabulary)}" for _ in range(40)])
        keys = Counter(rng.sample(event, 20) + [f"w{int(rng.paretovariate(1.1)) % vocabulary}" for _ in range(80)])
        yield keys, start + timedelta(days=i / per_day)
        i += 1


def scan(index: StoryIndex, keys: Counter[str]) -> float:
    """The baseline: score the article against every live story (no inverted index)."""
    vectors = index.stats.vectors(keys)
    return max((index.similarity(vectors, story) for story in index.stories.values()), default=0.0)


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def keyed_stream(kind: str, shared: Path, per_day: float) -> Iterator[tuple[Counter[str], datetime]]:
    """The articles the index is filled with: recombined from the real articles' keys (``real``, see
    :func:`real_texts.recombined`), or invented keys (``invented``, :func:`synthetic`)."""
    if kind == "invented":
        return synthetic(random.Random(7), per_day)
    texts = real_texts(shared)
    if not texts:
        raise SystemExit(f"no real texts under {shared}/data: run with --stream invented")
    start = time.process_time()
    real = [story_keys(t) for t in texts]
    print(f"\nkeys of {len(real):,} real articles computed once ({time.process_time() - start:.1f} s CPU; "
          f"{sum(len(k) for k in real) / len(real):.0f} keys an article)")
    return recombined(real, random.Random(7), per_day)


def baseline_index(path: Path) -> type[StoryIndex]:
    """The ``StoryIndex`` of another checkout's alerts/story_index.py (the baseline beside this one, same run)."""
    return _module(path, "baseline_story_index").StoryIndex  # type: ignore[no-any-return]


def _module(path: Path, name: str) -> Any:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None, path
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def probe_times(index: StoryIndex, probe: list[tuple[Counter[str], datetime]],
                each: list[float] | None = None) -> tuple[float, float, float]:
    """Median, 90th percentile and mean CPU time of linking each probe article (``each``: filled with them)."""
    times = []
    for keys, when in probe:
        start = time.process_time()
        index.link(keys, when)
        times.append(time.process_time() - start)
    if each is not None:
        each[:] = times
    return spread(times)


def spread(times: list[float]) -> tuple[float, float, float]:
    """Median, 90th percentile and mean."""
    ordered = sorted(times)
    return ordered[len(ordered) // 2], ordered[int(len(ordered) * 0.9)], sum(ordered) / len(ordered)


KeyFunction = Callable[[str], object]


def key_functions(baseline: Path | None) -> dict[str, tuple[KeyFunction, Callable[[], None]]]:
    """What the alert stage computes for each article before it links it (:meth:`ArticleKeys.of`: its story keys
    and its name keys), here and, with ``baseline`` (another checkout), there; each with what empties its
    memory of words (nothing, for code without one), so that a timing starts cold."""
    from wirewatch.alerts.key_store import ArticleKeys
    from wirewatch.alerts.stories import lead_name_key
    from wirewatch.alerts.textkeys import Analyser

    def forget() -> None:
        Analyser.default()._word_keys.cache_clear()  # type: ignore[attr-defined]
        lead_name_key.cache_clear()

    out: dict[str, tuple[KeyFunction, Callable[[], None]]] = {"keys here": (ArticleKeys.of, forget)}
    if baseline is not None:
        # the baseline's key modules on its own gazetteer: they import it by the package's name while they load
        ours = sys.modules.get("wirewatch.alerts.gazetteer")
        sys.modules["wirewatch.alerts.gazetteer"] = _module(baseline / "alerts" / "gazetteer.py", "baseline_gazetteer")
        try:
            textkeys, stories = (_module(baseline / "alerts" / f"{m}.py", f"baseline_{m}")
                                 for m in ("textkeys", "stories"))
        finally:
            if ours is not None:
                sys.modules["wirewatch.alerts.gazetteer"] = ours
        analyser = textkeys.Analyser.default()

        def forget_baseline() -> None:
            for memory in (getattr(analyser, "_word_keys", None), getattr(stories, "lead_name_key", None)):
                if hasattr(memory, "cache_clear"):
                    memory.cache_clear()  # type: ignore[union-attr]

        out["keys of the baseline"] = (lambda body: (analyser.analyse(body).keys, frozenset(stories.names(body))),
                                       forget_baseline)
    return out


def keys_cost(texts: list[str], functions: dict[str, tuple[KeyFunction, Callable[[], None]]], rounds: int = 3) -> None:
    """CPU per article of each key function over the real texts, in alternating rounds, each from a cold memory."""
    for fn, _ in functions.values():
        fn(texts[0])  # tables built, imports done
    cpu: dict[str, list[float]] = {name: [] for name in functions}
    for _ in range(rounds):
        for name, (fn, forget) in functions.items():
            forget()
            start = time.process_time()
            for text in texts:
                fn(text)
            cpu[name].append((time.process_time() - start) / len(texts))
    print(f"\ncomputing an article's keys (story keys and name keys, as the alert stage does) over {len(texts):,} "
          f"real texts, {rounds} alternating rounds, each from a cold word memory: mean ms CPU per article, best "
          "round (all rounds)")
    for name, each in cpu.items():
        print(f"  {name:>22}: {min(each) * 1e3:.3f} ms ({', '.join(f'{c * 1e3:.3f}' for c in each)})")


def whole_step(functions: dict[str, tuple[KeyFunction, Callable[[], None]]], texts: list[str],
               links: list[float]) -> str:
    """The whole link step of each probe article: its keys computed from a real text (cold word memory at the
    start of the probe), then its link (the times measured just before)."""
    cells = []
    for name, (fn, forget) in functions.items():
        forget()
        times = []
        for text, link in zip(texts, links, strict=False):
            start = time.process_time()
            fn(text)
            times.append(time.process_time() - start + link)
        median, p90, mean = spread(times)
        cells.append(f"{name} + link {median * 1e3:.3f} / {p90 * 1e3:.3f} / {mean * 1e3:.3f}")
    return "whole link step, ms/article: " + "; ".join(cells)


def speed(max_size: int, per_day: float, stream: Iterator[tuple[Counter[str], datetime]], kind: str,
          baseline: type[StoryIndex] | None = None, baseline_max: int = 0,
          sizes: tuple[int, ...] = (10_000, 100_000, 1_000_000),
          keying: tuple[list[str], dict[str, tuple[KeyFunction, Callable[[], None]]]] | None = None) -> None:
    """``keying``: real texts and key functions, for the whole link step (keys, then link) of each probe article."""
    sizes = tuple(s for s in sorted(sizes) if s <= max_size)
    indexes = {"index": StoryIndex(threshold=0.07)}
    if baseline is not None:
        indexes["baseline"] = baseline(threshold=0.07)
    done = 0
    reference: StoryIndex | None = None  # the index at the first size, probed again beside each later size
    reference_probe: list[tuple[Counter[str], datetime]] = []
    print(f"\nlinking time per article ({kind} keys; index of N archived articles, {per_day:,.0f} a day, window "
          "7 days; CPU time of each of 1,000 new articles: median / 90th percentile / mean):")
    for size in sizes:
        if size > baseline_max:
            indexes.pop("baseline", None)
        fill = dict.fromkeys(indexes, 0.0)
        while done < size:
            keys, when = next(stream)
            for name, index in indexes.items():
                start = time.process_time()
                index.link(keys, when)
                fill[name] += time.process_time() - start
            done += 1
        probe = [next(stream) for _ in range(1_000)]
        if reference is None:
            reference, reference_probe = copy.deepcopy(indexes["index"]), probe
        else:  # the machine is shared: the first size's figure, measured again now
            median, p90, mean = probe_times(copy.deepcopy(reference), reference_probe)
            print(f"  N = {sizes[0]:>9,}    again: {median * 1e3:.3f} / {p90 * 1e3:.3f} / {mean * 1e3:.3f} ms/article "
                  "(the same index and probe as at the first size, measured now)", flush=True)
        for name, index in indexes.items():
            links: list[float] = []
            median, p90, mean = probe_times(index, probe, links)
            line = (f"  N = {size:>9,} {name:>8}: {median * 1e3:.3f} / {p90 * 1e3:.3f} / {mean * 1e3:.3f} ms/article; "
                    f"held {index.held()}; {index.evicted:,} stories evicted; filling took {fill[name]:,.0f} s CPU")
            if name == "index":
                scan_n = 5 if len(index.stories) > 20_000 else 50
                start = time.process_time()
                for keys, _ in probe[:scan_n]:
                    scan(index, keys)
                scanned = (time.process_time() - start) / scan_n
                line += f"; scan of every live story {scanned * 1e3:.1f} ms/article ({scanned / median:,.0f}x)"
                if keying is not None:  # another 1,000 real texts at each size
                    texts = [keying[0][(done + j) % len(keying[0])] for j in range(len(probe))]
                    line += "\n    " + whole_step(keying[1], texts, links)
            print(line, flush=True)
        done += len(probe)
        print(f"  RSS {rss_mb():,.0f} MB (the process, with {' and '.join(indexes)})", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[2] / "shared")
    parser.add_argument("--max", type=int, default=1_000_000)
    parser.add_argument("--per-day", type=float, default=20_000, help="synthetic articles a day")
    parser.add_argument("--no-quality", action="store_true")
    parser.add_argument("--cold", action="store_true", help="link from an empty archive: IDF learnt as articles come")
    parser.add_argument("--stream", choices=("real", "invented"), default="real",
                        help="fill the index with keys recombined from real articles, or with invented keys")
    parser.add_argument("--baseline", type=Path, help="another checkout's alerts/story_index.py, linked beside")
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000],
                        help="archive sizes at which linking is measured (the first is measured again beside each)")
    parser.add_argument("--baseline-max", type=int, default=100_000, help="the largest N the baseline is run to")
    parser.add_argument("--keys-baseline", type=Path,
                        help="another checkout (its alerts/textkeys.py and stories.py): its key computation beside")
    args = parser.parse_args()
    if args.no_quality:
        pass
    elif (args.shared / "data" / "event-clusters").is_dir() and (args.shared / "data" / "stories-dev").is_dir():
        quality(args.shared, args.cold)
    else:
        print(f"skipped quality: no event-clusters or stories-dev under {args.shared}")
    texts = real_texts(args.shared)
    functions = key_functions(args.keys_baseline)
    if texts:
        keys_cost(texts, functions)
    if args.max > 0:
        speed(args.max, args.per_day, keyed_stream(args.stream, args.shared, args.per_day), args.stream,
              baseline_index(args.baseline) if args.baseline else None, args.baseline_max, tuple(args.sizes),
              (texts, functions) if texts else None)


if __name__ == "__main__":
    main()
