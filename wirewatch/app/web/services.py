"""The web app's one door to the stages: the rule language, story relations, OPML, dead letters.

In: plain values from the pages (a rule text, a story's articles as rows, OPML bytes). Out: plain
dataclasses for the view models. No other module of :mod:`wirewatch.app.web` imports ``process``,
``alerts`` or ``ingest``; when the stages move (issue #12) only this module follows them.

- :meth:`Stages.check_rules` — every problem of a topic's rule text, at line:column;
- :meth:`Stages.preview` — what a rule text fires on over recent articles, with the matched words,
  beside what the saved rules fire on (newly firing, no longer firing), and precision and recall
  against the analysts' verdicts;
- :meth:`Stages.timeline` — each article of a story related to its first report: a retelling, a
  follow-up (with what is new) or only grouped with it;
- :meth:`Stages.read_opml`, :meth:`Stages.dead_letters`, :meth:`Stages.replay`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from wirewatch.app import registry
from wirewatch.config import Settings
from wirewatch.schema import DeadLetter, parse_time
from wirewatch.textnorm import fold

MAX_RULE_CHARS = 200_000  # as the classifier: a longer rule file is refused whole
WORD = re.compile(r"\w+")
PROBLEM = re.compile(r"^.*?:(\d+):(\d+): (.*)$", re.DOTALL)


@dataclass(frozen=True)
class RuleProblem:
    line: int
    col: int
    message: str


@dataclass(frozen=True)
class PreviewItem:
    article_id: str
    title: str
    source: str
    published: str
    url: str
    score: float
    matched: tuple[str, ...]
    snippet: str
    fires_now: bool  # with the saved rules
    fires_new: bool  # with the text being edited
    verdict: str = ""  # an analyst's: relevant / not_relevant / ""


@dataclass
class Preview:
    topic: str
    problems: list[RuleProblem]
    scanned: int = 0
    firing: list[PreviewItem] = field(default_factory=list)
    newly: list[PreviewItem] = field(default_factory=list)
    stopped: list[PreviewItem] = field(default_factory=list)
    judged: int = 0
    precision: float | None = None
    recall: float | None = None
    precision_now: float | None = None
    recall_now: float | None = None


@dataclass(frozen=True)
class TimelineEntry:
    article_id: str
    relation: str  # first_report, same_report, follow_up, grouped
    reason: str
    new_sentences: tuple[str, ...] = ()
    new_facts: tuple[str, ...] = ()


def _snippet(text: str, words: Iterable[str], width: int = 220) -> str:
    """A window of the text around the first matched word."""
    wanted = {w for m in words for w in m.split()}
    for found in WORD.finditer(text):
        if fold(found.group()) in wanted:
            start = max(0, found.start() - width // 3)
            cut = text[start:start + width]
            return ("…" if start else "") + cut + ("…" if start + width < len(text) else "")
    return text[:width] + ("…" if len(text) > width else "")


class _Corpus:
    """The preview's articles, indexed once: which articles hold which words, each article's parsed
    document (made when a pattern may match it), and each pattern line's matches (a line that did not
    change while the editor types is not evaluated again)."""
    def __init__(self, rows: Sequence[dict[str, Any]]) -> None:
        self.rows = rows
        self.postings: dict[str, list[int]] = {}
        for i, row in enumerate(rows):
            for token in set(WORD.findall(fold(f"{row['title']} {row['text']}"))):
                self.postings.setdefault(token, []).append(i)
        self.vocabulary = sorted(self.postings)
        self.docs: dict[int, Any] = {}
        self.lines: dict[str, dict[int, tuple[str, ...]]] = {}

    def _candidates(self, node: Any) -> Iterable[int]:
        from bisect import bisect_left


        if registry.process.has_not(node):
            return range(len(self.rows))
        found: set[int] = set()
        for leaf in node.leaves():
            if not isinstance(leaf, registry.process.Phrase):
                return range(len(self.rows))
            first, prefix = leaf.tokens[0]
            if not prefix:
                found.update(self.postings.get(first, ()))
                continue
            j = bisect_left(self.vocabulary, first)
            while j < len(self.vocabulary) and self.vocabulary[j].startswith(first):
                found.update(self.postings[self.vocabulary[j]])
                j += 1
        return sorted(found)

    def matches(self, pattern: Any) -> dict[int, tuple[str, ...]]:
        key = pattern.text
        if key not in self.lines:
            out = {}
            for i in self._candidates(pattern.node):
                doc = self.docs.get(i)
                if doc is None:
                    doc = self.docs[i] = registry.process.Document(self.rows[i]["title"], self.rows[i]["text"])
                found = pattern.node.match(doc)
                if found.ok:
                    out[i] = registry.process.matched_words(doc, found)
            self.lines[key] = out
        return self.lines[key]

    def score(self, rules: Any) -> tuple[dict[int, float], dict[int, list[str]]]:
        weight: dict[int, float] = {}
        words: dict[int, list[str]] = {}
        for pattern in rules.patterns:
            for i, found in self.matches(pattern).items():
                weight[i] = weight.get(i, 0.0) + pattern.weight
                words.setdefault(i, []).extend(found)
        return weight, words


class Stages:
    """What the pages need from process/, alerts/ and ingest/, behind plain values."""
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._stats: Any = None
        self._corpus: _Corpus | None = None
        self._timelines: dict[tuple[tuple[str, str], ...], list[TimelineEntry]] = {}

    # -- rules -----------------------------------------------------------------------------------
    def rules_folder(self) -> Path:
        folder = self.settings.classify.rules_dir
        return Path(folder) if folder else registry.process.bundled_rules_dir()

    @property
    def rules_editable(self) -> bool:
        return bool(self.settings.classify.rules_dir)

    def topics(self) -> list[str]:
        return sorted(p.stem for p in self.rules_folder().glob("*.rules"))

    def check_rules(self, topic: str, text: str) -> list[RuleProblem]:
        return self._parse(topic, text)[1]

    def _parse(self, topic: str, text: str) -> tuple[Any, list[RuleProblem]]:
        if len(text) > MAX_RULE_CHARS:
            return None, [RuleProblem(1, 1, f"the rule text has {len(text):,} characters; at most "
                                            f"{MAX_RULE_CHARS:,} are accepted (split it or remove old lines)")]
        try:
            return registry.process.parse_rules(text, f"{topic}.rules", topic), []
        except registry.process.RuleError as exc:
            out = []
            for problem in exc.problems:
                m = PROBLEM.match(problem)
                out.append(RuleProblem(int(m.group(1)), int(m.group(2)), m.group(3)) if m
                           else RuleProblem(1, 1, problem))
            return None, out

    def prepare_preview(self, articles: Sequence[dict[str, Any]]) -> None:
        """Index these articles and evaluate every saved rule file on them (in a thread, ahead of the
        previews); the previews on them then evaluate only the lines an editor changed."""
        corpus = _Corpus(articles)
        for topic in self.topics():
            parsed, _ = self._parse(topic, (self.rules_folder() / f"{topic}.rules").read_text(encoding="utf-8"))
            if parsed is not None:
                corpus.score(parsed)
        self._corpus = corpus

    def preview(self, topic: str, text: str, saved_text: str, articles: Sequence[dict[str, Any]],
                verdicts: dict[str, str]) -> Preview:
        """``articles``: rows with article_id, title, text, source, published, url (newest first). The same
        list object again (the page's cache) reuses the word index and each pattern line's matches."""
        candidate, problems = self._parse(topic, text)
        result = Preview(topic, problems, scanned=len(articles))
        if candidate is None:
            return result
        saved, _ = self._parse(topic, saved_text) if saved_text else (None, [])
        if self._corpus is None or self._corpus.rows is not articles:
            self._corpus = _Corpus(articles)
        corpus = self._corpus
        new_weight, new_words = corpus.score(candidate)
        old_weight, old_words = corpus.score(saved) if saved is not None else ({}, {})
        tp = fp = fn = tp_now = fp_now = fn_now = 0
        for i, row in enumerate(articles):
            fires_new = new_weight.get(i, 0.0) >= candidate.threshold
            fires_now = saved is not None and old_weight.get(i, 0.0) >= saved.threshold
            verdict = verdicts.get(row["article_id"], "")
            if verdict:
                truth = verdict == "relevant"
                tp, fp, fn = tp + (truth and fires_new), fp + (not truth and fires_new), fn + (truth and not fires_new)
                tp_now, fp_now = tp_now + (truth and fires_now), fp_now + (not truth and fires_now)
                fn_now += truth and not fires_now
            if not (fires_new or fires_now):
                continue
            matched = tuple(dict.fromkeys(new_words.get(i, []) if fires_new else old_words.get(i, [])))[:8]
            item = PreviewItem(row["article_id"], row["title"], row["source"], row["published"] or "", row["url"],
                               round(new_weight.get(i, 0.0) / candidate.threshold, 2), matched,
                               _snippet(row["text"], matched), fires_now, fires_new, verdict)
            if fires_new:
                result.firing.append(item)
            if fires_new and not fires_now:
                result.newly.append(item)
            if fires_now and not fires_new:
                result.stopped.append(item)
        result.judged = sum(1 for row in articles if row["article_id"] in verdicts)
        result.precision = tp / (tp + fp) if tp + fp else None
        result.recall = tp / (tp + fn) if tp + fn else None
        result.precision_now = tp_now / (tp_now + fp_now) if tp_now + fp_now else None
        result.recall_now = tp_now / (tp_now + fn_now) if tp_now + fn_now else None
        return result

    # -- stories ---------------------------------------------------------------------------------
    def timeline(self, rows: Sequence[dict[str, Any]], topics: dict[str, set[str]],
                 texts: Callable[[list[str]], dict[str, str]]) -> list[TimelineEntry]:
        """Relate each article (oldest first) to the story begun by the first one, as the alert stage does;
        ``texts`` gives the articles' texts, read only when these articles were not related before."""
        if self._stats is None:
            self._stats = registry.alerts.TermStats.with_background()
        if not rows:
            return []
        key = tuple((r["article_id"], r["published"]) for r in rows)
        if key in self._timelines:  # the same articles as last time: the same relations
            return self._timelines[key]
        if len(self._timelines) > 2000:
            self._timelines.clear()
        body_of = texts([r["article_id"] for r in rows])
        rows = [{**r, "text": body_of.get(r["article_id"], "")} for r in rows]
        first = rows[0]
        profile = registry.alerts.StoryProfile(str(first["article_id"]), first["title"])
        body = f"{first['title']}\n{first['text']}"
        profile.seed(body, topics.get(first["article_id"], set()), parse_time(first["published"]))
        out = [TimelineEntry(first["article_id"], "first_report", "the first report")]
        for row in rows[1:]:
            text = f"{row['title']}\n{row['text']}"
            rel = registry.alerts.relate(text, profile, self._stats, self.settings.alert.related_threshold,
                         parse_time(row["published"]), topics.get(row["article_id"], set()),
                         self.settings.alert.window_days)
            if rel.kind == "follow_up":
                profile.learn(text, parse_time(row["published"]))
            kind = rel.kind if rel.related else "grouped"
            out.append(TimelineEntry(row["article_id"], kind, rel.reason, rel.new_sentences, rel.new_facts))
        self._timelines[key] = out
        return out

    # -- feeds and dead letters -------------------------------------------------------------------
    def read_opml(self, data: bytes, source: str) -> list[tuple[str, str]]:
        return registry.ingest.read_opml(data, source)

    def dead_letters(self, timeout: float = 5.0) -> list[tuple[int, int, DeadLetter]]:
        """(partition, offset, DeadLetter) of the broker the workers use, newest failure first; ValueError
        when none is configured."""
        from wirewatch.kafka import KafkaWiring, read_dead_letters

        if not self.settings.kafka.bootstrap_servers:
            raise ValueError("no broker is configured (KAFKA_BOOTSTRAP_SERVERS): dead letters live on the broker "
                             "the workers use")
        wiring = KafkaWiring(self.settings.kafka, self.settings.kafka.bootstrap_servers)
        wiring.check_reachable()
        return read_dead_letters(wiring, quiet=timeout, timeout=60)[::-1]

    def replay(self, picked: Sequence[tuple[int, int]]) -> int:
        """Publish the chosen dead letters' messages again to the topic they came from, with their keys
        (those that keep their whole message), acknowledged by the broker; returns how many."""
        from wirewatch.kafka import KafkaWiring, replay_dead_letters

        wanted = set(picked)
        letters = [letter for partition, offset, letter in self.dead_letters() if (partition, offset) in wanted]
        return replay_dead_letters(KafkaWiring(self.settings.kafka, self.settings.kafka.bootstrap_servers), letters)
