"""Fit the learned story linker's weights on labelled pairs; score it through benchmarks/eval_watch.py.

In: ../shared — stories-dev (each row against each story's seed and the true members seen before it), the
Doha watch (its first seed against the four others, among the stories-dev rows), WikiRef220 (articles of one
event against articles of others) and wirewatch's own demo corpus; never news-dev, which scores the fit.
Out: the link model — a bag of boosted trees (one fitted without each watch, their log-odds averaged:
:func:`fit_boosted`), or a logistic regression — and the kind model (a logistic regression: a development or
the same report?) with the watch threshold (:class:`~alerts.linker.LinkModel`), fitted without a held-out
stories-dev story when asked (``benchmarks/linker_folds.py`` gives ``eval_watch.py`` a model fitted without the
story each fold scores). Weights and trees keep fixed signs (more in common never makes an article less likely
to belong; more time never more likely). Run:

    .venv/bin/python benchmarks/eval_watch.py --linker learned --linker hand
    .venv/bin/python benchmarks/fit_linker.py [--shared ../shared] [--out weights.json]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
from eval_watch import DOHA_DAY, Data, Row, load
from scipy.optimize import minimize
from wirewatch.alerts.linker import (
    BASE_FEATURES,
    KIND_FEATURES,
    KIND_SIGNS,
    LINK_FEATURES,
    LINK_SIGNS,
    WEIGHTS_FILE,
    LinkModel,
    TermStats,
    cosine,
    kind_features,
    pair_features,
)
from wirewatch.alerts.linker_encoder import Encoder, shared_encoder
from wirewatch.alerts.linker_rivals import Rivals
from wirewatch.alerts.linker_trees import Trees
from wirewatch.alerts.linker_watch import SEED_ID, LearnedStory
from wirewatch.alerts.replay import term_stats
from wirewatch.alerts.stories import StoryProfile, relate
from wirewatch.alerts.textkeys import Analyser, Analysis

os.environ.setdefault("OMP_NUM_THREADS", "1")  # the trees are small: threads only fight over a shared machine's cores
WATCH_FP_TARGET = 0.004  # the linear model's threshold lets at most this share of the training negatives through
TREES_FP_TARGET = 0.005  # the same for the boosted trees (held-out scores, see fit_boosted)
LEARN_SHARE = 0.5  # a member teaches the story when it would join at this share of the link's false-flag rate
BAG_LEAF = 20  # the fewest weighted pairs a leaf of the bag's trees holds
BAG_L2 = 1.0  # the L2 penalty on the leaves' values
HAND_THRESHOLD = 0.14  # the hand-written linker's (a feature of the learned one): [alert] related_threshold
MISSED = 3  # every third member of a fitted watch is left among the rivals, as a member the linker missed
SOURCE_WEIGHT = {"stories-dev": 1.0, "wikiref": 0.5, "doha": 0.5, "demo": 0.5}


@dataclass
class Pairs:
    link: list[list[float]] = field(default_factory=list)
    label: list[int] = field(default_factory=list)
    weight: list[float] = field(default_factory=list)
    kind: list[list[float]] = field(default_factory=list)
    kind_label: list[int] = field(default_factory=list)
    kind_weight: list[float] = field(default_factory=list)
    negatives: list[list[float]] = field(default_factory=list)  # real news negatives: the threshold is set on them
    group: list[str] = field(default_factory=list)  # each link pair's watch (a stories-dev story, doha, demo, wikiref)


@dataclass
class Corpus:
    data: Data
    demo_seed: Row
    demo_rows: list[Row]
    wikiref: dict[str, tuple[str, str]]  # file -> (text, event label)
    analyses: dict[str, Analysis]
    stats: TermStats  # over every text: the WikiRef pairs
    topics: dict[str, frozenset[str]]
    texts: dict[str, str]
    encoder: Encoder = field(default_factory=shared_encoder)  # the replay's own: one model, one cache of vectors
    wikiref_cache: Pairs | None = None

    def vector(self, text_id: str) -> np.ndarray | None:
        return self.encoder.vector(self.texts[text_id])

    def archive(self, ids: Sequence[str]) -> TermStats:
        """Key frequencies over these texts: a replay's archive, as eval_watch.py builds it."""
        stats = TermStats()
        for i in ids:
            stats.add_keys(self.analyses[i].keys)
        return stats


