"""The rule language: one pattern per line, parsed into a small expression tree and evaluated on
an article's words.

In: a pattern's text (with its file, line and column, for error messages). Out: a :class:`Node` whose
``match(doc)`` says whether it matches a :class:`Document` and on which words.

Grammar (operators are upper-case; lower-case ``and``/``or``/``not`` are ordinary words)::

    pattern  := or
    or       := and ("OR" and)*
    and      := not ("AND" not)*
    not      := "NOT" not | near
    near     := primary ("NEAR/" n primary)*      order-free, at most n words apart
    primary  := term | "quoted phrase" | field ":" primary | "(" pattern ")"
    term     := letters, digits, ' or -, optionally ending in * (at least 3 letters before it)
    field    := title | text

Matching is case- and accent-insensitive (``trêve`` = ``TREVE``) on Unicode word boundaries, so
Latin, Cyrillic, Greek, Arabic, Armenian and the Indic scripts work alike (words keep their vowel
signs, :mod:`process.scripts`). A word with inner hyphens or apostrophes (``cessez-le-feu``,
``перемир'я``) is a phrase of its parts. A rule word in a script written without spaces (Thai, Lao,
Khmer, Myanmar, Chinese, Japanese) matches anywhere inside the article's runs of that script.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from wirewatch.process.rule_document import MIN_WILDCARD_STEM, UNSPACED_KEY, Document
from wirewatch.process.scripts import PATTERN_WORD
from wirewatch.process.scripts import words as split_words

from wirewatch.textnorm import fold

__all__ = ["MIN_WILDCARD_STEM", "UNSPACED_KEY", "Document", "Match", "Node", "PatternError", "has_not",
           "matched_words", "parse_pattern"]

MAX_NEAR = 100
FIELDS = ("title", "text")


class PatternError(ValueError):
    """A pattern that cannot be parsed; ``col`` is the 1-based column within the line."""

    def __init__(self, message: str, col: int) -> None:
        super().__init__(message)
        self.col = col


# -- the expression tree ---------------------------------------------------------------------------

Span = tuple[str, int, int]  # field, first and last word position (inclusive)


@dataclass(frozen=True)
class Match:
    ok: bool
    spans: tuple[Span, ...] = ()


NO = Match(False)


@dataclass(frozen=True)
class Node:
    def match(self, doc: Document, scope: str = "any") -> Match:
        raise NotImplementedError

    def leaves(self) -> list[Node]:
        return [self]


@dataclass(frozen=True)
class Phrase(Node):
    """One word or a sequence of words; each may end in * (prefix)."""

    tokens: tuple[tuple[str, bool], ...]  # (folded piece, is prefix)
    text: str

    def match(self, doc: Document, scope: str = "any") -> Match:
        fld = doc.fields[scope]
        first, prefix = self.tokens[0]
        starts = fld.positions(first, prefix)
        if not starts:
            return NO
        if len(self.tokens) == 1:
            return Match(True, tuple([(scope, p, p) for p in starts]))
        spans = []
        for start in starts:
            ok = True
            for offset, (token, pre) in enumerate(self.tokens[1:], start=1):
                pos = start + offset
                if pos >= len(fld.words):
                    ok = False
                    break
                word = fld.words[pos]
                if not (word.startswith(token) if pre else word == token):
                    ok = False
                    break
            if ok:
                spans.append((scope, start, start + len(self.tokens) - 1))
        return Match(bool(spans), tuple(spans))


@dataclass(frozen=True)
class Scoped(Node):
    scope: str
    inner: Node

    def match(self, doc: Document, scope: str = "any") -> Match:
        return self.inner.match(doc, self.scope)

    def leaves(self) -> list[Node]:
        return self.inner.leaves()


@dataclass(frozen=True)
class Or(Node):
    parts: tuple[Node, ...]

    def match(self, doc: Document, scope: str = "any") -> Match:
        found = [p.match(doc, scope) for p in self.parts]
        return Match(any(f.ok for f in found), tuple(s for f in found for s in f.spans))

    def leaves(self) -> list[Node]:
        return [leaf for p in self.parts for leaf in p.leaves()]


@dataclass(frozen=True)
class And(Node):
    parts: tuple[Node, ...]

    def match(self, doc: Document, scope: str = "any") -> Match:
        spans: list[Span] = []
        for part in self.parts:
            found = part.match(doc, scope)
            if not found.ok:
                return NO
            spans += found.spans
        return Match(True, tuple(spans))

    def leaves(self) -> list[Node]:
        return [leaf for p in self.parts for leaf in p.leaves()]


@dataclass(frozen=True)
class Not(Node):
    inner: Node

    def match(self, doc: Document, scope: str = "any") -> Match:
        return Match(not self.inner.match(doc, scope).ok)

    def leaves(self) -> list[Node]:
        return []


@dataclass(frozen=True)
class Near(Node):
    left: Node
    right: Node
    distance: int

    def match(self, doc: Document, scope: str = "any") -> Match:
        a = self.left.match(doc, scope)
        if not a.spans:
            return NO
        b = self.right.match(doc, scope)
        if not b.spans:
            return NO
        spans: set[Span] = set()
        for sa in a.spans:
            for sb in b.spans:
                if sa[0] != sb[0]:  # positions in two different fields cannot be compared
                    continue
                gap = max(sb[1] - sa[2], sa[1] - sb[2]) - 1  # words strictly between the two
                if gap < self.distance:
                    spans.update((sa, sb))
        return Match(bool(spans), tuple(sorted(spans)))

    def leaves(self) -> list[Node]:
        return self.left.leaves() + self.right.leaves()


# -- parsing ---------------------------------------------------------------------------------------

TOKEN = re.compile(r"""\s*(?:(?P<lp>\()|(?P<rp>\))|(?P<quote>"[^"]*"?)|(?P<near>NEAR/\S*)|(?P<field>\w+:)|"""
                   r"""(?P<word>[^\s()"]+))""")


