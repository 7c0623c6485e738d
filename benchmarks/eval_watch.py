"""Watching stories: recall, false flags and kinds on the six stories of stories-dev, and the Doha watch.

In: ../shared/data/stories-dev (six real stories, a seed each), ../shared/seeds (the five Doha reports)
and ../shared/data/news-dev.jsonl. Out, printed (``--json``: one JSON object):

- for each stories-dev story: watching its seed file from its seed's date and replaying every other row
  of the file in publication order through the code the alert stage runs (:func:`alerts.replay.replay_story`,
  topics from the classify stage as shipped): recall (members flagged as the same report or a follow-up),
  false flags (any other row flagged — the other stories' members count as negatives, as do the hard
  negatives) and, of the flagged members, how many got the right kind; then the pooled figures;
- the Doha watch on news-dev (recall on ``doha_story`` excerpts, share of the other excerpts flagged) and
  how the four other Doha seeds relate to the first (all four should be the same report).

A linker is scored through :class:`Linker`: ``fold(story, ids)`` gives the linker to score a held-out
story or a held-out part of news-dev with. The hand-written linker fits nothing, so every fold is the
same; a linker whose weights are fitted on stories-dev must be fitted without the story it scores (leave
one story out) and, on news-dev, without any of news-dev (the Doha watch is scored once, on all its rows). Run:

    .venv/bin/python benchmarks/eval_watch.py [--shared ../shared] [--linker hand] [--brief] [--json]

``--linker learned``, ``learned-single``, ``learned-stack`` and ``learned-linear`` score the learned linker
(benchmarks/fit_linker.py: the bag of trees ``fit_linker.py`` writes, one model of trees, the bag weighed with the
hand-written decision, a logistic regression), each fold fitted without what it scores; ``--stability`` also scores
the Doha watch by each fold's model.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from wirewatch.alerts.replay import PastArticle, replay_story, term_stats
from wirewatch.alerts.stories import Relation
from wirewatch.process.backtest import InputArticle, run
from wirewatch.process.classifier import RuleSource, TopicClassifier
from wirewatch.process.model import bundled_training_file, read_examples, train
from wirewatch.process.rules import bundled_rules_dir

DOHA_DAY = datetime(2024, 8, 17, tzinfo=UTC)
KINDS = ("same_report", "follow_up")


@dataclass(frozen=True)
class Row:
    id: str
    story: str  # the story it belongs to ("" for none)
    relation: str  # seed, same_report, follow_up, member (kind unknown) or unrelated
    text: str  # title, a new line, then the text
    published: datetime | None
    lang: str = ""
    about: str = ""  # stories-dev: the story the row was collected for (a member, or a hard negative)


@dataclass
class Data:
    rows: list[Row]  # stories-dev
    seeds: dict[str, str]  # stories-dev story -> its seed's text
    doha_seeds: list[str]
    news_dev: list[Row]
    topics: dict[str, frozenset[str]]  # row id, "seed:<story>" or "doha<n>" -> topics the classify stage fires


def day(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value[:10]).replace(tzinfo=UTC) if value else None


def _jsonl(path: Path) -> Iterable[dict[str, Any]]:
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            yield json.loads(line)


def load(shared: Path) -> Data:
    """The three corpora, with the topics the shipped classifier fires on each text."""
    base = shared / "data" / "stories-dev"
    rows = [Row(r["id"], r["story"] if r["relation"] != "unrelated" else "", r["relation"],
                f"{r.get('title') or ''}\n{r.get('text') or ''}", day(r.get("date")), r.get("lang", ""), r["story"])
            for r in _jsonl(base / "stories-dev.jsonl")]
    seeds = {p.stem.removeprefix("seed-"): p.read_text(encoding="utf-8") for p in sorted(base.glob("seed-*.txt"))}
    doha_seeds = [p.read_text(encoding="utf-8") for p in sorted((shared / "seeds").glob("*.txt"))]
    news = []
    for r in _jsonl(shared / "data" / "news-dev.jsonl"):
        member = bool((r.get("labels") or {}).get("doha_story"))
        news.append(Row(r["id"], "doha" if member else "", "member" if member else "unrelated",
                        f"{r.get('title') or ''}\n{r.get('text') or ''}", day(r.get("date")), r.get("lang", "")))
    texts = {r.id: r.text for r in [*rows, *news]}
    texts.update({f"seed:{s}": t for s, t in seeds.items()})
    texts.update({f"doha{n}": t for n, t in enumerate(doha_seeds)})
    classifier = TopicClassifier(RuleSource(bundled_rules_dir()), train(read_examples(bundled_training_file())))
    items = []
    for key, text in texts.items():
        title, _, body = text.partition("\n")
        items.append(InputArticle(key, title or text[:200], body or text))
    topics = {v.id: frozenset(v.fired()) for v in run(classifier, items)}
    return Data(rows, seeds, doha_seeds, news, topics)


Replayer = Callable[[str, frozenset[str], datetime | None, list[PastArticle], list[str]], Mapping[str, Relation]]


class Linker(Protocol):
    name: str
    fitted: bool  # whether anything was fitted on stories-dev or news-dev (then folds must hold data out)

    def fold(self, story: str | None, held_out: frozenset[str]) -> Replayer:
        """The replay of a linker fitted without ``story`` (stories-dev) and the rows ``held_out`` (news-dev)."""
        ...


class HandWritten:
    """Today's linker (:func:`alerts.stories.relate`): nothing fitted, so every fold is the same."""

    fitted = False

    def __init__(self, threshold: float = 0.14) -> None:
        self.threshold = threshold
        self.name = f"hand-written (alerts/stories.py, related_threshold {threshold})"

    def fold(self, story: str | None, held_out: frozenset[str]) -> Replayer:
        def replay(seed: str, topics: frozenset[str], start: datetime | None, past: list[PastArticle],
                   archive: list[str]) -> Mapping[str, Relation]:
            return replay_story(seed, topics, start, past, term_stats(archive), self.threshold, use_shipped=False)
        return replay


