"""Editors' rules: one topic per ``*.rules`` file — weighted patterns and a threshold.

In: a folder of rule files. Out: a :class:`RulePack` that scores an article per topic and says which
patterns fired and on which words. The pattern language is in :mod:`process.rule_language` and, for
editors, in docs/rules.md. File format::

    # comment
    threshold = 4
    3  ceasefire* OR truce*                          # weight, then a pattern
    2  (negotiat* OR talks) NEAR/8 (ceasefire* OR moratorium)
    -4 ceasefire NEAR/4 (boardroom OR "price war")   # a negative weight takes away
    2  title:"peace talks"

A topic fires when the weights of its matching lines add up to the threshold. Every error of every
file is reported as ``file:line:col: message``; a folder with any error is rejected whole, so a
running service keeps its last good rules.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

from wirewatch.process.rule_anchors import Anchors, anchors, may_match
from wirewatch.process.rule_language import Document, Node, PatternError, matched_words, parse_pattern

RULES_SUFFIX = ".rules"
MAX_PATTERNS_PER_TOPIC = 20_000
MAX_LINE_CHARS = 2_000
LINE = re.compile(r"(-?[0-9]+(?:\.[0-9]+)?)\s+(.*)$")


class RuleError(ValueError):
    """One or more errors in rule files; ``problems`` lists them as ``file:line:col: message``."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Pattern:
    text: str
    weight: float
    node: Node
    line: int
    anchors: Anchors = ()  # word beginnings the pattern needs; checked before it is evaluated


@dataclass
class TopicRules:
    topic: str
    threshold: float
    patterns: list[Pattern] = field(default_factory=list)
    path: str = ""


@dataclass(frozen=True)
class Hit:
    pattern: Pattern
    matched: tuple[str, ...]


def _strip_comment(raw: str) -> str:
    """The line without its comment: '#' at the start, or after white space outside quotes."""
    in_quote = False
    for i, ch in enumerate(raw):
        if ch == '"':
            in_quote = not in_quote
        elif ch == "#" and not in_quote and (i == 0 or raw[i - 1].isspace()):
            return raw[:i].rstrip()
    return raw.rstrip()


def parse_rules(text: str, path: str, topic: str) -> TopicRules:
    """Parse one topic's rule file; raise :class:`RuleError` listing every problem found."""
    problems: list[str] = []
    threshold: float | None = None
    patterns: list[Pattern] = []
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = _strip_comment(raw)
        if not line.strip():
            continue
        col = len(line) - len(line.lstrip()) + 1
        body = line.strip()
        if len(body) > MAX_LINE_CHARS:
            problems.append(f"{path}:{lineno}:{col}: line of {len(body)} characters; at most {MAX_LINE_CHARS}")
            continue
        if body.startswith("threshold"):
            m = re.fullmatch(r"threshold\s*=\s*([0-9]+(?:\.[0-9]+)?)", body)
            if not m:
                problems.append(f"{path}:{lineno}:{col}: expected 'threshold = NUMBER', got {body!r}")
            elif threshold is not None:
                problems.append(f"{path}:{lineno}:{col}: threshold given twice")
            else:
                threshold = float(m.group(1))
            continue
        m = LINE.match(body)
        if not m:
            problems.append(f"{path}:{lineno}:{col}: expected 'WEIGHT PATTERN' (e.g. '2  negotiat*'), got {body!r}")
            continue
        weight, pattern = float(m.group(1)), m.group(2).strip()
        try:
            node = parse_pattern(pattern, col + m.start(2))
        except PatternError as exc:
            problems.append(f"{path}:{lineno}:{exc.col}: {exc}")
            continue
        if weight == 0:
            problems.append(f"{path}:{lineno}:{col}: weight 0 does nothing; remove the line or give it a weight")
            continue
        patterns.append(Pattern(pattern, weight, node, lineno, anchors(node)))
    if threshold is None:
        problems.append(f"{path}:1:1: missing 'threshold = NUMBER'")
    elif threshold <= 0:
        problems.append(f"{path}:1:1: threshold must be above 0")
    if not patterns and not problems:
        problems.append(f"{path}:1:1: no patterns")
    if len(patterns) > MAX_PATTERNS_PER_TOPIC:
        problems.append(f"{path}:1:1: {len(patterns)} patterns; at most {MAX_PATTERNS_PER_TOPIC} per topic")
    if problems:
        raise RuleError(problems)
    return TopicRules(topic, threshold or 1.0, patterns, path)


@dataclass
class RulePack:
    """All topics' rules, with a version that changes whenever a file changes."""

    topics: dict[str, TopicRules]
    version: str

    def score(self, topic: str, title: str, text: str, doc: Document | None = None) -> tuple[float, list[Hit]]:
        """The summed weight of the topic's matching lines, and the hits with their words."""
        doc = doc or Document(title, text)
        hits = []
        for pat in self.topics[topic].patterns:
            if not may_match(pat.anchors, doc):
                continue
            found = pat.node.match(doc)
            if found.ok:
                hits.append(Hit(pat, matched_words(doc, found)))
        return sum(h.pattern.weight for h in hits), hits


def load_rules(folder: str | Path) -> RulePack:
    """Load every ``*.rules`` file of a folder; raise :class:`RuleError` with all problems of all files."""
    folder = Path(folder)
    if not folder.is_dir():
        raise RuleError([f"{folder}: not a folder of rule files"])
    files = sorted(folder.glob(f"*{RULES_SUFFIX}"))
    if not files:
        raise RuleError([f"{folder}: no *{RULES_SUFFIX} files (one file per topic, e.g. ceasefire_talks.rules)"])
    problems: list[str] = []
    topics: dict[str, TopicRules] = {}
    digest = hashlib.sha256()
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            problems.append(f"{path}:1:1: not UTF-8 text ({exc.reason} at byte {exc.start})")
            continue
        digest.update(path.name.encode() + b"\0" + text.encode())
        try:
            topics[path.stem] = parse_rules(text, str(path), path.stem)
        except RuleError as exc:
            problems.extend(exc.problems)
    if problems:
        raise RuleError(problems)
    return RulePack(topics, digest.hexdigest()[:12])


def bundled_rules_dir() -> Path:
    return Path(__file__).parent / "rules"