@dataclass
class _Tok:
    kind: str
    text: str
    col: int


def _lex(pattern: str, col0: int) -> list[_Tok]:
    toks, pos = [], 0
    while pos < len(pattern):
        if pattern[pos:].strip() == "":
            break
        m = TOKEN.match(pattern, pos)
        if not m:  # cannot happen with this token set, but never loop forever
            raise PatternError(f"unexpected character {pattern[pos]!r}", col0 + pos)
        kind = m.lastgroup or ""
        text = m.group(kind)
        col = col0 + m.start(kind)
        if kind == "word" and text in ("AND", "OR", "NOT"):
            kind = text
        toks.append(_Tok(kind, text, col))
        pos = m.end()
    return toks


def _phrase(text: str, col: int) -> Phrase:
    raw = text.strip('"')
    if text.startswith('"') and (len(text) < 2 or not text.endswith('"')):
        raise PatternError("unterminated phrase: expected a closing '\"'", col)
    words = raw.split()
    if not words:
        raise PatternError("empty phrase", col)
    tokens: list[tuple[str, bool]] = []
    for word in words:
        prefix = word.endswith("*")
        stem = word[:-1] if prefix else word
        if "*" in stem or "?" in stem:
            raise PatternError(f"{word!r}: a wildcard may only end a word (e.g. negotiat*)", col)
        if not PATTERN_WORD.fullmatch(stem):
            raise PatternError(f"unexpected characters in {word!r}: expected letters, digits, - or ' "
                               "and an optional * at the end", col)
        pieces = split_words(fold(stem))
        if not pieces:
            raise PatternError(f"{word!r} has no letters or digits", col)
        if prefix and len(pieces[-1]) < MIN_WILDCARD_STEM:
            raise PatternError(f"wildcard {word!r} would match almost everything: expected at least "
                               f"{MIN_WILDCARD_STEM} letters before '*'", col)
        tokens += [(p, False) for p in pieces[:-1]] + [(pieces[-1], prefix)]
    return Phrase(tuple(tokens), text)


