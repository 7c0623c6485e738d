"""Classifier quality and speed: the figures the topic editors and the quality gate rely on.

In: ../shared/data/news-dev.jsonl (labeled real excerpts), the topic labels of
../shared/data/stories-dev/stories-dev.jsonl (six ceasefire and nuclear-plant stories of other
conflicts, 17 languages) and the 2,225 BBC articles of ../shared/data/bbc (none about our topics);
all are read for evaluation only, none is trained on. Out, printed: precision, recall and F1 per topic
on news-dev and on stories-dev (combined, as the stage runs, and the rules alone), stories-dev per
story and per language; the false-positive rate on BBC; and the cost of tagging one article on one
core beside trafilatura's time to extract the same BBC articles rendered as HTML pages, in the same
run. ``--loso`` adds a leave-one-story-out check: each story scored by a model trained without the
bundled examples that were written about that story's conflict (``overlaps_story``). ``--json``
prints one JSON object instead (tests/test_quality_gate.py reads it). Run:

    .venv/bin/python benchmarks/eval_classifier.py [--shared ../shared] [--loso] [--json] [--no-speed]
        [--model-chars N]  # the model scored on the first N characters (default: process.model.MAX_MODEL_CHARS)
        [--before REV]   # also time the classify stage with the rules and examples of an older revision
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from wirewatch.process.backtest import InputArticle, Scores, Verdict, as_article, metrics, read_articles, run
from wirewatch.process.classifier import RuleSource, TopicClassifier
from wirewatch.process.model import TOPICS, bundled_training_file, features_and_classifier, read_examples, train
from wirewatch.process.rules import bundled_rules_dir

from wirewatch.schema import Article


def bbc_articles(shared: Path) -> list[InputArticle]:
    items = []
    for path in sorted((shared / "data" / "bbc" / "bbc").glob("*/*.txt")):
        raw = path.read_bytes().decode("utf-8", errors="replace").strip().splitlines()
        title, body = raw[0].strip(), "\n".join(raw[1:]).strip()
        items.append(InputArticle(f"{path.parent.name}/{path.stem}", title, body, labels={t: False for t in TOPICS}))
    return items


def story_rows(shared: Path) -> list[tuple[str, InputArticle]]:
    """(story, article) for every row of stories-dev, labels cut to the classifier's topics."""
    out = []
    for line in (shared / "data" / "stories-dev" / "stories-dev.jsonl").read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        labels = {t: bool(row["labels"][t]) for t in TOPICS}
        out.append((row["story"], InputArticle(row["id"], row.get("title") or "", row["text"], row.get("url", ""),
                                               row.get("date"), row.get("lang", ""), labels)))
    return out


def rules_only(verdicts: list[Verdict]) -> dict[str, Scores]:
    scores = {t: Scores() for t in TOPICS}
    for v in verdicts:
        for tag in v.tagged.topics:
            if tag.topic in scores and v.labels is not None:
                scores[tag.topic].count(bool(v.labels.get(tag.topic)), tag.rule_weight >= tag.rule_threshold)
    return scores


def grouped(verdicts: list[Verdict], keys: dict[str, str]) -> dict[str, dict[str, Scores]]:
    groups: dict[str, list[Verdict]] = defaultdict(list)
    for v in verdicts:
        groups[keys[v.id]].append(v)
    return {k: metrics(vs, TOPICS) for k, vs in sorted(groups.items())}


def misses(verdicts: list[Verdict]) -> dict[str, dict[str, list[str]]]:
    out: dict[str, dict[str, list[str]]] = {t: {"fn": [], "fp": []} for t in TOPICS}
    for v in verdicts:
        for t in TOPICS:
            truth, said = bool((v.labels or {}).get(t)), t in v.fired()
            if truth != said:
                out[t]["fn" if truth else "fp"].append(v.id)
    return out


