"""Watching stories: recall, false flags and kinds on six real stories, leave one story out; and the Doha watch.

In: ../shared/data/stories-dev (six stories, a seed each) and, for the Doha watch, ../shared/seeds and
../shared/data/news-dev.jsonl. Out, printed: for each stories-dev story, watching its seed file from
its seed's date and replaying every other row in publication order through the code the alert stage
runs (:func:`alerts.replay.replay_story`, topics from the classify stage): recall (members flagged),
false flags (any other row flagged; the other stories' members count as negatives) and how many
flagged members got the right kind (same report or follow-up); then the pooled figures. The linker's
weights for each story are fitted on the five others (plus the Doha seeds and WikiRef220) by
``benchmarks/fit_linker.py`` — leave one story out; ``--shipped`` scores the shipped weights instead
(fitted on all six: not a held-out figure). Then the Doha watch on news-dev, each fifth of news-dev
scored with weights fitted without it, and how the four other seeds relate (shipped weights).
``--json``: one JSON object. Run:

    .venv/bin/python benchmarks/eval_watch.py [--shared ../shared] [--shipped] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from fit_linker import _load, fit

from alerts.linker import LinkModel
from alerts.replay import PastArticle, replay_story, term_stats

DOHA_DAY = datetime(2024, 8, 17, tzinfo=UTC)
FOLDS = 5


def watch_story(story: str, data: dict, model: LinkModel, labelled: bool = False) -> dict[str, object]:  # type: ignore[type-arg]
    rows, topics = data["rows"], data["fit_topics" if labelled else "topics"]
    seed_row = next(r for r in rows if r.story == story and r.relation == "seed")
    others = [r for r in rows if r is not seed_row]
    stats = term_stats([data["seeds"][story], *(r.text for r in others)])
    past = [PastArticle(r.id, r.text, r.published, topics[r.id]) for r in others]
    relations = replay_story(data["seeds"][story], topics[f"seed:{story}"], seed_row.published, past, stats,
                             model=model)
    members = [r for r in others if r.story == story]
    negatives = [r for r in others if r.story != story]
    found = [r for r in members if relations[r.id].related]
    right = [r for r in found if relations[r.id].kind == r.relation]
    wrong = [r for r in negatives if relations[r.id].related]
    return {"members": len(members), "found": len(found), "recall": len(found) / len(members),
            "negatives": len(negatives), "false_flags": len(wrong), "right_kind": len(right),
            "missed": [f"{r.id} ({r.lang}, {relations[r.id].similarity:.2f})" for r in members
                       if not relations[r.id].related],
            "wrong_kind": [f"{r.id} ({r.lang}, {r.relation})" for r in found if relations[r.id].kind != r.relation],
            "flagged_wrongly": [f"{r.id} ({r.lang}, {r.story or 'unrelated'}, {relations[r.id].similarity:.2f})"
                                for r in wrong]}


def doha(shared: Path, data: dict, shipped: bool, cache: dict[str, object],  # type: ignore[type-arg]
         labelled: bool = False) -> dict[str, object]:
    """The Doha watch on news-dev and the four other seeds. Unless ``shipped``, news-dev is cut in five
    (by id): each fifth is scored by a replay whose weights were fitted without it."""
    seeds, dev, topics = data["doha"], data["news_dev"], data["fit_topics" if labelled else "topics"]
    seed_topics = topics["doha0"]
    model = LinkModel.load()
    retold = replay_story(seeds[0], seed_topics, DOHA_DAY,
                          [PastArticle(f"seed {n}", t, DOHA_DAY.replace(hour=12), seed_topics)
                           for n, t in enumerate(seeds[1:], 1)], term_stats(seeds), model=model)
    stats = term_stats([*seeds, *(r.text for r in dev)])
    past = [PastArticle(r.id, r.text, r.published, topics[r.id]) for r in dev]
    folds = [frozenset()] if shipped else [frozenset(r.id for r in dev[k::FOLDS]) for k in range(FOLDS)]
    relations = {}
    for fold in folds:
        fitted = model if shipped else fit(shared, cache=cache, hold_out=fold, labelled_topics=labelled)
        replayed = replay_story(seeds[0], seed_topics, DOHA_DAY, past, stats, model=fitted)
        relations.update({i: r for i, r in replayed.items() if shipped or i in fold})
    truth = {r.id: r.story == "doha" for r in dev}
    found = [i for i, t in truth.items() if t and relations[i].related]
    wrong = [i for i, t in truth.items() if not t and relations[i].related]
    others = sum(1 for t in truth.values() if not t)
    return {"seeds": {n: r.kind for n, r in retold.items()}, "doha_story": sum(truth.values()),
            "found": len(found), "recall": len(found) / sum(truth.values()), "others": others,
            "false_flags": len(wrong), "false_flag_share": len(wrong) / others,
            "missed": [i for i, t in truth.items() if t and not relations[i].related], "flagged_wrongly": wrong}


def evaluate(shared: Path, shipped: bool, labelled: bool = False) -> dict[str, object]:
    cache: dict[str, object] = {}
    data = _load(shared, cache)
    stories = sorted(data["seeds"])  # type: ignore[call-overload]
    per_story = {}
    for story in stories:
        model = LinkModel.load() if shipped else fit(shared, exclude=story, cache=cache, labelled_topics=labelled)
        per_story[story] = watch_story(story, data, model, labelled)  # type: ignore[arg-type]
    pooled_members = sum(s["members"] for s in per_story.values())  # type: ignore[misc]
    pooled_found = sum(s["found"] for s in per_story.values())  # type: ignore[misc]
    pooled_neg = sum(s["negatives"] for s in per_story.values())  # type: ignore[misc]
    pooled_wrong = sum(s["false_flags"] for s in per_story.values())  # type: ignore[misc]
    pooled_right = sum(s["right_kind"] for s in per_story.values())  # type: ignore[misc]
    return {"weights": "shipped" if shipped else "leave-one-story-out", "stories": per_story,
            "pooled": {"recall": pooled_found / pooled_members, "min_recall": min(
                s["recall"] for s in per_story.values()),  # type: ignore[type-var]
                "false_flag_share": pooled_wrong / pooled_neg, "false_flags": pooled_wrong,
                "right_kind_share": pooled_right / max(1, pooled_found)},
            "topics": "labelled" if labelled else "classifier", "doha": doha(shared, data, shipped, cache, labelled)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[2] / "shared")
    parser.add_argument("--shipped", action="store_true", help="score the shipped weights (not held out)")
    parser.add_argument("--labelled-topics", action="store_true",
                        help="fit and replay with the labellers' topics: a classify stage that agrees with the labels")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    if not (args.shared / "data" / "stories-dev" / "stories-dev.jsonl").exists():
        sys.exit(f"skipped: no {args.shared / 'data' / 'stories-dev'} (pass --shared)")
    result = evaluate(args.shared, args.shipped, args.labelled_topics)
    if args.json:
        print(json.dumps(result))
        return
    print(f"stories-dev, weights {result['weights']}, topics of the {result['topics']}:")
    print(f"  {'story':10s} {'recall':>12s} {'false flags':>14s} {'right kind':>12s}")
    for name, s in result["stories"].items():  # type: ignore[attr-defined]
        print(f"  {name:10s} {s['found']:3d}/{s['members']:<3d} {s['recall']:.2f} {s['false_flags']:4d}/"
              f"{s['negatives']:<3d} {s['false_flags'] / s['negatives']:5.1%} {s['right_kind']:4d}/{s['found']:<3d}")
        for what in ("missed", "wrong_kind", "flagged_wrongly"):
            if s[what]:
                print(f"      {what.replace('_', ' ')}: {', '.join(s[what])}")
    p = result["pooled"]
    print(f"  pooled: recall {p['recall']:.3f} (lowest story {p['min_recall']:.2f}); false flags "  # type: ignore[index]
          f"{p['false_flags']} = {p['false_flag_share']:.2%}; right kind {p['right_kind_share']:.1%}")  # type: ignore[index]
    d = result["doha"]
    print(f"Doha watch on news-dev: recall {d['found']}/{d['doha_story']} = {d['recall']:.3f}; "  # type: ignore[index]
          f"false flags {d['false_flags']}/{d['others']} = {d['false_flag_share']:.2%}")  # type: ignore[index]
    print(f"  missed: {', '.join(d['missed']) or 'none'}; flagged wrongly: {', '.join(d['flagged_wrongly']) or 'none'}")  # type: ignore[index]
    print(f"  the four other seeds: {d['seeds']}")  # type: ignore[index]


if __name__ == "__main__":
    main()
