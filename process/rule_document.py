"""An article as the rule language reads it: its title and text folded into words, indexed once.

In: an article's title and text. Out: a :class:`Document` whose fields (``any``, ``title``, ``text``) give the
positions of a word or of a word's beginning, and whose ``keys`` (word beginnings) let
:mod:`process.rule_anchors` skip the patterns that cannot match. :mod:`process.rule_language` evaluates
patterns on it.
"""

from __future__ import annotations

from bisect import bisect_left

from wirewatch.process.scripts import unspaced
from wirewatch.process.scripts import words as split_words

from wirewatch.textnorm import fold

MIN_WILDCARD_STEM = 3  # letters before a '*' (a shorter stem is refused by the parser)
UNSPACED_KEY = "\x00"  # among a document's keys when it has words of a script without spaces


class Field:
    """One field of an article as folded words with their positions, indexed for fast lookups (the sorted
    words for prefixes, and the words of scripts without spaces, are found at their first use)."""

    def __init__(self, words: list[str], maybe_unspaced: bool = True) -> None:
        self.words = words
        index: dict[str, list[int]] = {}
        for pos, word in enumerate(words):
            found = index.get(word)
            if found is None:
                index[word] = [pos]
            else:
                found.append(pos)
        self.index = index
        self._sorted: list[str] | None = None
        # a text with no character of those scripts has no such word: one search instead of one per word
        self.unspaced_words = [w for w in index if unspaced(w)] if maybe_unspaced else []

    @property
    def sorted_words(self) -> list[str]:
        if self._sorted is None:
            self._sorted = sorted(self.index)
        return self._sorted

    def positions(self, token: str, prefix: bool) -> list[int]:
        if self.unspaced_words and unspaced(token):  # Thai and the like: look inside the runs
            return sorted(p for w in self.unspaced_words if token in w for p in self.index[w])
        if not prefix:
            return self.index.get(token, [])
        found: list[int] = []
        words = self.sorted_words
        i = bisect_left(words, token)
        while i < len(words) and words[i].startswith(token):
            found += self.index[words[i]]
            i += 1
        return sorted(found)


class _Fields(dict[str, Field]):
    """A document's fields by scope: ``any`` made at once, ``title`` and ``text`` when a pattern first asks."""

    def __init__(self, title: list[str], text: list[str], maybe_unspaced: bool) -> None:
        super().__init__(any=Field(title + text, maybe_unspaced))
        self._words = {"title": title, "text": text}
        self._maybe_unspaced = maybe_unspaced

    def __missing__(self, scope: str) -> Field:
        field = self[scope] = Field(self._words[scope], self._maybe_unspaced)
        return field


class Document:
    """An article prepared once for every pattern of every topic: title, text, and both together."""

    def __init__(self, title: str, text: str) -> None:
        title, text = fold(title), fold(text)
        maybe_unspaced = unspaced(title) or unspaced(text)
        self.fields: dict[str, Field] = _Fields(split_words(title), split_words(text), maybe_unspaced)
        # the beginnings of its words, for the cheap test of process.rule_anchors
        anywhere = self.fields["any"]
        self.keys = frozenset([w[:MIN_WILDCARD_STEM] for w in anywhere.index] + ["=" + w for w in anywhere.index]
                              + ([UNSPACED_KEY] if anywhere.unspaced_words else []))