def leave_one_story_out(rows: list[tuple[str, InputArticle]], rules: RuleSource,
                        base: list[dict[str, Any]]) -> list[Verdict]:
    """Score each story with a model that never saw a bundled example about that story's conflict.

    Some bundled examples were written about the same conflicts and places as the stories of
    stories-dev (in our own words; they say so in ``overlaps_story``). For each story, those
    examples are left out of the training set and the story's rows (members and hard negatives)
    are scored; pooled over the six stories. Nothing of stories-dev is ever trained on.
    """
    pooled: list[Verdict] = []
    for held in sorted({s for s, _ in rows}):
        examples = [e for e in base if held not in e.get("overlaps_story", ())]
        clf = TopicClassifier(rules, train(examples))
        pooled += run(clf, [a for s, a in rows if s == held])
    return pooled


def classifier_at(rev: str, folder: Path) -> TopicClassifier:
    """The classify stage with the rules, bundled examples and word features of git revision ``rev``
    (b6b60d9 or later), on today's rule engine."""
    root = Path(__file__).resolve().parents[1]

    def show(path: str) -> str:
        return subprocess.run(["git", "-C", str(root), "show", f"{rev}:{path}"], capture_output=True, text=True,
                              check=True).stdout

    names = subprocess.run(["git", "-C", str(root), "ls-tree", "--name-only", f"{rev}:process/rules"],
                           capture_output=True, text=True, check=True).stdout.split()
    (folder / "rules").mkdir()
    for name in names:
        (folder / "rules" / name).write_text(show(f"process/rules/{name}"), encoding="utf-8")
    (folder / "bootstrap.jsonl").write_text(show("process/training/bootstrap.jsonl"), encoding="utf-8")
    pipeline = features_and_classifier()  # with the word features as they were before issue 10
    pipeline.named_steps["features"].transformer_list[0][1].set_params(min_df=1, token_pattern=r"(?u)\b\w[\w'-]+\b")
    return TopicClassifier(RuleSource(folder / "rules"), train(read_examples(folder / "bootstrap.jsonl"),
                                                                pipeline=pipeline))


def tag_cpu(clf: TopicClassifier, articles: list[Article]) -> float:
    start = time.process_time()
    for i in range(0, len(articles), 50):  # in batches of 50, as the classify stage consumes them
        clf.tag_batch(articles[i:i + 50])
    return time.process_time() - start


def speed(clf: TopicClassifier, bbc: list[InputArticle], before: str) -> dict[str, float]:
    import trafilatura

    from wirewatch.devtools.render import Item, html_page

    pages = [html_page(Item(url="https://bbc.test/x", title=a.title, body=a.text.split("\n"),
                            published="2005-01-01T00:00:00Z", site="BBC")) for a in bbc]
    articles = [as_article(a) for a in bbc]
    start = time.process_time()
    for page in pages:
        trafilatura.extract(page)
    extract_cpu = time.process_time() - start
    out = {"articles": len(bbc), "extract_ms": 1000 * extract_cpu / len(bbc)}
    if before:
        with tempfile.TemporaryDirectory() as tmp:
            old = tag_cpu(classifier_at(before, Path(tmp)), articles)
        out |= {"before": before, "before_tag_ms": 1000 * old / len(bbc)}
    now = tag_cpu(clf, articles)
    return out | {"tag_ms": 1000 * now / len(bbc), "ratio": now / extract_cpu}


