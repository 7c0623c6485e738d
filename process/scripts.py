"""Words in every script, for the rules and the model: where a word starts and ends.

In: folded text (:func:`wirewatch.textnorm.fold`). Out: its words (:func:`words`), and whether a
word is written in a script without spaces between words (:func:`unspaced`).

Python's ``\\w`` stops at combining vowel signs, so Devanagari, Gujarati, Tamil, Bengali or Thai
words fall apart into fragments (``युद्धविराम`` into ``य``, ``द``, ``धव``…). Here a word is a run of
word characters *and* the combining marks of those scripts. Thai, Lao, Khmer, Myanmar, Chinese and
Japanese are written without spaces between words: a whole clause is one run, so a rule word in
those scripts is looked for inside the runs (:func:`unspaced` tells which words those are).
"""

from __future__ import annotations

import re
import unicodedata

# blocks whose combining marks belong inside words (Latin, Cyrillic, Hebrew and Arabic marks are
# folded away before we get here, but are kept too in case a caller did not fold)
_MARK_BLOCKS = ((0x0300, 0x036F), (0x0483, 0x0489), (0x0591, 0x05C7), (0x0610, 0x061A), (0x064B, 0x065F),
                (0x0670, 0x0670), (0x06D6, 0x06ED), (0x0900, 0x0DFF), (0x0E00, 0x0EFF), (0x0F00, 0x109F),
                (0x1780, 0x17FF), (0x1AB0, 0x1AFF), (0x1DC0, 0x1DFF), (0x20D0, 0x20FF), (0xFE20, 0xFE2F))


def _marks() -> str:
    found = [chr(c) for lo, hi in _MARK_BLOCKS for c in range(lo, hi + 1)
             if unicodedata.category(chr(c)) in ("Mn", "Mc", "Me")]
    return "".join(re.escape(ch) for ch in found)


MARKS = _marks()
WORD_CHARS = rf"[\w{MARKS}]"
WORD = re.compile(rf"{WORD_CHARS}+")
# a pattern word as an editor writes it: word characters, marks, inner - ' . and an optional final *
PATTERN_WORD = re.compile(rf"[\w{MARKS}'’.-]+")
# Thai, Lao, Myanmar, Khmer, CJK ideographs, Hiragana, Katakana, Hangul is spaced (not listed)
UNSPACED = re.compile("[\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff]")


def words(folded: str) -> list[str]:
    """The words of a folded text, combining vowel signs kept inside their words."""
    return WORD.findall(folded)


def unspaced(word: str) -> bool:
    """Whether the word is in a script written without spaces (so it is a run of several words)."""
    return UNSPACED.search(word) is not None
