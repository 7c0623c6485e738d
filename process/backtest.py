"""Back-testing: run the classify stage offline over a file of articles, compare rule folders, score.

In: JSONL articles — ``id``, ``title``, ``text``, optional ``url``, ``published``, ``lang`` and
``labels`` ({topic: bool} or a list of topic names). Out: one :class:`Verdict` per article (topics,
scores, patterns that fired with their words, the model's probability); with a candidate rule
folder, what would newly fire or stop firing; with labels, precision, recall and F1 per topic.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from wirewatch.process.classifier import TopicClassifier
from wirewatch.process.jsonl import JsonlError, read_objects

from wirewatch.schema import Article, Entry, Json, TaggedArticle


class BacktestInputError(JsonlError):
    """A line of the input file that is not an article; the message names file and line."""


@dataclass(frozen=True)
class InputArticle:
    id: str
    title: str
    text: str
    url: str = ""
    published: str | None = None
    lang: str = ""
    labels: dict[str, bool] | None = None


def read_articles(path: str | Path, errors: list[str] | None = None) -> Iterator[InputArticle]:
    """Articles of a JSONL file; a bad line raises :class:`BacktestInputError` with its place — or,
    with an ``errors`` list, is recorded there and skipped (the rest goes on)."""
    def bad(problem: str) -> None:
        if errors is None:
            raise BacktestInputError(problem)
        errors.append(problem)

    try:
        for lineno, item in read_objects(path, errors):
            missing = [k for k in ("id", "text") if not isinstance(item.get(k), str | int)]
            if missing:
                bad(f"{path}:{lineno}: missing {', '.join(missing)}")
                continue
            labels = item.get("labels")
            if isinstance(labels, list):
                labels = {str(name): True for name in labels}
            elif labels is not None and not isinstance(labels, dict):
                bad(f"{path}:{lineno}: 'labels' must be an object or a list of topics")
                continue
            yield InputArticle(str(item["id"]), str(item.get("title") or ""), str(item["text"]),
                               str(item.get("url") or ""), item.get("published") or item.get("date"),
                               str(item.get("lang") or ""), labels)
    except JsonlError as exc:
        raise BacktestInputError(str(exc)) from None


def as_article(item: InputArticle) -> Article:
    url = item.url or f"backtest:{item.id}"
    entry = Entry(article_id=item.id, url=url, canonical_url=url, feed_url="backtest", title=item.title,
                  published=item.published)
    return Article(entry=entry, title=item.title, text=item.text, published=item.published, language=item.lang)


@dataclass(frozen=True)
class Verdict:
    id: str
    tagged: TaggedArticle
    labels: dict[str, bool] | None

    def fired(self) -> set[str]:
        return {t.topic for t in self.tagged.topics if t.fired}

    def as_json(self) -> dict[str, Json]:
        return {
            "id": self.id,
            "fired": sorted(self.fired()),
            "topics": {t.topic: {"score": t.score, "fired": t.fired, "rule_weight": t.rule_weight,
                                 "rule_threshold": t.rule_threshold, "model_probability": t.model_probability,
                                 "rules": [{"pattern": r.pattern, "line": r.line, "weight": r.weight,
                                            "matched": r.matched} for r in t.rules]}
                       for t in self.tagged.topics},
            **({"labels": {k: v for k, v in sorted(self.labels.items())}} if self.labels is not None else {}),
        }


def run(classifier: TopicClassifier, items: Iterable[InputArticle], batch: int = 50) -> list[Verdict]:
    """Tag every article, ``batch`` at a time as the stage does."""
    items = list(items)
    verdicts = []
    for i in range(0, len(items), batch):
        chunk = items[i:i + batch]
        tagged = classifier.tag_batch([as_article(item) for item in chunk])
        verdicts += [Verdict(item.id, t, item.labels) for item, t in zip(chunk, tagged, strict=True)]
    return verdicts


@dataclass
class Scores:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def count(self, truth: bool, said: bool) -> None:
        if truth and said:
            self.tp += 1
        elif said:
            self.fp += 1
        elif truth:
            self.fn += 1
        else:
            self.tn += 1

    def as_json(self) -> dict[str, float | int]:
        return {"precision": round(self.precision, 4), "recall": round(self.recall, 4), "f1": round(self.f1, 4),
                "tp": self.tp, "fp": self.fp, "fn": self.fn, "tn": self.tn}


def metrics(verdicts: Iterable[Verdict], topics: Iterable[str]) -> dict[str, Scores]:
    """Precision, recall and F1 per topic over the verdicts that carry labels for it."""
    scores = {t: Scores() for t in topics}
    for v in verdicts:
        if v.labels is None:
            continue
        fired = v.fired()
        for topic, s in scores.items():
            s.count(bool(v.labels.get(topic, False)), topic in fired)
    return scores


@dataclass
class Change:
    id: str
    newly: list[str] = field(default_factory=list)
    stopped: list[str] = field(default_factory=list)


def compare(live: list[Verdict], candidate: list[Verdict]) -> list[Change]:
    """What the candidate rules would newly fire or stop firing, article by article."""
    changes = []
    for a, b in zip(live, candidate, strict=True):
        newly, stopped = sorted(b.fired() - a.fired()), sorted(a.fired() - b.fired())
        if newly or stopped:
            changes.append(Change(a.id, newly, stopped))
    return changes
