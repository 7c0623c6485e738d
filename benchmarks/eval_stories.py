"""Story linking quality: the seeds, and the Doha story among real news of many languages.

In: ../shared/seeds (five versions of the reference report) and ../shared/data/news-dev.jsonl
(labeled excerpts; ``doha_story`` marks the reference story's versions and real follow-ups).
Out, printed: how each seed relates to the watched first seed; and, watching the first seed with
the classify stage's topics and the excerpts' dates (oldest first, as they would arrive), the recall
on ``doha_story`` excerpts and the share of the other excerpts wrongly linked. Run:

    .venv/bin/python benchmarks/eval_stories.py [--shared ../shared] [--threshold 0.14]
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path

from alerts.stories import StoryProfile, TermStats, relate
from process.backtest import read_articles, run
from process.classifier import RuleSource, TopicClassifier
from process.model import bundled_training_file, read_examples, train
from process.rules import bundled_rules_dir


def day(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value[:10]).replace(tzinfo=UTC) if value else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[2] / "shared")
    parser.add_argument("--threshold", type=float, default=0.14)
    args = parser.parse_args()
    dev_path = args.shared / "data" / "news-dev.jsonl"
    if not dev_path.exists():
        sys.exit(f"skipped: no {dev_path} (pass --shared)")
    seeds = [p.read_text(encoding="utf-8") for p in sorted((args.shared / "seeds").glob("*.txt"))]
    dev = sorted(read_articles(dev_path), key=lambda a: a.published or "")
    classifier = TopicClassifier(RuleSource(bundled_rules_dir()), train(read_examples(bundled_training_file())))
    topics = {v.id: v.fired() for v in run(classifier, dev)}
    seed_topics = classifier.tag(_as_article(seeds[0])).fired()

    stats = TermStats.with_background()
    for text in seeds:
        stats.add(text)
    for item in dev:
        stats.add(f"{item.title}\n{item.text}")
    story = StoryProfile("doha", "Doha talks")
    story.seed(seeds[0], {t.topic for t in seed_topics}, datetime(2024, 8, 17, tzinfo=UTC))
    print(f"watching seed 0 (topics {sorted(story.topics)}); threshold {args.threshold}")
    for n, text in enumerate(seeds[1:], start=1):
        r = relate(text, story, stats, args.threshold, datetime(2024, 8, 17, 12, tzinfo=UTC), story.topics)
        print(f"  seed {n}: {r.kind} (name similarity {r.similarity:.2f}; {r.reason})")

    tp = fp = fn = 0
    misses, false = [], []
    for item in dev:
        relation = relate(f"{item.title}\n{item.text}", story, stats, args.threshold, day(item.published),
                          topics[item.id])
        truth = bool(item.labels and item.labels.get("doha_story"))
        if relation.kind == "follow_up":
            story.learn(f"{item.title}\n{item.text}", day(item.published))
        if truth and relation.related:
            tp += 1
        elif relation.related:
            fp += 1
            false.append(f"{item.id} ({item.lang}, {relation.similarity:.2f})")
        elif truth:
            fn += 1
            misses.append(f"{item.id} ({item.lang}, {relation.reason})")
    others = len(dev) - tp - fn
    print(f"news-dev, doha_story: recall {tp}/{tp + fn} = {tp / (tp + fn):.3f}; "
          f"other excerpts linked {fp}/{others} = {fp / others:.1%}")
    print(f"  missed: {', '.join(misses)}")
    print(f"  wrongly linked: {', '.join(false) or 'none'}")


def _as_article(text: str):  # type: ignore[no-untyped-def]
    from process.backtest import InputArticle, as_article

    return as_article(InputArticle("seed0", text.splitlines()[0][:200], text))


if __name__ == "__main__":
    main()