def demo_rows() -> tuple[Row, list[Row]]:
    """wirewatch's own demo corpus (written for the project): its Doha report, rewrites, follow-ups and noise."""
    from wirewatch.devtools.corpus import DemoCorpus

    kinds = {"doha_rewrite": "same_report", "doha_followup": "follow_up"}
    rows = [Row(f"demo:{a['id']}", "demo" if a["kind"] in kinds else "", kinds.get(a["kind"], a["kind"]),
                a["title"] + "\n" + "\n".join(a["body"]), datetime.fromisoformat(a["published"].replace("Z", "+00:00")))
            for a in DemoCorpus.load().articles]
    seed = next(r for r in rows if r.relation == "doha_report")
    return seed, [r for r in rows if r is not seed]


def wikiref(shared: Path) -> dict[str, tuple[str, str]]:
    base = shared / "data" / "event-clusters"
    if not base.is_dir():
        return {}
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


def corpus(shared: Path, data: Data) -> Corpus:
    from wirewatch.process.backtest import InputArticle, run
    from wirewatch.process.classifier import RuleSource, TopicClassifier
    from wirewatch.process.model import bundled_training_file, read_examples, train
    from wirewatch.process.rules import bundled_rules_dir

    seed, rows = demo_rows()
    docs = wikiref(shared)
    classifier = TopicClassifier(RuleSource(bundled_rules_dir()), train(read_examples(bundled_training_file())))
    demo_topics = {v.id: frozenset(v.fired()) for v in run(classifier, [
        InputArticle(r.id, r.text.split("\n", 1)[0], r.text.split("\n", 1)[1]) for r in [seed, *rows]])}
    texts = {r.id: r.text for r in [*data.rows, seed, *rows]}
    texts |= {f"seed:{s}": t for s, t in data.seeds.items()} | {f"doha{n}": t for n, t in enumerate(data.doha_seeds)}
    texts |= {n: t for n, (t, _) in docs.items()}
    analyser = Analyser.default()
    analyses = {k: analyser.analyse(t) for k, t in texts.items()}
    stats = TermStats()
    for a in analyses.values():
        stats.add_keys(a.keys)
    return Corpus(data, seed, rows, docs, analyses, stats, data.topics | demo_topics, texts)


def watch_pairs(out: Pairs, c: Corpus, seed_id: str, seed: str, seed_date: datetime | None, story: str,
                rows: Sequence[Row], source: str, stats: TermStats, archive_ids: Sequence[str]) -> None:
    """Each row against the story as it stood when the row came (the seed and the true members before it). As in a
    replay, where the linker misses some members, every :data:`MISSED`-th member is left outside the story's members
    among the rivals, where it rivals later members with its own closeness to the story."""
    profile = LearnedStory()
    profile.seed(seed, c.topics[seed_id], seed_date)
    hand = StoryProfile("fit", "fit")
    hand.seed(seed, c.topics[seed_id], seed_date)
    names = term_stats(c.texts[i] for i in archive_ids)
    ordered = sorted(rows, key=lambda r: r.published.timestamp() if r.published else 0.0)
    weight = SOURCE_WEIGHT[source] / max(1, len(ordered))
    archive, members, closeness = Rivals(), {SEED_ID}, {}  # closeness: each row's to the story as it came
    seen = 0
    archive.add(SEED_ID, stats.vector(profile.keys.seed), seed_date)
    for row in ordered:
        analysis = c.analyses[row.id]
        vector = stats.vector(analysis.keys)
        archive.add(row.id, vector, row.published)  # archived, then related: as the replay and the stage do
        inside, outside, rival = archive.closest(vector, members, row.id, row.published)
        rivals = (inside, outside, closeness.get(rival, 0.0))
        topics = c.topics.get(row.id, frozenset())
        told = relate(c.texts[row.id], hand, names, HAND_THRESHOLD, row.published, topics)
        vector = c.vector(row.id)
        features = pair_features(analysis.keys, profile.keys, stats, row.published, topics, rivals,
                                 (told.similarity, told.related), profile.meaning(vector, c.encoder))
        closeness[row.id] = features["cos_member"]
        member = row.story == story
        if member:
            seen += 1
            if seen % MISSED:
                members.add(row.id)
            if row.relation == "follow_up":
                hand.learn(c.texts[row.id], row.published)
        out.link.append([features[k] for k in LINK_FEATURES])
        out.label.append(int(member))
        out.weight.append(weight * (3.0 if member else 1.0))
        out.group.append(story if source == "stories-dev" else source)
        if not member:
            if source != "demo":
                out.negatives.append(out.link[-1])
            continue
        if row.relation in ("same_report", "follow_up"):
            kinds = kind_features(analysis, profile.keys, stats, row.published, features["cos_seed"])
            out.kind.append([kinds[k] for k in KIND_FEATURES])
            out.kind_label.append(int(row.relation == "follow_up"))
            out.kind_weight.append(SOURCE_WEIGHT[source])
        profile.learn(analysis, row.published, vector)


