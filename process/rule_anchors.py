"""A cheap test that a pattern cannot match an article, run before the pattern itself.

In: a parsed pattern (:class:`process.rule_language.Node`) and an article's
:class:`process.rule_language.Document`. Out: :func:`anchors` — the groups of word beginnings a
pattern needs (every group must meet the beginnings of the article's words, ``Document.keys``). A
pattern whose groups do not all meet the article's keys cannot match and is not
evaluated; one that passes is evaluated as usual, so the result never changes, only the cost.

A phrase needs its longest whole word (``=protection`` for ``"protection zone"``), or, when all its
words end in ``*``, the first three characters of the first (every wildcard has at least three
letters before ``*``). ``a OR b`` needs what either side needs; ``a AND b`` and ``a NEAR/n b`` need
both; ``NOT`` needs nothing; a word of a script written without spaces (matched inside longer runs)
needs only that the article has some text in such a script. An article's keys are its whole words
(``=word``) and the first three characters of each.
"""

from __future__ import annotations

from wirewatch.process.rule_language import (
    MIN_WILDCARD_STEM,
    UNSPACED_KEY,
    And,
    Document,
    Near,
    Node,
    Not,
    Or,
    Phrase,
    Scoped,
)
from wirewatch.process.scripts import unspaced

Anchors = tuple[frozenset[str], ...]


def anchors(node: Node) -> Anchors:
    """Groups of word beginnings, each of which must meet the article's, for ``node`` to match."""
    if isinstance(node, Phrase):
        return (frozenset([phrase_key(node)]),)
    if isinstance(node, Scoped):
        return anchors(node.inner)
    if isinstance(node, And | Near):
        parts = node.parts if isinstance(node, And) else (node.left, node.right)
        return tuple(group for part in parts for group in anchors(part))
    if isinstance(node, Or):
        union: set[str] = set()
        for part in node.parts:
            groups = anchors(part)
            if not groups:  # one side needs nothing, so neither does the whole
                return ()
            union |= groups[0]  # any one group of a side is needed by that side
        return (frozenset(union),)
    if isinstance(node, Not):
        return ()
    return ()


def phrase_key(phrase: Phrase) -> str:
    """What an article needs for the phrase: a whole word (``=word``, the longest of the phrase's
    whole words), else the beginning of its first word; or text in a script without spaces."""
    if any(unspaced(token) for token, _ in phrase.tokens):
        return UNSPACED_KEY
    whole = [token for token, prefix in phrase.tokens if not prefix]
    if whole:
        return "=" + max(whole, key=len)
    return phrase.tokens[0][0][:MIN_WILDCARD_STEM]


def may_match(groups: Anchors, doc: Document) -> bool:
    """False when the pattern with these anchor groups cannot match the article."""
    have = doc.keys
    return all(not group.isdisjoint(have) for group in groups)
