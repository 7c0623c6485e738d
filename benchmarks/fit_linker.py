"""Fit the story linker's weights on labelled pairs and write them to alerts/data/linker_weights.json.

In: ../shared — stories-dev (six watched stories: each row paired with each story's seed and the
members seen before it), the Doha watch (its first seed against the four others, news-dev's
``doha_story`` excerpts and everything else), and WikiRef220 (event clusters: article pairs of one
event against pairs of two), and wirewatch's own demo corpus. Out: the weights of the two logistic
regressions of :mod:`alerts.linker`
(belongs to the story? a development or the same report?) and the watch threshold, as JSON numbers —
no text. ``--exclude STORY`` leaves a stories-dev story out (``benchmarks/eval_watch.py`` does so
for each story in turn, and leaves a fifth of news-dev out for each fifth it scores). Run:

    .venv/bin/python benchmarks/fit_linker.py [--shared ../shared] [--out alerts/data/linker_weights.json]
"""

from __future__ import annotations

import argparse
import csv
import json
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from scipy.optimize import minimize

from alerts.linker import (
    KIND_FEATURES,
    KIND_SIGNS,
    LINK_FEATURES,
    LINK_SIGNS,
    WEIGHTS_FILE,
    LinkModel,
    cosine,
    kind_features,
    link_inputs,
    pair_features,
)
from alerts.stories import StoryProfile, TermStats
from alerts.textkeys import Analyser, Analysis

WATCH_FP_TARGET = 0.008  # the watch threshold lets at most this share of the training negatives through
SOURCE_WEIGHT = {"stories-dev": 1.0, "wikiref": 0.5, "doha": 0.5, "demo": 0.5}


@dataclass(frozen=True)
class Row:
    id: str
    story: str  # the story it belongs to ("" for none)
    relation: str  # seed, same_report, follow_up, unrelated
    text: str
    published: datetime | None
    lang: str = ""
    about: str = ""  # the stories-dev story it was collected for (a member, or a hard negative)
    labels: frozenset[str] | None = None  # the topics a labeller gave it


def day(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value[:10]).replace(tzinfo=UTC) if value else None


def stories_dev(shared: Path) -> tuple[list[Row], dict[str, str]]:
    """The rows of stories-dev (an ``unrelated`` row belongs to no story) and each story's seed text."""
    base = shared / "data" / "stories-dev"
    rows = []
    for line in (base / "stories-dev.jsonl").read_text(encoding="utf-8").splitlines():
        if line.strip():
            r = json.loads(line)
            rows.append(Row(r["id"], r["story"] if r["relation"] != "unrelated" else "", r["relation"],
                            f"{r.get('title') or ''}\n{r.get('text') or ''}", day(r.get("date")), r.get("lang", ""),
                            r["story"], _labels(r)))
    seeds = {p.stem.removeprefix("seed-"): p.read_text(encoding="utf-8") for p in sorted(base.glob("seed-*.txt"))}
    return rows, seeds


def news_dev(shared: Path) -> list[Row]:
    """news-dev: a ``doha_story`` excerpt is a member of the Doha story (kind unknown), the rest belong to none."""
    rows = []
    for line in (shared / "data" / "news-dev.jsonl").read_text(encoding="utf-8").splitlines():
        if line.strip():
            r = json.loads(line)
            doha = bool(r["labels"].get("doha_story"))
            rows.append(Row(r["id"], "doha" if doha else "", "member" if doha else "unrelated",
                            f"{r.get('title') or ''}\n{r.get('text') or ''}", day(r.get("date")), r.get("lang", ""),
                            labels=_labels(r)))
    return rows


def _labels(record: dict) -> frozenset[str]:  # type: ignore[type-arg]
    return frozenset(k for k in ("ceasefire_talks", "energy_strikes") if (record.get("labels") or {}).get(k))


def demo() -> tuple[Row, list[Row]]:
    """wirewatch's own demo corpus (written for the project): its Doha report, rewrites, follow-ups and noise."""
    from wirewatch.demo.corpus import DemoCorpus

    kinds = {"doha_rewrite": "same_report", "doha_followup": "follow_up"}
    rows = [Row(f"demo:{a['id']}", "demo" if a["kind"] in kinds else "", kinds.get(a["kind"], a["kind"]),
                a["title"] + "\n" + "\n".join(a["body"]), datetime.fromisoformat(a["published"].replace("Z", "+00:00")),
                labels=_labels(a)) for a in DemoCorpus.load().articles]
    seed = next(r for r in rows if r.relation == "doha_report")
    return seed, [r for r in rows if r is not seed]