def wikiref_pairs(out: Pairs, c: Corpus, rng: random.Random) -> None:
    """Each article as a one-article story against its event's other articles and sampled others (computed once
    per corpus: they do not depend on the fold)."""
    if c.wikiref_cache is None:
        c.wikiref_cache = Pairs()
        _wikiref_pairs(c.wikiref_cache, c, rng)
    out.link.extend(c.wikiref_cache.link)
    out.label.extend(c.wikiref_cache.label)
    out.weight.extend(c.wikiref_cache.weight)
    out.group.extend("wikiref" for _ in c.wikiref_cache.link)


def _wikiref_pairs(out: Pairs, c: Corpus, rng: random.Random) -> None:
    docs = c.wikiref
    names = sorted(docs)
    vectors = {n: c.stats.vector(c.analyses[n].keys) for n in names}
    by_label: dict[str, dict[str, tuple[float, str]]] = {}  # article -> its closest article of each label
    for name in names:
        best: dict[str, tuple[float, str]] = {}
        for other in names:
            if other != name:
                label = docs[other][1]
                best[label] = max(best.get(label, (0.0, "")), (cosine(vectors[name], vectors[other]), other))
        by_label[name] = best
    hand_stats = term_stats(docs[n][0] for n in names)
    for seed in names:
        profile = LearnedStory()
        profile.seed(docs[seed][0])
        hand = StoryProfile("fit", "fit")
        hand.seed(docs[seed][0])
        others = [n for n in names if n != seed]
        same = [n for n in others if docs[n][1] == docs[seed][1]]
        different = [n for n in others if docs[n][1] != docs[seed][1]]
        closest = sorted(different, key=lambda n: -cosine(vectors[n], vectors[seed]))[:10]
        rest = closest + rng.sample([n for n in different if n not in closest], 10)
        for name in same[:10] + rest:
            outside, rival = max((v for label, v in by_label[name].items() if label != docs[seed][1]),
                                 default=(0.0, ""))
            own = cosine(vectors[rival], vectors[seed]) if rival else 0.0  # the rival's own closeness to the story
            told = relate(docs[name][0], hand, hand_stats, HAND_THRESHOLD)
            f = pair_features(c.analyses[name].keys, profile.keys, c.stats,
                              rivals=(cosine(vectors[name], vectors[seed]), outside, own),
                              hand=(told.similarity, told.related),
                              meaning=profile.meaning(c.vector(name), c.encoder))
            out.link.append([f[k] for k in LINK_FEATURES])
            out.label.append(int(docs[name][1] == docs[seed][1]))
            out.weight.append(SOURCE_WEIGHT["wikiref"] / len(names) / 5)


def export_trees(model: object, features: tuple[str, ...] = LINK_FEATURES) -> Trees:
    """A fitted binary HistGradientBoostingClassifier as :class:`~alerts.linker_trees.Trees` (numbers only)."""
    trees = []
    for (predictor,) in model._predictors:  # type: ignore[attr-defined]
        trees.append(tuple((int(n["feature_idx"]), float(n["num_threshold"]), int(n["left"]), int(n["right"]),
                            float(n["value"]), bool(n["is_leaf"]), bool(n["missing_go_to_left"]))
                           for n in predictor.nodes))
    baseline = float(np.ravel(model._baseline_prediction)[0])  # type: ignore[attr-defined]
    return Trees(features, baseline, tuple(trees))