def line(name: str, s: Scores) -> str:
    return (f"precision {s.precision:.3f} recall {s.recall:.3f} F1 {s.f1:.3f} "
            f"(tp {s.tp}, fp {s.fp}, fn {s.fn})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[2] / "shared")
    parser.add_argument("--loso", action="store_true", help="also the leave-one-story-out check on stories-dev")
    parser.add_argument("--json", action="store_true", help="one JSON object instead of the report")
    parser.add_argument("--no-speed", action="store_true", help="skip the speed measurement")
    parser.add_argument("--before", default="", metavar="REV",
                        help="also time the rules and bundled examples of this git revision (e.g. b6b60d9)")
    parser.add_argument("--model-chars", type=int, default=0, metavar="N",
                        help="score the model on the first N characters of each document instead of "
                             "process.model.MAX_MODEL_CHARS (to measure a shorter lead; the stage is not changed)")
    args = parser.parse_args()
    if args.model_chars:
        from wirewatch.process import model as model_module

        model_module.MAX_MODEL_CHARS = args.model_chars  # read by TopicModel.probabilities at each call
    dev_path = args.shared / "data" / "news-dev.jsonl"
    if not dev_path.exists():
        sys.exit(f"skipped: no {dev_path} (pass --shared)")
    base = read_examples(bundled_training_file())
    model = train(base)
    rules = RuleSource(bundled_rules_dir())
    clf = TopicClassifier(rules, model)
    dev = list(read_articles(dev_path))
    dev_v = run(clf, dev)
    rows = story_rows(args.shared)
    st_v = run(clf, [a for _, a in rows])
    bbc = bbc_articles(args.shared)
    bbc_v = run(clf, bbc)
    bbc_fp = {t: [v.id for v in bbc_v if t in v.fired()] for t in TOPICS}
    result: dict[str, Any] = {
        "examples": model.meta["examples"], "bbc_articles": len(bbc),
        "news_dev": {t: s.as_json() for t, s in metrics(dev_v, TOPICS).items()},
        "stories_dev": {t: s.as_json() for t, s in metrics(st_v, TOPICS).items()},
        "bbc_fp_rate": {t: len(ids) / len(bbc) for t, ids in bbc_fp.items()},
        "bbc_fp": bbc_fp, "news_dev_errors": misses(dev_v), "stories_dev_errors": misses(st_v),
    }
    if args.loso:
        loso = leave_one_story_out(rows, rules, base)
        result["stories_dev_loso"] = {t: s.as_json() for t, s in metrics(loso, TOPICS).items()}
        result["stories_dev_loso_errors"] = misses(loso)
    if not args.no_speed:
        result["speed"] = speed(clf, bbc, args.before)
    if args.json:
        print(json.dumps(result))
        return
    print(f"model trained on {model.meta['examples']} bundled examples; rules version {rules.current().version}")
    for name, verdicts in (("news-dev", dev_v), ("stories-dev", st_v)):
        print(f"{name}: {len(verdicts)} labeled excerpts")
        alone = rules_only(verdicts)
        for topic, s in metrics(verdicts, TOPICS).items():
            print(f"  {topic:16} {line(topic, s)}; rules alone F1 {alone[topic].f1:.3f}")
    story_of = {a.id: s for s, a in rows}
    lang_of = {a.id: a.lang for _, a in rows}
    for title, keys in (("per story", story_of), ("per language", lang_of)):
        print(f"stories-dev {title} (recall tp/positives, false positives):")
        for key, scores in grouped(st_v, keys).items():
            cells = [f"{t} {s.tp}/{s.tp + s.fn} fp {s.fp}" for t, s in scores.items()]
            print(f"  {key:10} " + "; ".join(cells))
    for topic, errs in result["stories_dev_errors"].items():
        print(f"  {topic} missed: {' '.join(errs['fn']) or '-'}; wrongly fired: {' '.join(errs['fp']) or '-'}")
    if args.loso:
        print("stories-dev, leave one story out (each story scored by a model trained without the bundled examples "
              "about its conflict):")
        for topic, s in result["stories_dev_loso"].items():
            errs = result["stories_dev_loso_errors"][topic]
            print(f"  {topic:16} precision {s['precision']:.3f} recall {s['recall']:.3f} F1 {s['f1']:.3f} "
                  f"(tp {s['tp']}, fp {s['fp']}, fn {s['fn']}); missed: {' '.join(errs['fn']) or '-'}; "
                  f"wrongly fired: {' '.join(errs['fp']) or '-'}")
    print(f"BBC: {len(bbc)} articles, none about these topics")
    for topic, ids in bbc_fp.items():
        print(f"  {topic:16} false positives {len(ids)} = {len(ids) / len(bbc):.2%}  {ids[:8]}")
    if "speed" in result:
        sp = result["speed"]
        print(f"speed on one core, {sp['articles']} BBC articles in batches of 50: "
              f"tagging {sp['tag_ms']:.2f} ms/article;"
              f" trafilatura.extract on the same articles as pages {sp['extract_ms']:.2f} ms/article;"
              f" tagging costs {sp['ratio']:.2f}x extraction")
        if "before" in sp:
            print(f"  the same articles with the rules, bundled examples and model features of {sp['before']}: "
                  f"{sp['before_tag_ms']:.2f} ms/article (now {sp['tag_ms'] / sp['before_tag_ms']:.2f}x that)")


if __name__ == "__main__":
    main()
