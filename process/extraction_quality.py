"""How close an extracted text is to a gold text: bag-of-words token F1.

In: two strings (the text an extractor produced, the gold article body). Out: precision, recall and F1
over lower-cased word tokens, counted with multiplicity. Used by the extraction quality gate
(``tests/test_extraction_quality_gate.py``) and the benchmarks; nothing here reads files.
"""

from __future__ import annotations

import re
from collections import Counter

WORDS = re.compile(r"\w+")


def token_f1(text: str, gold: str) -> float:
    """F1 of the text's word tokens against the gold text's (0.0 when they share none)."""
    got, want = Counter(WORDS.findall(text.lower())), Counter(WORDS.findall(gold.lower()))
    common = sum((got & want).values())
    if not common:
        return 0.0
    precision, recall = common / sum(got.values()), common / sum(want.values())
    return 2 * precision * recall / (precision + recall)