def boosted_trees(features: tuple[str, ...] = LINK_FEATURES) -> object:
    """One model of the bag: shallow trees, large leaves, an L2 penalty on the leaves, each feature monotone in
    the sign the linear model keeps (more in common never lowers the probability, more time never raises it)."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(max_depth=3, max_iter=150, learning_rate=0.05, min_samples_leaf=BAG_LEAF,
                                          l2_regularization=BAG_L2,
                                          monotonic_cst=[LINK_SIGNS.get(f, 1) for f in features],
                                          random_state=7)


def fit_boosted(c: Corpus, exclude: str = "", fp_target: float = TREES_FP_TARGET, bag: bool = True,
                fallback: bool = False, features: tuple[str, ...] = LINK_FEATURES, stack: bool = False) -> LinkModel:
    """A bag of boosted trees over the same features: one model fitted without each watch of the fit (each
    stories-dev story but ``exclude``, the Doha seeds), their log-odds averaged. Trees fitted on every watch swing
    near the threshold with the watches they see; the bag's mean of models that each miss one watch does not.
    The threshold comes from held-out scores: each watch's negatives scored by the bag of models fitted without
    it (and one other watch each), a nested leave-one-watch-out; the bar for a member to teach the story lets
    :data:`LEARN_SHARE` of that share through. The kind model is the linear one. ``bag=False``:
    one model fitted on every watch, its threshold from models fitted without each watch (the procedure before
    the bag, for comparison). ``fallback``: also the same fit over the features without the meaning signal
    (:data:`~alerts.linker.BASE_FEATURES`), which the linker uses when the sentence encoder cannot be used;
    ``features``: the features the trees read (``BASE_FEATURES``: no meaning signal); ``stack``: the probability
    is a logistic of the trees' log-odds and the hand-written decision, its three weights fitted on the held-out
    log-odds of every pair of the fit's watches (:attr:`~alerts.linker.LinkModel.stack`), the threshold then
    from the combination's held-out negatives."""
    linear, out = fit(c, exclude, pairs_out=True)  # type: ignore[misc]  # the kind model, the pairs
    columns = [LINK_FEATURES.index(f) for f in features]
    x, y = np.asarray(out.link)[:, columns], np.asarray(out.label)
    w, group = np.asarray(out.weight) / np.mean(out.weight), np.asarray(out.group)
    watches = sorted(set(out.group) - {"demo", "wikiref"})
    models: dict[frozenset[str], object] = {}

    def without(left_out: frozenset[str]) -> object:
        if left_out not in models:
            rows = ~np.isin(group, sorted(left_out))
            models[left_out] = boosted_trees(features).fit(x[rows], y[rows],  # type: ignore[attr-defined]
                                                           sample_weight=w[rows])
        return models[left_out]

    held_logit, held_y, held_w, held_hand = [], [], [], []
    for g in watches:
        rows = group == g
        bagged_without = [frozenset((g, h)) for h in watches if h != g] if bag else [frozenset((g,))]
        logit = np.mean([without(left_out).decision_function(x[rows])  # type: ignore[attr-defined]
                         for left_out in bagged_without], axis=0)
        held_logit += list(logit)
        held_y += list(y[rows])
        held_w += list(w[rows])
        held_hand += list(x[rows][:, features.index("hand")])
    logits, labels, hands = np.asarray(held_logit), np.asarray(held_y), np.asarray(held_hand)
    combined: tuple[float, float, float] | None = None
    if stack:  # the trees' held-out log-odds and the hand-written decision, weighed on those held-out scores
        (a, b), c = logistic([[float(v), float(h)] for v, h in zip(logits, hands, strict=True)], held_y, held_w,
                             [1, 1])
        combined = (a, b, c)
        logits = a * logits + b * hands + c
    scores = sorted(1.0 / (1.0 + np.exp(-logits[labels == 0])), reverse=True)
    threshold, teaches = (round(max(0.5, float(scores[int(len(scores) * share)]) + 1e-4), 4)
                          for share in (fp_target, fp_target * LEARN_SHARE))
    bagged = [frozenset((g,)) for g in watches] if bag else [frozenset()]
    trees = Trees.mean([export_trees(without(left_out), features) for left_out in bagged])
    base = fit_boosted(c, exclude, fp_target, bag, features=BASE_FEATURES, stack=stack) \
        if fallback and features != BASE_FEATURES else None
    return LinkModel({}, 0.0, linear.kind_weights, linear.kind_bias, threshold, threshold, trees, teaches, base,
                     combined)


