"""Editors' keyword rules: one topic per ``*.rules`` file, weighted patterns and a threshold.

In: a folder of rule files. Out: a :class:`RulePack` that scores an article per topic and says
which patterns fired and on which words.

File format (documented for editors in docs/rules.md)::

    # comment
    threshold = 4
    3  "ceasefire talks"        # a phrase: these words in this order
    2  negotiat*                # a word; * at the end matches any ending
    2  title:truce              # only in the title
    1  moratorium

A topic fires when the weights of its distinct matching patterns add up to the threshold.
Matching is case- and accent-insensitive on Unicode word boundaries (Latin, Cyrillic, Arabic...).
Errors are reported with file, line and column and what was expected; a file with errors is
rejected whole, so a running service keeps its last good rules.
"""

from __future__ import annotations

import hashlib
import re
from bisect import bisect_left
from dataclasses import dataclass, field
from pathlib import Path

from process.textnorm import fold

RULES_SUFFIX = ".rules"
TOKEN = re.compile(r"^[\w'’-]+\*?$")
PIECE = re.compile(r"\w+")  # the pre-check splits text and patterns alike, at every non-word character
MAX_PATTERNS_PER_TOPIC = 5000
MIN_WILDCARD_STEM = 3


class RuleError(ValueError):
    """One or more errors in rule files; ``problems`` lists them as ``file:line:col: message``."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Pattern:
    text: str
    weight: float
    scope: str  # "any" or "title"
    regex: re.Pattern[str]
    line: int
    tokens: tuple[str, ...] = ()  # folded words, each with its trailing * if any: the pre-check


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


def _word_keys(tokens: tuple[str, ...]) -> tuple[str, ...]:
    """The words a pattern needs, as the word regex splits them ("cessez-le-feu" needs cessez, le, feu)."""
    keys: list[str] = []
    for tok in tokens:
        parts = PIECE.findall(tok.rstrip("*"))
        if parts:
            keys += [*parts[:-1], parts[-1] + ("*" if tok.endswith("*") else "")]
    return tuple(keys)


def _compile(tokens: list[str]) -> re.Pattern[str]:
    parts = []
    for tok in tokens:
        stem = re.escape(fold(tok.rstrip("*")))
        parts.append(stem + (r"\w*" if tok.endswith("*") else ""))
    return re.compile(r"(?<!\w)" + r"\W+".join(parts) + r"(?!\w)")


def parse_rules(text: str, path: str, topic: str) -> TopicRules:
    """Parse one topic's rule file; raise :class:`RuleError` listing every problem found."""
    problems: list[str] = []
    threshold: float | None = None
    patterns: list[Pattern] = []
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.split(" #", 1)[0].rstrip() if not raw.lstrip().startswith("#") else ""
        if not line.strip():
            continue
        col = len(line) - len(line.lstrip()) + 1
        body = line.strip()
        if body.startswith("threshold"):
            m = re.fullmatch(r"threshold\s*=\s*([0-9]+(?:\.[0-9]+)?)", body)
            if not m:
                problems.append(f"{path}:{lineno}:{col}: expected 'threshold = NUMBER', got {body!r}")
            else:
                threshold = float(m.group(1))
            continue
        m = re.match(r"(-?[0-9]+(?:\.[0-9]+)?)\s+(.*)$", body)
        if not m:
            problems.append(f"{path}:{lineno}:{col}: expected 'WEIGHT PATTERN' (e.g. '2  negotiat*'), got {body!r}")
            continue
        weight, pattern = float(m.group(1)), m.group(2).strip()
        pcol = col + m.start(2)
        scope = "any"
        if pattern.startswith("title:"):
            scope, pattern = "title", pattern[len("title:"):].strip()
        if pattern.startswith('"'):
            if len(pattern) < 2 or not pattern.endswith('"'):
                problems.append(f"{path}:{lineno}:{pcol}: unterminated phrase: expected a closing '\"'")
                continue
            tokens = pattern[1:-1].split()
        else:
            tokens = pattern.split()
            if len(tokens) > 1:
                problems.append(f"{path}:{lineno}:{pcol}: several words need quotes: expected \"{pattern}\"")
                continue
        if not tokens:
            problems.append(f"{path}:{lineno}:{pcol}: empty pattern")
            continue
        bad = [t for t in tokens if not TOKEN.match(t)]
        if bad:
            problems.append(f"{path}:{lineno}:{pcol}: unexpected characters in {bad[0]!r}: expected letters, "
                            "digits, - or ' and an optional * at the end")
            continue
        short = [t for t in tokens if t.endswith("*") and len(t.rstrip("*")) < MIN_WILDCARD_STEM]
        if short:
            problems.append(f"{path}:{lineno}:{pcol}: wildcard {short[0]!r} would match almost everything: "
                            f"expected at least {MIN_WILDCARD_STEM} letters before '*'")
            continue
        folded = tuple(fold(t) for t in tokens)
        patterns.append(Pattern(pattern, weight, scope, _compile(tokens), lineno, _word_keys(folded)))
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


class Prepared:
    """An article folded and split into words once, shared by every topic's patterns.

    A pattern's regex runs only when each of its words (or word stems, for ``*``) occurs in the
    article at all, which a sorted word list answers in logarithmic time; most patterns of most
    articles are ruled out that way, and the cost of a rule pack grows with the text, not with
    text × patterns.
    """

    def __init__(self, title: str, text: str) -> None:
        self.title = fold(title)
        self.all = fold(f"{title}\n{text}")
        self.title_words = sorted(set(PIECE.findall(self.title)))
        self.words = sorted(set(PIECE.findall(self.all)))

    @staticmethod
    def _has(words: list[str], token: str) -> bool:
        stem = token.rstrip("*")
        i = bisect_left(words, stem)
        if i == len(words):
            return False
        return words[i].startswith(stem) if token.endswith("*") else words[i] == stem

    def may_match(self, pattern: Pattern) -> bool:
        words = self.title_words if pattern.scope == "title" else self.words
        return all(self._has(words, tok) for tok in pattern.tokens)


@dataclass
class RulePack:
    """All topics' rules, with a version that changes whenever a file changes."""

    topics: dict[str, TopicRules]
    version: str

    def score(self, topic: str, title: str, text: str, prepared: Prepared | None = None) -> tuple[float, list[Hit]]:
        """The summed weight of the topic's matching patterns, and the hits."""
        doc = prepared or Prepared(title, text)
        hits: list[Hit] = []
        counted: set[tuple[str, str]] = set()
        for pat in self.topics[topic].patterns:
            if (pat.scope, pat.regex.pattern) in counted:  # the same folded word listed for two languages
                continue
            if not doc.may_match(pat):
                continue
            found = pat.regex.findall(doc.title if pat.scope == "title" else doc.all)
            if found:
                counted.add((pat.scope, pat.regex.pattern))
                hits.append(Hit(pat, tuple(dict.fromkeys(found))[:5]))
        return sum(h.pattern.weight for h in hits), hits


def load_rules(folder: str | Path) -> RulePack:
    """Load every ``*.rules`` file of a folder; raise :class:`RuleError` with all problems of all files."""
    folder = Path(folder)
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