def doha_seeds(shared: Path) -> list[str]:
    return [p.read_text(encoding="utf-8") for p in sorted((shared / "seeds").glob("*.txt"))]


def wikiref(shared: Path) -> dict[str, tuple[str, str]]:
    """WikiRef220: file name → (text, event label)."""
    base = shared / "data" / "event-clusters"
    with open(base / "labels_wikiref220.csv", encoding="utf-8") as fh:
        labels = {r["file"]: r["topic"] for r in csv.DictReader(fh)}
    out = {}
    for name, label in labels.items():
        raw = (base / "WikiRef220" / name).read_bytes()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("cp1252")
        out[name] = (text.replace("\r\n", "\n"), label)
    return out


def classifier_topics(texts: dict[str, str]) -> dict[str, frozenset[str]]:
    """The topics the classify stage fires on each text (the bundled rules and model)."""
    from process.backtest import InputArticle, run
    from process.classifier import RuleSource, TopicClassifier
    from process.model import bundled_training_file, read_examples, train
    from process.rules import bundled_rules_dir

    classifier = TopicClassifier(RuleSource(bundled_rules_dir()), train(read_examples(bundled_training_file())))
    items = [InputArticle(k, v.split("\n", 1)[0][:300], v) for k, v in texts.items()]
    return {v.id: frozenset(v.fired()) for v in run(classifier, items)}


@dataclass
class Pairs:
    link: list[list[float]]
    label: list[int]
    weight: list[float]
    kind: list[list[float]]
    kind_label: list[int]
    kind_weight: list[float]
    negatives_watch: list[list[float]]  # stories-dev and Doha negatives: what the watch threshold is set on

    @classmethod
    def empty(cls) -> Pairs:
        return cls([], [], [], [], [], [], [])


def watch_pairs(out: Pairs, seed: str, seed_date: datetime | None, seed_topics: Iterable[str], story: str,
                rows: Sequence[Row], analyses: dict[str, Analysis], topics: dict[str, frozenset[str]],
                stats: TermStats, source: str) -> None:
    """Each row against the story as it stood when the row came (seed + the true members before it)."""
    profile = StoryProfile(story, story)
    profile.seed(seed, seed_topics, seed_date)
    ordered = sorted(rows, key=lambda r: r.published.timestamp() if r.published else 0.0)
    weight = SOURCE_WEIGHT[source] / max(1, len(ordered))
    for row in ordered:
        analysis = analyses[row.id]
        features = pair_features(analysis.keys, profile.keys, stats, row.published, topics.get(row.id, ()))
        member = row.story == story
        inputs = link_inputs(features)
        out.link.append([inputs[k] for k in LINK_FEATURES])
        out.label.append(int(member))
        out.weight.append(weight * (3.0 if member else 1.0))
        if not member:
            if source != "demo":  # the threshold is set on real news only
                out.negatives_watch.append(out.link[-1])
            continue
        if row.relation not in ("same_report", "follow_up"):
            profile.learn(row.text, row.published, analysis)
            continue
        kinds = kind_features(analysis, profile.keys, stats, row.published, features["cos_seed"])
        out.kind.append([kinds[k] for k in KIND_FEATURES])
        out.kind_label.append(int(row.relation == "follow_up"))
        out.kind_weight.append(SOURCE_WEIGHT[source])
        profile.learn(row.text, row.published, analysis)


def wikiref_pairs(out: Pairs, docs: dict[str, tuple[str, str]], analyses: dict[str, Analysis], stats: TermStats,
                  rng: random.Random) -> None:
    """Each article as a one-article story against its event's other articles and sampled others."""
    names = sorted(docs)
    vectors = {n: stats.vector(analyses[n].keys) for n in names}
    for seed in names:
        profile = StoryProfile(seed, seed)
        profile.seed(docs[seed][0])
        others = [n for n in names if n != seed]
        same = [n for n in others if docs[n][1] == docs[seed][1]]
        different = [n for n in others if docs[n][1] != docs[seed][1]]
        closest = sorted(different, key=lambda n: -cosine(vectors[n], vectors[seed]))[:10]  # same words, other event
        rest = closest + rng.sample([n for n in different if n not in closest], 10)
        for name in same[:10] + rest:
            f = link_inputs(pair_features(analyses[name].keys, profile.keys, stats))
            out.link.append([f[k] for k in LINK_FEATURES])
            out.label.append(int(docs[name][1] == docs[seed][1]))
            out.weight.append(SOURCE_WEIGHT["wikiref"] / len(names) / 5)


