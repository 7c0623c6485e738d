"""The cost of the rule pass per article: the bundled pack and an older one, with and without the pre-check.

In: the 2,225 BBC articles of ../shared/data/bbc (read only) and, with ``--before REV``, the rule
files of that git revision. Out, printed: milliseconds of CPU per article to prepare the article's
words and score every topic, for each pack, with the cheap pre-check of process.rule_anchors (as the
classify stage runs) and without it (every pattern evaluated, as before the pre-check existed), all in
the same run; and whether both ways give the same weights. Run:

    .venv/bin/python benchmarks/bench_rules.py [--shared ../shared] [--before b6b60d9]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from eval_classifier import bbc_articles  # the script's folder is on the path
from wirewatch.process.rule_language import Document
from wirewatch.process.rules import RulePack, bundled_rules_dir, load_rules


def pack_at(rev: str, folder: Path) -> RulePack:
    root = Path(__file__).resolve().parents[1]
    names = subprocess.run(["git", "-C", str(root), "ls-tree", "--name-only", f"{rev}:process/rules"],
                           capture_output=True, text=True, check=True).stdout.split()
    for name in names:
        text = subprocess.run(["git", "-C", str(root), "show", f"{rev}:process/rules/{name}"], capture_output=True,
                              text=True, check=True).stdout
        (folder / name).write_text(text, encoding="utf-8")
    return load_rules(folder)


def every_pattern(pack: RulePack, topic: str, doc: Document) -> float:
    return sum(p.weight for p in pack.topics[topic].patterns if p.node.match(doc).ok)


def timed(pack: RulePack, texts: list[tuple[str, str]], pre_check: bool) -> tuple[float, list[float]]:
    weights = []
    start = time.process_time()
    for title, text in texts:
        doc = Document(title, text)
        for topic in pack.topics:
            weights.append(pack.score(topic, title, text, doc)[0] if pre_check else every_pattern(pack, topic, doc))
    return 1000 * (time.process_time() - start) / len(texts), weights


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[2] / "shared")
    parser.add_argument("--before", default="", metavar="REV", help="also the rule files of this git revision")
    args = parser.parse_args()
    if not (args.shared / "data" / "bbc").is_dir():
        sys.exit(f"skipped: no {args.shared / 'data' / 'bbc'} (pass --shared)")
    texts = [(a.title, a.text) for a in bbc_articles(args.shared)]
    with tempfile.TemporaryDirectory() as tmp:
        packs = [("bundled", load_rules(bundled_rules_dir()))]
        if args.before:
            packs.append((args.before, pack_at(args.before, Path(tmp))))
        print(f"{len(texts)} BBC articles; CPU per article for the words and every topic's rules:")
        for name, pack in packs:
            lines = sum(len(t.patterns) for t in pack.topics.values())
            with_check, a = timed(pack, texts, pre_check=True)
            without, b = timed(pack, texts, pre_check=False)
            print(f"  {name:8} ({lines:3} lines): with the pre-check {with_check:.2f} ms, "
                  f"every pattern {without:.2f} ms ({without / with_check:.1f}x); same weights: {a == b}")


if __name__ == "__main__":
    main()
