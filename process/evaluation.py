"""Cross-validated evaluation of the classify stage (rules + model) on labeled data, with a PR plot.

In: labeled articles (the backtest format). Out: per topic, precision, recall and F1 of the stage's
decisions and the average precision of its score, from k-fold cross-validation: in each fold the
model is trained on the bundled examples plus the other folds, and the held-out fold is tagged with
the live rules — so no article is scored by a model that saw it. Optionally a precision–recall plot.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sklearn.metrics import average_precision_score, precision_recall_curve
from wirewatch.process.backtest import InputArticle, Scores, as_article
from wirewatch.process.classifier import RuleSource, TopicClassifier
from wirewatch.process.model import Example, train


@dataclass
class TopicResult:
    topic: str
    scores: Scores = field(default_factory=Scores)
    truth: list[int] = field(default_factory=list)
    score: list[float] = field(default_factory=list)

    @property
    def average_precision(self) -> float:
        return float(average_precision_score(self.truth, self.score)) if any(self.truth) else 0.0


def cross_validate(items: list[InputArticle], rules: RuleSource, base_examples: list[Example],
                   topics: tuple[str, ...], folds: int = 5, seed: int = 0, fire_score: float = 0.6,
                   model_alone: float = 0.85) -> dict[str, TopicResult]:
    labeled = [i for i in items if i.labels is not None]
    if len(labeled) < folds:
        raise ValueError(f"need at least {folds} labeled articles for {folds}-fold cross-validation, "
                         f"got {len(labeled)}")
    order = list(range(len(labeled)))
    random.Random(seed).shuffle(order)
    results = {t: TopicResult(t) for t in topics}
    for k in range(folds):
        held = [labeled[i] for n, i in enumerate(order) if n % folds == k]
        rest = [labeled[i] for n, i in enumerate(order) if n % folds != k]
        examples = base_examples + [Example(title=a.title, text=a.text, labels=a.labels or {}) for a in rest]
        classifier = TopicClassifier(rules, train(examples, topics), fire_score, model_alone)
        for item, tagged in zip(held, classifier.tag_batch([as_article(a) for a in held]), strict=True):
            for tag in tagged.topics:
                if tag.topic not in results:
                    continue
                res, truth = results[tag.topic], bool((item.labels or {}).get(tag.topic, False))
                res.truth.append(int(truth))
                res.score.append(tag.score if not tag.fired else max(tag.score, fire_score))
                res.scores.count(truth, tag.fired)
    return results


def plot_pr(results: dict[str, TopicResult], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 5), dpi=110)
    for res in results.values():
        if not any(res.truth):
            continue
        precision, recall, _ = precision_recall_curve(np.array(res.truth), np.array(res.score))
        ax.plot(recall, precision, label=f"{res.topic} (AP {res.average_precision:.3f})")
        s = res.scores
        ax.scatter([s.recall], [s.precision], marker="o", zorder=3)
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.set_title(title)
    ax.legend(loc="lower left")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