def watch_story(story: str, data: Data, replay: Replayer) -> dict[str, Any]:
    seed_row = next(r for r in data.rows if r.about == story and r.relation == "seed")
    others = [r for r in data.rows if r is not seed_row]
    past = [PastArticle(r.id, r.text, r.published, data.topics[r.id]) for r in others]
    relations = replay(data.seeds[story], data.topics[f"seed:{story}"], seed_row.published, past,
                       [data.seeds[story], *(r.text for r in others)])
    members = [r for r in others if r.story == story]
    negatives = [r for r in others if r.story != story]
    found = [r for r in members if relations[r.id].related]
    right = [r for r in found if relations[r.id].kind == r.relation]
    wrong = [r for r in negatives if relations[r.id].related]
    return {"members": len(members), "found": len(found), "recall": len(found) / len(members),
            "negatives": len(negatives), "false_flags": len(wrong), "false_flag_share": len(wrong) / len(negatives),
            "right_kind": len(right), "right_kind_share": len(right) / len(found) if found else 0.0,
            "missed": [f"{r.id} ({r.lang}, {relations[r.id].reason})" for r in members
                       if not relations[r.id].related],
            "wrong_kind": [f"{r.id} ({r.lang}, {r.relation} taken as {relations[r.id].kind})" for r in found
                           if relations[r.id].kind != r.relation],
            "flagged_wrongly": [f"{r.id} ({r.lang}, {r.story or 'hard negative of ' + r.about}, "
                                f"{relations[r.id].similarity:.2f})" for r in wrong]}


def doha(data: Data, linker: Linker, without: str | None = None) -> dict[str, Any]:
    """The Doha watch on news-dev (a fitted linker: by the fit on everything but news-dev, the one fit_linker.py writes)
    and the four other Doha seeds, which retell the first the same day (``without``: by the fold fitted without
    that stories-dev story instead, to see how much the Doha watch moves with what the fit sees)."""
    seeds, dev = data.doha_seeds, data.news_dev
    seed_topics = data.topics["doha0"]
    retold = linker.fold(without, frozenset())(
        seeds[0], seed_topics, DOHA_DAY,
        [PastArticle(f"seed {n}", t, DOHA_DAY.replace(hour=12), data.topics[f"doha{n}"]) for n, t in
         enumerate(seeds[1:], 1)], list(seeds))
    past = [PastArticle(r.id, r.text, r.published, data.topics[r.id]) for r in dev]
    archive = [*seeds, *(r.text for r in dev)]
    relations = linker.fold(without, frozenset(r.id for r in dev))(seeds[0], seed_topics, DOHA_DAY, past, archive)
    members = [r for r in dev if r.story == "doha"]
    others = [r for r in dev if r.story != "doha"]
    found = [r for r in members if relations[r.id].related]
    wrong = [r for r in others if relations[r.id].related]
    return {"seeds": {n: r.kind for n, r in retold.items()}, "members": len(members), "found": len(found),
            "recall": len(found) / len(members), "others": len(others), "false_flags": len(wrong),
            "false_flag_share": len(wrong) / len(others),
            "missed": [f"{r.id} ({r.lang}, {relations[r.id].reason})" for r in members if not relations[r.id].related],
            "flagged_wrongly": [f"{r.id} ({r.lang}, {relations[r.id].similarity:.2f})" for r in wrong]}


