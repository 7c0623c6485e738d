"""Link cost of the watched-story linkers with a large archive: the learned one beside the hand-written one.

In: real texts of ../shared (news-dev and stories-dev, as the new articles and the archive's material) and the
shipped weights (alerts/data/linker_weights.json). Out, printed: the median and 90th-percentile CPU time per
new article of the alert stage's watch step (:class:`alerts.linker_stage.WatchLinker`: the article's keys
taken into the archive's frequencies and rivals, then related to each watch) when the archive already holds N
articles, for the learned linker and the hand-written one in the same run.

The archive of N articles is made of the real texts' keys, each copy with a few invented names of its own (so
that the archive's vocabulary and postings grow as a real archive's do); it is filled through the same calls
the stage makes for each archived article, less the text analysis, which only the new articles pay. When the weights
read the meaning signal, the learned linker's encoder keeps no vectors (each new article is encoded, as a new article
is in the stage; its model is loaded before the timing), and the encoder's own median per article is printed. Run:

    .venv/bin/python benchmarks/bench_linker.py [--sizes 10000 100000] [--watches 1] [--weights FILE]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

from wirewatch.alerts.linker import WEIGHTS_FILE, LinkModel, ModelFileError
from wirewatch.alerts.linker_encoder import Encoder
from wirewatch.alerts.linker_stage import WatchLinker
from wirewatch.alerts.stories import TermStats, names
from wirewatch.alerts.textkeys import Analyser

NEW_ARTICLES = 1_000


def texts(shared: Path) -> list[str]:
    out = []
    for path in (shared / "data" / "news-dev.jsonl", shared / "data" / "stories-dev" / "stories-dev.jsonl"):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                out.append(f"{row.get('title') or ''}\n{row.get('text') or ''}")
    return out


def fill(linker: WatchLinker, size: int, material: list[str], rng: random.Random) -> None:
    """``size`` archived articles: the material's keys, each copy with three invented names of its own."""
    analyses = [Analyser.default().analyse(t).keys for t in material]
    name_keys = [Counter(names(t)) for t in material]
    for n in range(size):
        k = n % len(material)
        invented = [f"zq{rng.randrange(size * 3):x}" for _ in range(3)]
        keys = analyses[k] + Counter(invented)
        if linker.model is not None:
            linker.keys.add_keys(keys)
            linker.rivals.add(f"a{n}", linker.keys.vector(keys))
        linker.names.docs += 1
        linker.names.df.update(set(name_keys[k]) | {i[:5] for i in invented})


def cost(linker: WatchLinker, material: list[str], seeds: list[str], rng: random.Random) -> list[float]:
    stories = [linker.story(f"w{n}", f"watch {n}", seed, {"ceasefire_talks"}, None) for n, seed in enumerate(seeds)]
    out = []
    for n in range(NEW_ARTICLES):
        text = rng.choice(material)
        start = time.process_time()
        linker.names.add(text)
        linker.archived(f"new{n}", text)
        for story in stories:
            linker.relate(story, f"new{n}", text, None, {"ceasefire_talks"})
        out.append((time.process_time() - start) * 1000)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[2] / "shared")
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--watches", type=int, default=1, help="watched stories each article is related to")
    parser.add_argument("--weights", type=Path, default=WEIGHTS_FILE, help="the learned linker's weights file")
    args = parser.parse_args()
    if not (args.shared / "data" / "news-dev.jsonl").exists():
        sys.exit(f"skipped: no {args.shared / 'data'} (pass --shared)")
    try:
        model = LinkModel.load(args.weights)
    except ModelFileError as exc:
        sys.exit(f"no learned linker to time: {exc}")
    material = texts(args.shared)
    seeds = [p.read_text(encoding="utf-8") for p in sorted((args.shared / "data" / "stories-dev").glob("seed-*.txt"))]
    seeds = (seeds * args.watches)[:args.watches]
    print(f"watch step per new article ({NEW_ARTICLES} new articles, {args.watches} watch(es); CPU ms, one core)")
    for size in args.sizes:
        row = []
        encoder = Encoder(cached=0) if model.needs_meaning else None
        if encoder is not None and encoder.vector("warm") is None:
            sys.exit("the weights read the meaning signal and the sentence encoder cannot be used (see the log)")
        for name, linker in (("hand-written", WatchLinker(TermStats.with_background(), 0.14, 120.0, use_shipped=False)),
                             ("learned", WatchLinker(TermStats.with_background(), 0.14, 120.0, model=model,
                                                     encoder=encoder))):
            fill(linker, size, material, random.Random(7))
            times = sorted(cost(linker, material, seeds, random.Random(11)))
            tail = times[int(len(times) * 0.9)]
            row.append(f"{name} median {statistics.median(times):6.2f} ms, 90th percentile {tail:6.2f}")
        print(f"  N = {size:>9,}: " + "; ".join(row))
    if model.needs_meaning:
        encoder, rng, spent = Encoder(cached=0), random.Random(11), []
        encoder.vector("warm")
        for _ in range(NEW_ARTICLES):
            text = rng.choice(material)
            start = time.process_time()
            encoder.vector(text)
            spent.append((time.process_time() - start) * 1000)
        print(f"  of which the sentence encoder alone: median {statistics.median(spent):.2f} ms per article")


if __name__ == "__main__":
    main()