def fit(c: Corpus, exclude: str = "", fp_target: float = WATCH_FP_TARGET, pairs_out: bool = False) -> LinkModel:
    """Fit on every source but the stories-dev story ``exclude`` (its members and hard negatives). news-dev is
    never used: it scores the Doha watch of the fitted model (the Doha watch of the fit is its first seed against
    the four others, among the stories-dev rows)."""
    data, out = c.data, Pairs()
    kept = [r for r in data.rows if not (exclude and r.about == exclude)]
    for story, text in data.seeds.items():
        if story == exclude:
            continue
        seed_row = next(r for r in data.rows if r.about == story and r.relation == "seed")
        others = [r for r in kept if r is not seed_row]
        ids = [f"seed:{story}", *(r.id for r in others)]
        watch_pairs(out, c, f"seed:{story}", text, seed_row.published, story, others, "stories-dev", c.archive(ids),
                    ids)
    retold = [Row(f"doha{n}", "doha", "same_report", t, DOHA_DAY.replace(hour=12))
              for n, t in enumerate(data.doha_seeds[1:], 1)]
    doha_archive = [f"doha{n}" for n in range(len(data.doha_seeds))] + [r.id for r in kept]
    watch_pairs(out, c, "doha0", data.doha_seeds[0], DOHA_DAY, "doha", retold + kept, "doha",
                c.archive(doha_archive), doha_archive)
    demo_ids = [c.demo_seed.id, *(r.id for r in c.demo_rows)]
    watch_pairs(out, c, c.demo_seed.id, c.demo_seed.text, c.demo_seed.published, "demo", c.demo_rows, "demo",
                c.archive(demo_ids), demo_ids)
    if c.wikiref:
        wikiref_pairs(out, c, random.Random(7))
    link_w, link_b = logistic(out.link, out.label, out.weight, [LINK_SIGNS.get(f, 1) for f in LINK_FEATURES])
    kind_w, kind_b = logistic(out.kind, out.kind_label, out.kind_weight, [KIND_SIGNS[f] for f in KIND_FEATURES])
    model = LinkModel(dict(zip(LINK_FEATURES, link_w, strict=True)), link_b,
                      dict(zip(KIND_FEATURES, kind_w, strict=True)), kind_b, 0.5, 0.5)
    scores = sorted((model.score(dict(zip(LINK_FEATURES, x, strict=True))) for x in out.negatives), reverse=True)
    threshold = round(max(0.5, scores[int(len(scores) * fp_target)] + 1e-4), 4)
    fitted = LinkModel(model.link_weights, link_b, model.kind_weights, kind_b, threshold, threshold)
    return (fitted, out) if pairs_out else fitted  # type: ignore[return-value]


def logistic(x: list[list[float]], y: list[int], weight: list[float], signs: list[int],
             l2: float = 1.0) -> tuple[list[float], float]:
    """Weighted logistic regression with an L2 penalty whose weights keep the given signs (L-BFGS-B bounds)."""
    xs, ys = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    ws = np.asarray(weight, dtype=float)
    ws = ws / ws.mean()
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[2] / "shared")
    parser.add_argument("--out", type=Path, default=WEIGHTS_FILE, help="where to write the weights (JSON numbers only)")
    parser.add_argument("--exclude", default="", help="leave this stories-dev story out")
    parser.add_argument("--linear", action="store_true", help="the logistic model rather than the boosted trees")
    parser.add_argument("--single", action="store_true", help="one model of boosted trees rather than a bag")
    parser.add_argument("--fp-target", type=float, help="the threshold lets this share of held-out negatives in")
    parser.add_argument("--no-meaning", action="store_true", help="trees without the sentence encoder's signal")
    parser.add_argument("--stack", action="store_true", help="weigh the trees with the hand-written decision")
    args = parser.parse_args()
    c = corpus(args.shared, load(args.shared))
    target = args.fp_target if args.fp_target is not None else WATCH_FP_TARGET if args.linear else TREES_FP_TARGET
    start = time.process_time()
    model = fit(c, args.exclude, fp_target=target) if args.linear else \
        fit_boosted(c, args.exclude, fp_target=target, bag=not args.single, fallback=not args.no_meaning,
                    features=BASE_FEATURES if args.no_meaning else LINK_FEATURES, stack=args.stack)
    print(f"fitted in {time.process_time() - start:.0f} s CPU", file=sys.stderr)
    args.out.write_text(json.dumps(model.as_json(fitted_by="benchmarks/fit_linker.py", excluded=args.exclude,
                                                 fp_target=target), separators=(",", ":")) + "\n", encoding="utf-8")
    print(f"wrote {args.out} ({args.out.stat().st_size:,} bytes): threshold {model.threshold}, stack {model.stack}"
          + (f"; without the meaning signal {model.fallback.threshold}" if model.fallback else ""))
    for name, w in {**model.link_weights, **{f"kind {k}": v for k, v in model.kind_weights.items()}}.items():
        print(f"  {name:16s} {w:+.3f}")


if __name__ == "__main__":
    main()
