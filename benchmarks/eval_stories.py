"""Story linking quality: the seeds, and the Doha story among real news of many languages.

In: ../shared/seeds (five versions of the reference report) and ../shared/data/news-dev.jsonl
(labeled excerpts; ``doha_story`` marks the reference story's versions and real follow-ups).
Out, printed: how each seed relates to the watched first seed; and, watching the first seed with
the classify stage's topics and the excerpts' dates (oldest first, as they would arrive), the recall
on ``doha_story`` excerpts and the share of the other excerpts wrongly linked. ``--json`` prints the
same as one JSON object (the quality gate in tests/test_quality_gate.py reads it). Run:

    .venv/bin/python benchmarks/eval_stories.py [--shared ../shared] [--threshold 0.14] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

from wirewatch.alerts.replay import PastArticle, replay_story, term_stats
from wirewatch.process.backtest import InputArticle, as_article, read_articles, run
from wirewatch.process.classifier import RuleSource, TopicClassifier
from wirewatch.process.model import bundled_training_file, read_examples, train
from wirewatch.process.rules import bundled_rules_dir

SEED_DAY = datetime(2024, 8, 17, tzinfo=UTC)


def day(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value[:10]).replace(tzinfo=UTC) if value else None


def evaluate(shared: Path, threshold: float) -> dict[str, object]:
    seeds = [p.read_text(encoding="utf-8") for p in sorted((shared / "seeds").glob("*.txt"))]
    dev = list(read_articles(shared / "data" / "news-dev.jsonl"))
    classifier = TopicClassifier(RuleSource(bundled_rules_dir()), train(read_examples(bundled_training_file())))
    fired = {v.id: frozenset(v.fired()) for v in run(classifier, dev)}
    seed_topics = {t.topic for t in classifier.tag(as_article(InputArticle("seed0", seeds[0][:200], seeds[0])))
                   .fired()}

    seed_stats = term_stats(seeds)
    retold = replay_story(seeds[0], seed_topics, SEED_DAY,
                          [PastArticle(f"seed {n}", text, SEED_DAY.replace(hour=12), frozenset(seed_topics))
                           for n, text in enumerate(seeds[1:], start=1)], seed_stats, threshold)

    stats = term_stats([*seeds, *(f"{a.title}\n{a.text}" for a in dev)])
    past = [PastArticle(a.id, f"{a.title}\n{a.text}", day(a.published), fired[a.id]) for a in dev]
    relations = replay_story(seeds[0], seed_topics, SEED_DAY, past, stats, threshold)
    truth = {a.id: bool(a.labels and a.labels.get("doha_story")) for a in dev}
    found = [i for i, t in truth.items() if t and relations[i].related]
    missed = [i for i, t in truth.items() if t and not relations[i].related]
    wrong = [i for i, t in truth.items() if not t and relations[i].related]
    others = sum(1 for t in truth.values() if not t)
    langs = {a.id: a.lang for a in dev}
    return {
        "threshold": threshold, "seed_topics": sorted(seed_topics),
        "seeds": {n: {"relation": r.kind, "similarity": r.similarity, "reason": r.reason} for n, r in retold.items()},
        "doha_story": len(found) + len(missed), "found": len(found), "recall": len(found) / (len(found) + len(missed)),
        "others": others, "others_linked": len(wrong), "others_linked_share": len(wrong) / others,
        "missed": [f"{i} ({langs[i]}, {relations[i].reason})" for i in missed],
        "wrongly_linked": [f"{i} ({langs[i]}, {relations[i].similarity:.2f})" for i in wrong],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[2] / "shared")
    parser.add_argument("--threshold", type=float, default=0.14)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    if not (args.shared / "data" / "news-dev.jsonl").exists():
        sys.exit(f"skipped: no {args.shared / 'data' / 'news-dev.jsonl'} (pass --shared)")
    result = evaluate(args.shared, args.threshold)
    if args.json:
        print(json.dumps(result))
        return
    print(f"watching seed 0 (topics {result['seed_topics']}); threshold {args.threshold}")
    for name, r in result["seeds"].items():  # type: ignore[attr-defined]
        print(f"  {name}: {r['relation']} (name similarity {r['similarity']:.2f}; {r['reason']})")
    print(f"news-dev, doha_story: recall {result['found']}/{result['doha_story']} = {result['recall']:.3f}; "
          f"other excerpts linked {result['others_linked']}/{result['others']} = {result['others_linked_share']:.1%}")
    print(f"  missed: {', '.join(result['missed']) or 'none'}")  # type: ignore[arg-type]
    print(f"  wrongly linked: {', '.join(result['wrongly_linked']) or 'none'}")  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