class _Parser:
    def __init__(self, toks: list[_Tok], end_col: int) -> None:
        self.toks = toks
        self.i = 0
        self.end_col = end_col

    def peek(self) -> _Tok | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self) -> _Tok:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def parse(self) -> Node:
        if not self.toks:
            raise PatternError("empty pattern", self.end_col)
        node = self.parse_or()
        extra = self.peek()
        if extra is not None:
            if extra.kind == "rp":
                raise PatternError("unbalanced parenthesis: ')' without a matching '('", extra.col)
            raise PatternError(f"expected AND, OR, NEAR/n or the end of the pattern, got {extra.text!r}; "
                               f"to match several words in a row, quote them: \"... {extra.text}\"", extra.col)
        return node

    def parse_or(self) -> Node:
        parts = [self.parse_and()]
        while (tok := self.peek()) is not None and tok.kind == "OR":
            self.take()
            parts.append(self.parse_and())
        return parts[0] if len(parts) == 1 else Or(tuple(parts))

    def parse_and(self) -> Node:
        parts = [self.parse_not()]
        while (tok := self.peek()) is not None and tok.kind == "AND":
            self.take()
            parts.append(self.parse_not())
        if all(isinstance(p, Not) for p in parts):
            raise PatternError("a pattern of NOT alone matches almost every article: combine it with AND",
                               self.toks[0].col)
        return parts[0] if len(parts) == 1 else And(tuple(parts))

    def parse_not(self) -> Node:
        tok = self.peek()
        if tok is not None and tok.kind == "NOT":
            self.take()
            return Not(self.parse_not())
        return self.parse_near()

    def parse_near(self) -> Node:
        node = self.parse_primary()
        while (tok := self.peek()) is not None and tok.kind == "near":
            self.take()
            m = re.fullmatch(r"NEAR/(\d+)", tok.text)
            if not m or not 1 <= int(m.group(1)) <= MAX_NEAR:
                raise PatternError(f"unknown operator {tok.text!r}: expected NEAR/n with n from 1 to {MAX_NEAR}",
                                   tok.col)
            after = self.peek()
            if after is not None and after.kind == "NOT":
                raise PatternError("NOT cannot stand inside NEAR", after.col)
            right = self.parse_primary()
            if any(isinstance(x, Not) for x in (node, right)) or has_not(node) or has_not(right):
                raise PatternError("NOT cannot stand inside NEAR", tok.col)
            node = Near(node, right, int(m.group(1)))
        return node

    def parse_primary(self) -> Node:
        tok = self.peek()
        if tok is None:
            raise PatternError("expected a word, a \"phrase\" or '(' at the end of the pattern", self.end_col)
        self.take()
        if tok.kind == "lp":
            node = self.parse_or()
            close = self.peek()
            if close is None or close.kind != "rp":
                raise PatternError("unbalanced parenthesis: '(' is never closed", tok.col)
            self.take()
            return node
        if tok.kind == "field":
            name = tok.text[:-1].lower()
            if name not in FIELDS:
                raise PatternError(f"unknown field {tok.text!r}: expected title: or text:", tok.col)
            return Scoped(name, self.parse_primary())
        if tok.kind in ("quote", "word"):
            return _phrase(tok.text, tok.col)
        if tok.kind == "near" or (tok.kind == "word" and tok.text.startswith("NEAR")):
            raise PatternError(f"{tok.text!r} needs a word or group on its left", tok.col)
        what = {"rp": "')'", "AND": "AND", "OR": "OR"}.get(tok.kind, repr(tok.text))
        raise PatternError(f"expected a word, a \"phrase\" or '(' but got {what}", tok.col)


def has_not(node: Node) -> bool:
    if isinstance(node, Not):
        return True
    children = {Or: "parts", And: "parts"}
    if isinstance(node, Or | And):
        return any(has_not(p) for p in getattr(node, children[type(node)]))
    if isinstance(node, Scoped):
        return has_not(node.inner)
    if isinstance(node, Near):
        return has_not(node.left) or has_not(node.right)
    return False


def parse_pattern(pattern: str, col0: int = 1) -> Node:
    """Parse one pattern; raise :class:`PatternError` with the column of the problem."""
    return _Parser(_lex(pattern, col0), col0 + len(pattern)).parse()


def matched_words(doc: Document, found: Match, limit: int = 5) -> tuple[str, ...]:
    """The article's words at the matched spans, for explanations ("moratorium", "energy strikes")."""
    out = dict.fromkeys(" ".join(doc.fields[f].words[a:b + 1]) for f, a, b in found.spans[:50])
    return tuple(out)[:limit]
