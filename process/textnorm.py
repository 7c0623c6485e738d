"""Text normalisation shared by the rules and the model: case folding and accent stripping.

In: any Unicode text. Out: the same text case-folded, NFKC-composed, with combining accents
removed (``é`` → ``e``), so that matching is case- and accent-insensitive in Latin, Cyrillic and
Arabic scripts alike. Word boundaries are Unicode ``\\w`` runs.
"""

from __future__ import annotations

import re
import unicodedata

WORD = re.compile(r"\w+(?:['’]\w+)*")


def fold(text: str) -> str:
    """Case-fold and strip combining marks; apostrophes become ``'``."""
    decomposed = unicodedata.normalize("NFKD", text.casefold().replace("’", "'"))
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return unicodedata.normalize("NFKC", stripped)


def words(text: str) -> list[str]:
    """The folded words of ``text``."""
    return WORD.findall(fold(text))
