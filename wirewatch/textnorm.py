"""Text normalisation shared by the stages (rules, model, story matching): case and accent folding.

In: any Unicode text. Out: the same text case-folded, with combining accents removed (``é`` →
``e``, Arabic short vowels dropped), so that matching is case- and accent-insensitive in Latin,
Cyrillic, Greek and Arabic scripts alike. Word boundaries are Unicode ``\\w`` runs.
"""

from __future__ import annotations

import re
import unicodedata

WORD = re.compile(r"\w+(?:['’]\w+)*")
# combining marks of the scripts we read: Latin/Greek/Cyrillic diacritics, Hebrew points, Arabic harakat
COMBINING = re.compile("[\u0300-\u036f\u0483-\u0489\u0591-\u05c7\u0610-\u061a\u064b-\u065f\u0670"
                       "\u06d6-\u06ed\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")


def fold(text: str) -> str:
    """Case-fold and strip combining marks; apostrophes become ``'``."""
    if text.isascii():
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text.casefold().replace("’", "'"))
    return unicodedata.normalize("NFKC", COMBINING.sub("", decomposed))