def fit(shared: Path, exclude: str = "", use_wikiref: bool = True, seed: int = 7,
        cache: dict[str, object] | None = None, hold_out: frozenset[str] = frozenset(),
        labelled_topics: bool = False) -> LinkModel:
    """Fit on every source but the stories-dev story ``exclude`` and the news-dev rows ``hold_out``; with
    ``labelled_topics``, the topic signal is the labellers' topics (what it is worth when the classify stage is
    right) instead of the bundled classifier's."""
    data = _load(shared, cache if cache is not None else {})
    topic_source = "fit_topics" if labelled_topics else "topics"
    rows, seeds, analyses, topics, stats = (data[k] for k in ("rows", "seeds", "analyses", topic_source, "stats"))
    out = Pairs.empty()
    for story, text in seeds.items():  # type: ignore[attr-defined]
        if story == exclude:
            continue
        seed_row = next(r for r in rows if r.story == story and r.relation == "seed")  # type: ignore[attr-defined]
        others = [r for r in rows if r is not seed_row and not (exclude and r.about == exclude)]  # type: ignore[attr-defined]
        watch_pairs(out, text, seed_row.published, topics[f"seed:{story}"], story, others, analyses, topics,
                    stats, "stories-dev")  # type: ignore[arg-type]
    doha = data["doha"]
    doha_rows = [Row(f"doha{n}", "doha", "same_report", t, datetime(2024, 8, 17, 12, tzinfo=UTC))
                 for n, t in enumerate(doha[1:], 1)]  # type: ignore[index]
    negatives = [r for r in rows if not (exclude and r.about == exclude)]  # type: ignore[attr-defined]
    dev = [r for r in data["news_dev"] if r.id not in hold_out]  # type: ignore[attr-defined]
    watch_pairs(out, doha[0], datetime(2024, 8, 17, tzinfo=UTC), topics["doha0"], "doha",  # type: ignore[index]
                doha_rows + dev + negatives, analyses, topics, stats, "doha")  # type: ignore[arg-type]
    demo_seed, demo_rows = data["demo"]  # type: ignore[misc]
    watch_pairs(out, demo_seed.text, demo_seed.published, topics[demo_seed.id], "demo", demo_rows, analyses,
                topics, stats, "demo")
    first_wikiref = len(out.link)
    if use_wikiref:
        wikiref_pairs(out, data["wikiref"], analyses, stats, random.Random(seed))  # type: ignore[arg-type]
    link_w, link_b = logistic(out.link, out.label, out.weight, [LINK_SIGNS.get(f, 1) for f in LINK_FEATURES])
    kind_w, kind_b = logistic(out.kind, out.kind_label, out.kind_weight, [KIND_SIGNS[f] for f in KIND_FEATURES])
    model = LinkModel(dict(zip(LINK_FEATURES, link_w, strict=True)), link_b,
                      dict(zip(KIND_FEATURES, kind_w, strict=True)), kind_b, 0.5, 0.5)
    scores = sorted((model.score(dict(zip(LINK_FEATURES, x, strict=True))) for x in out.negatives_watch),
                    reverse=True)
    threshold = scores[int(len(scores) * WATCH_FP_TARGET)] + 1e-4
    threshold = round(max(0.5, threshold), 4)
    pairs = [(model.score(dict(zip(LINK_FEATURES, x, strict=True))), y)
             for x, y in zip(out.link[first_wikiref:], out.label[first_wikiref:], strict=True)]
    index_threshold = _best_f1(pairs) if pairs else threshold
    return LinkModel(model.link_weights, model.link_bias, model.kind_weights, model.kind_bias, threshold,
                     index_threshold)


def _best_f1(pairs: list[tuple[float, int]]) -> float:
    """The probability that best separates same-event pairs from the others (F1 over the event-cluster pairs):
    every-article stories follow events as an archive groups them, not one analyst's watch."""
    best, best_f1 = 0.5, -1.0
    for step in range(1, 20):
        t = step / 20
        tp = sum(1 for p, y in pairs if p >= t and y)
        fp = sum(1 for p, y in pairs if p >= t and not y)
        fn = sum(1 for p, y in pairs if p < t and y)
        f1 = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
        if f1 > best_f1:
            best, best_f1 = t, f1
    return best


