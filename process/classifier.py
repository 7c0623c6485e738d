"""The classify stage: editors' rules plus the model give each topic a score and an explanation.

In: :class:`Article`. Out: :class:`TaggedArticle` on ``tagged``.

Per topic, ``r = clamp(rule weight / threshold, 0, 1)`` and ``p`` = the model's probability; the
score is ``(r + p) / 2`` and the topic fires when the score reaches ``fire_score`` (0.6), or when
the model alone is very sure (``p >= model_alone_probability``, 0.85). So rules that reach their
threshold fire unless the model is nearly certain they are wrong (p < 0.2); rules at half their
threshold need the model's agreement (p >= 0.7); and every tag says which patterns matched which
words and what the model said. Rules are re-read when their files change; a broken edit is logged
and the last good rules stay.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import Future
from pathlib import Path

from wirewatch.process.model import TopicModel, document
from wirewatch.process.rule_language import Document
from wirewatch.process.rules import RuleError, RulePack, load_rules

from wirewatch.kafka import TAGGED, Output
from wirewatch.schema import Article, RuleHit, TaggedArticle, TopicTag

log = logging.getLogger(__name__)

RULE_SHARE, MODEL_SHARE = 0.5, 0.5
MAX_RULE_CHARS = 200_000


class RuleSource:
    """The live rule pack of a folder: reloaded when a file changes, the last good one kept on errors."""

    def __init__(self, folder: str | Path, check_every: float = 2.0) -> None:
        self.folder = Path(folder)
        self.check_every = check_every
        self._stamp = self._fingerprint()
        self.pack = load_rules(self.folder)  # the first load must succeed
        log.info("rules loaded from %s: %d topics (version %s)", self.folder, len(self.pack.topics), self.pack.version)
        self._checked = time.monotonic()

    def _fingerprint(self) -> tuple[tuple[str, float, int], ...]:
        return tuple(sorted((p.name, p.stat().st_mtime, p.stat().st_size) for p in self.folder.glob("*.rules")))

    def reload_now(self) -> None:
        """Look at the files at the next use instead of waiting for the next check (SIGHUP)."""
        self._checked = float("-inf")

    def current(self) -> RulePack:
        now = time.monotonic()
        if now - self._checked >= self.check_every:
            self._checked = now
            stamp = self._fingerprint()
            if stamp != self._stamp:
                self._stamp = stamp
                try:
                    self.pack = load_rules(self.folder)
                    log.info("rules reloaded from %s (version %s)", self.folder, self.pack.version)
                except RuleError as exc:
                    log.error("rules in %s have errors; keeping version %s:\n%s", self.folder, self.pack.version, exc)
        return self.pack


class TopicClassifier:
    """``tag(article)`` combines the rules and the model into one :class:`TaggedArticle`."""

    def __init__(self, rules: RuleSource, model: TopicModel | Future[TopicModel] | None, fire_score: float = 0.6,
                 model_alone: float = 0.85) -> None:
        self.rules = rules
        self._model = model
        self.fire_score = fire_score
        self.model_alone = model_alone

    @property
    def model(self) -> TopicModel | None:
        """The model; one still being trained (a future) is waited for at its first use."""
        if isinstance(self._model, Future):
            try:
                self._model = self._model.result()
            except Exception:  # a bug in training, past the checks made before it started: say so, go on
                log.exception("training the model failed; classifying with the rules alone")
                self._model = None
        return self._model

    def tag(self, article: Article) -> TaggedArticle:
        return self.tag_batch([article])[0]

    def tag_batch(self, articles: list[Article]) -> list[TaggedArticle]:
        """Tag many articles at once: the model is asked once for the whole batch (much cheaper)."""
        pack = self.rules.current()
        texts = [(a.title, a.text[:MAX_RULE_CHARS]) for a in articles]
        rows: list[dict[str, float]] = [{} for _ in articles]
        model = self.model
        if model is not None and articles:
            matrix = model.probabilities([document(title, text) for title, text in texts])
            rows = [{t: float(p) for t, p in zip(model.topics, row, strict=True)} for row in matrix]
        return [self._tag(article, pack, title, text, probs)
                for article, (title, text), probs in zip(articles, texts, rows, strict=True)]

    def _tag(self, article: Article, pack: RulePack, title: str, text: str, probs: dict[str, float]) -> TaggedArticle:
        tags = []
        doc = Document(title, text)
        for topic, rules in sorted(pack.topics.items()):
            weight, hits = pack.score(topic, title, text, doc)
            rule_part = max(0.0, min(1.0, weight / rules.threshold))
            prob = probs.get(topic)
            score = RULE_SHARE * rule_part + MODEL_SHARE * (prob or 0.0) if prob is not None else rule_part
            by_model = prob is not None and prob >= self.model_alone and score < self.fire_score
            fired = score >= self.fire_score or by_model
            words = ", ".join(f"{h.pattern.text} ({'/'.join(h.matched)})" for h in hits[:8])
            explanation = (f"rules {weight:g}/{rules.threshold:g}" + (f" [{words}]" if words else "")
                           + (f"; model p={prob:.2f}" if prob is not None else "; no model")
                           + ("; fired on the model's confidence alone" if by_model else ""))
            tags.append(TopicTag(
                topic=topic, score=round(score, 4), fired=fired, rule_weight=weight, rule_threshold=rules.threshold,
                rules=[RuleHit(pattern=h.pattern.text, weight=h.pattern.weight, matched=list(h.matched),
                               line=h.pattern.line) for h in hits],
                model_probability=None if prob is None else round(prob, 4), explanation=explanation))
        return TaggedArticle(article=article, topics=tags, rules_version=pack.version,
                             model_version=self.model.version if self.model else "")

    def handle_batch(self, articles: list[Article]) -> list[list[Output]]:
        return [[Output(TAGGED, t.article_id, t)] for t in self.tag_batch(articles)]

    def handle(self, article: Article) -> list[Output]:
        return [Output(TAGGED, article.article_id, self.tag(article))]