def evaluate(data: Data, linker: Linker, stability: bool = False) -> dict[str, Any]:
    """Each story watched by the fold without it, pooled, and the Doha watch (``stability``: also the Doha watch
    by each fold's model, a fitted linker's spread)."""
    per_story = {story: watch_story(story, data, linker.fold(story, frozenset())) for story in sorted(data.seeds)}
    total = {k: sum(s[k] for s in per_story.values()) for k in ("members", "found", "negatives", "false_flags",
                                                                 "right_kind")}
    pooled = {**total, "recall": total["found"] / total["members"],
              "min_recall": min(s["recall"] for s in per_story.values()),
              "false_flag_share": total["false_flags"] / total["negatives"],
              "right_kind_share": total["right_kind"] / max(1, total["found"])}
    out = {"linker": linker.name, "scoring": "leave one story out" if linker.fitted else "nothing fitted",
           "stories": per_story, "pooled": pooled, "doha": doha(data, linker)}
    if stability and linker.fitted:
        out["doha_by_fold"] = {story: doha(data, linker, story) for story in sorted(data.seeds)}
    return out


def report(result: dict[str, Any], details: bool = True) -> None:
    print(f"linker: {result['linker']} ({result['scoring']}); topics of the shipped classifier")
    print(f"  {'story':10s} {'recall':>12s} {'false flags':>15s} {'right kind':>16s}")
    for name, s in result["stories"].items():
        print(f"  {name:10s} {s['found']:3d}/{s['members']:<3d} {s['recall']:.2f} {s['false_flags']:4d}/"
              f"{s['negatives']:<3d} {s['false_flag_share']:5.1%} {s['right_kind']:4d}/{s['found']:<3d} "
              f"{s['right_kind_share']:5.1%}")
        for what in ("missed", "wrong_kind", "flagged_wrongly") if details else ():
            if s[what]:
                print(f"      {what.replace('_', ' ')}: {'; '.join(s[what])}")
    p = result["pooled"]
    print(f"  pooled: recall {p['found']}/{p['members']} = {p['recall']:.3f} (lowest story {p['min_recall']:.2f}); "
          f"false flags {p['false_flags']}/{p['negatives']} = {p['false_flag_share']:.2%}; right kind "
          f"{p['right_kind']}/{p['found']} = {p['right_kind_share']:.1%}")
    d = result["doha"]
    print(f"Doha watch on news-dev: recall {d['found']}/{d['members']} = {d['recall']:.3f}; "
          f"false flags {d['false_flags']}/{d['others']} = {d['false_flag_share']:.2%}")
    if details:
        print(f"  missed: {'; '.join(d['missed']) or 'none'}")
        print(f"  flagged wrongly: {'; '.join(d['flagged_wrongly']) or 'none'}")
    print(f"  the four other Doha seeds: {d['seeds']}")
    if "doha_by_fold" in result:
        print("  the Doha watch by each fold's model (fitted without that story):")
        for story, f in result["doha_by_fold"].items():
            print(f"    without {story:10s} recall {f['found']}/{f['members']}, false flags {f['false_flags']}; "
                  f"missed {', '.join(m.split()[0] for m in f['missed']) or 'none'}")


def linkers(fp_target: float | None = None) -> dict[str, Callable[[Path, Data], Linker]]:
    """The linkers this script can score, by name (``fp_target``: a learned linker's threshold lets this share
    of its training negatives through; by default fit_linker.py's)."""
    def learned(trees: bool, bag: bool = True, stack: bool = False) -> Callable[[Path, Data], Linker]:
        def make(shared: Path, data: Data) -> Linker:
            sys.path.insert(0, str(Path(__file__).resolve().parent))
            from linker_folds import Learned

            return Learned(shared, data, trees, fp_target, bag, stack)
        return make
    return {"hand": lambda shared, data: HandWritten(), "learned": learned(True), "learned-linear": learned(False),
            "learned-single": learned(True, bag=False), "learned-stack": learned(True, stack=True)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[2] / "shared")
    parser.add_argument("--linker", choices=sorted(linkers()), action="append",
                        help="which linker to score (repeat to print several in one run; default: all)")
    parser.add_argument("--brief", action="store_true", help="no per-row lists")
    parser.add_argument("--fp-target", type=float, help="a learned linker lets this share of its training negatives in")
    parser.add_argument("--json", action="store_true", help="print one JSON object (a list with several linkers)")
    parser.add_argument("--stability", action="store_true", help="also the Doha watch by each fold's model")
    args = parser.parse_args()
    if not (args.shared / "data" / "stories-dev" / "stories-dev.jsonl").exists():
        sys.exit(f"skipped: no {args.shared / 'data' / 'stories-dev'} (pass --shared)")
    data = load(args.shared)
    made = linkers(args.fp_target)
    results = [evaluate(data, made[name](args.shared, data), args.stability) for name in (args.linker or sorted(made))]
    if args.json:
        print(json.dumps(results[0] if len(results) == 1 else results))
        return
    for result in results:
        report(result, not args.brief)


if __name__ == "__main__":
    main()