def logistic(x: list[list[float]], y: list[int], weight: list[float], signs: list[int],
             l2: float = 1.0) -> tuple[list[float], float]:
    """Weighted logistic regression with an L2 penalty whose weights keep the given signs (L-BFGS-B bounds)."""
    xs, ys, ws = np.asarray(x, dtype=float), np.asarray(y, dtype=float), np.asarray(_mean_one(weight))
    n = xs.shape[1]

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        z = xs @ theta[:n] + theta[n]
        p = 1.0 / (1.0 + np.exp(-np.clip(z, -50, 50)))
        eps = 1e-12
        value = -np.sum(ws * (ys * np.log(p + eps) + (1 - ys) * np.log(1 - p + eps))) + 0.5 * l2 * theta[:n] @ theta[:n]
        grad = np.append(xs.T @ (ws * (p - ys)) + l2 * theta[:n], np.sum(ws * (p - ys)))
        return float(value), grad

    bounds = [(0.0, None) if s > 0 else (None, 0.0) if s < 0 else (None, None) for s in signs] + [(None, None)]
    theta = minimize(loss, np.zeros(n + 1), jac=True, method="L-BFGS-B", bounds=bounds).x
    return [round(float(v), 4) for v in theta[:n]], round(float(theta[n]), 4)


def _mean_one(weights: list[float]) -> list[float]:
    """Sample weights scaled to a mean of one, so that the regularisation means the same whatever the sources."""
    mean = sum(weights) / len(weights)
    return [w / mean for w in weights]


def _load(shared: Path, cache: dict[str, object]) -> dict[str, object]:
    if cache:
        return cache
    analyser = Analyser.default()
    rows, seeds = stories_dev(shared)
    doha = doha_seeds(shared)
    dev = news_dev(shared)
    demo_seed, demo_rows = demo()
    docs = wikiref(shared) if (shared / "data" / "event-clusters").is_dir() else {}
    texts = {r.id: r.text for r in [*rows, *dev, demo_seed, *demo_rows]} | {f"seed:{s}": t for s, t in seeds.items()}
    texts |= {f"doha{n}": t for n, t in enumerate(doha)} | {n: t for n, (t, _) in docs.items()}
    analyses = {k: analyser.analyse(t) for k, t in texts.items()}
    stats = TermStats.with_background()
    for a in analyses.values():
        stats.add_keys(a.keys)
    topic_texts = {k: t for k, t in texts.items() if k not in docs}
    cache.update(rows=rows, seeds=seeds, doha=doha, news_dev=dev, demo=(demo_seed, demo_rows), wikiref=docs,
                 analyses=analyses, stats=stats,
                 topics=classifier_topics(topic_texts))
    # fitting takes the labellers' topics where there are some: what the topic signal is worth when the classify
    # stage is right (the eval replays the stage's own topics)
    labelled = {r.id: r.labels for r in [*rows, *dev, demo_seed, *demo_rows] if r.labels is not None}
    cache["fit_topics"] = cache["topics"] | labelled | {  # type: ignore[operator]
        f"seed:{r.story}": r.labels for r in rows if r.relation == "seed" and r.labels is not None}
    return cache


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[2] / "shared")
    parser.add_argument("--out", type=Path, default=WEIGHTS_FILE)
    parser.add_argument("--exclude", default="", help="leave this stories-dev story out")
    parser.add_argument("--labelled-topics", action="store_true",
                        help="fit the topic signal on the labellers' topics, not the bundled classifier's")
    args = parser.parse_args()
    model = fit(args.shared, args.exclude, labelled_topics=args.labelled_topics)
    args.out.write_text(json.dumps(model.as_json(fitted_by="benchmarks/fit_linker.py", excluded=args.exclude),
                                   indent=1) + "\n", encoding="utf-8")
    print(f"wrote {args.out}: threshold {model.threshold}")
    for name, w in model.link_weights.items():
        print(f"  link {name:12s} {w:+.3f}")
    for name, w in model.kind_weights.items():
        print(f"  kind {name:12s} {w:+.3f}")


if __name__ == "__main__":
    main()
