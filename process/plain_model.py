"""The fitted topic model as plain arrays, scored without scikit-learn.

In: at training time, a fitted pipeline of :func:`process.model.features_and_classifier` (TF-IDF blocks in a
feature union, into one logistic regression per topic); at run time, the arrays saved from one. Out:
:class:`PlainModel`, whose :meth:`~PlainModel.probabilities` gives each document and topic the pipeline's
``predict_proba`` to rounding (``tests/test_plain_model.py`` compares them on every text of the bundled and dev
sets), without importing scikit-learn or scipy: the stage starts about 1.3 s of CPU sooner.

The features are computed here as scikit-learn 1.9 computes them: the preprocessor (:func:`fold`), then word
tokens by the token pattern and their n-grams joined by a space, or ``char_wb`` n-grams of each
whitespace-separated word padded with a space (a word shorter than ``n`` counted once, whole, and no longer
n-grams for it); counts of the terms in the vocabulary, ``1 + log(count)`` when ``sublinear_tf``, times
the term's idf, the block normalised to unit length; the decision is the coefficients' dot product plus
the intercept, and the probability its logistic. A pipeline built otherwise is refused at export
(:class:`ValueError`): the model then keeps scoring with scikit-learn and cannot be saved.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

import numpy as np

from wirewatch.textnorm import fold

FEATURES = "tfidf-logistic-1"  # what the arrays mean; a file saying otherwise is refused
SEPARATOR = "\n"  # between the terms of a saved vocabulary: no term holds whitespace
PREPROCESSORS: dict[str, Callable[[str], str]] = {"fold": fold}
WORD_CACHE = 200_000  # words whose character n-grams are kept looked up (cleared when full)


@dataclass
class Block:
    """One TF-IDF vectorizer: its vocabulary in column order and idf weights."""

    analyzer: str  # "word" or "char_wb"
    ngram: tuple[int, int]
    terms: list[str]
    idf: np.ndarray
    token_pattern: str = ""
    sublinear: bool = True
    preprocessor: str = "fold"
    index: dict[str, int] = field(init=False, repr=False)
    _cache: dict[str, np.ndarray] = field(init=False, repr=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.index = dict(zip(self.terms, range(len(self.terms)), strict=False))
        self._tokens = re.compile(self.token_pattern).findall if self.analyzer == "word" else None
        self._prepare = PREPROCESSORS[self.preprocessor]

    def grams(self, text: str) -> list[str]:
        """The terms of a document, as the vectorizer's analyzer gives them (before the vocabulary)."""
        text = self._prepare(text)
        if self._tokens is not None:
            return word_grams(self._tokens(text), *self.ngram)
        return [g for word in text.split() for g in char_wb_grams(word, *self.ngram)]

    def counts(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """The document's columns in this block (each once, in no set order) and their counts."""
        text = self._prepare(text)
        if self._tokens is not None:
            index = self.index
            found: dict[int, int] = {}
            for gram, n in Counter(word_grams(self._tokens(text), *self.ngram)).items():
                column = index.get(gram)
                if column is not None:
                    found[column] = n
            return (np.fromiter(found.keys(), np.intp, len(found)),
                    np.fromiter(found.values(), np.float64, len(found)))
        # each distinct word's columns (looked up once per process), repeated by the word's count, summed by column
        words = Counter(text.split())
        if not words:
            return np.zeros(0, np.intp), np.zeros(0, np.float64)
        looked_up = [self._word_columns(word) for word in words]
        columns = np.concatenate(looked_up)
        if not len(columns):
            return columns, np.zeros(0, np.float64)
        times = np.repeat(np.fromiter(words.values(), np.float64, len(words)), [len(c) for c in looked_up])
        unique, where = np.unique(columns, return_inverse=True)
        return unique, np.bincount(where, weights=times)

    def _word_columns(self, word: str) -> np.ndarray:
        columns = self._cache.get(word)
        if columns is None:
            index = self.index
            found = [c for c in (index.get(g) for g in char_wb_grams(word, *self.ngram)) if c is not None]
            columns = np.array(found, dtype=np.intp)
            if len(self._cache) >= WORD_CACHE:
                self._cache.clear()
            self._cache[word] = columns
        return columns

    def features(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """The document's columns and their normalised TF-IDF values."""
        columns, counts = self.counts(text)
        values = (1.0 + np.log(counts)) if self.sublinear else counts
        values *= self.idf[columns]
        norm = float(np.sqrt(values @ values))
        if norm > 0:
            values /= norm
        return columns, values

    def arrays(self) -> dict[str, Any]:
        return {"analyzer": self.analyzer, "ngram": list(self.ngram), "terms": SEPARATOR.join(self.terms),
                "idf": self.idf, "token_pattern": self.token_pattern, "sublinear": self.sublinear,
                "preprocessor": self.preprocessor}

    @classmethod
    def from_arrays(cls, saved: dict[str, Any]) -> Block:
        terms = str(saved["terms"])
        return cls(str(saved["analyzer"]), (int(saved["ngram"][0]), int(saved["ngram"][1])),
                   terms.split(SEPARATOR) if terms else [], np.asarray(saved["idf"], dtype=np.float64),
                   str(saved["token_pattern"]), bool(saved["sublinear"]), str(saved["preprocessor"]))


def word_grams(tokens: list[str], low: int, high: int) -> list[str]:
    """Word n-grams from ``low`` to ``high`` tokens, in scikit-learn's order."""
    grams = list(tokens) if low == 1 else []
    for n in range(max(low, 2), min(high + 1, len(tokens) + 1)):
        if n == 2:  # the model's bigrams: the same strings, made without a slice each
            grams += [f"{a} {b}" for a, b in pairwise(tokens)]
        else:
            grams += [" ".join(tokens[i:i + n]) for i in range(len(tokens) - n + 1)]
    return grams


def char_wb_grams(word: str, low: int, high: int) -> list[str]:
    """Character n-grams of one word padded with a space; a word no longer than ``n`` gives itself once."""
    padded = f" {word} "
    size = len(padded)
    grams: list[str] = []
    for n in range(low, high + 1):
        if size <= n:
            grams.append(padded)
            break
        grams += [padded[i:i + n] for i in range(size - n + 1)]
    return grams


class PlainModel:
    """Feature blocks side by side, then one linear decision per topic and its logistic."""

    def __init__(self, blocks: Sequence[Block], coef: np.ndarray, intercept: np.ndarray) -> None:
        self.blocks = list(blocks)
        self.offsets = np.cumsum([0] + [len(b.terms) for b in self.blocks])
        self.coef = np.asarray(coef, dtype=np.float64)
        self.intercept = np.asarray(intercept, dtype=np.float64)
        if self.coef.shape != (len(self.intercept), int(self.offsets[-1])):
            raise ValueError(f"coefficients of shape {self.coef.shape} for {len(self.intercept)} topics and "
                             f"{int(self.offsets[-1])} features")

    def decisions(self, docs: Sequence[str]) -> np.ndarray:
        """One row per document, one column per topic: the linear decision before the logistic."""
        out = np.tile(self.intercept, (len(docs), 1))
        for row, doc in enumerate(docs):
            for block, offset in zip(self.blocks, self.offsets, strict=False):
                columns, values = block.features(doc)
                out[row] += self.coef[:, columns + offset] @ values
        return out

    def probabilities(self, docs: Sequence[str]) -> np.ndarray:
        result: np.ndarray = 1.0 / (1.0 + np.exp(-self.decisions(docs)))
        return result

    def arrays(self) -> dict[str, Any]:
        return {"features": FEATURES, "blocks": [b.arrays() for b in self.blocks], "coef": self.coef,
                "intercept": self.intercept}

    @classmethod
    def from_arrays(cls, saved: dict[str, Any]) -> PlainModel:
        if saved.get("features") != FEATURES:
            raise ValueError(f"features {saved.get('features')!r}, expected {FEATURES!r}")
        return cls([Block.from_arrays(b) for b in saved["blocks"]], saved["coef"], saved["intercept"])

    @classmethod
    def from_pipeline(cls, pipeline: Any, topics: Sequence[str]) -> PlainModel:
        """The arrays of a fitted features-and-classifier pipeline; ValueError for one not built as this
        module computes it (checked by attributes: scikit-learn is not imported here)."""
        features, classify = pipeline.named_steps["features"], pipeline.named_steps["classify"]
        if getattr(features, "transformer_weights", None) or not getattr(classify, "multilabel_", False):
            raise ValueError("features weighted, or a classifier that is not one-vs-rest over several topics")
        blocks = [_block(name, vectorizer) for name, vectorizer in features.transformer_list]
        estimators = classify.estimators_
        if len(estimators) != len(topics) or any(e.coef_.shape[0] != 1 for e in estimators):
            raise ValueError(f"{len(estimators)} binary classifiers for {len(topics)} topics")
        coef = np.vstack([e.coef_[0] for e in estimators])
        return cls(blocks, coef, np.array([float(e.intercept_[0]) for e in estimators]))


def _block(name: str, vec: Any) -> Block:
    preprocessor = next((k for k, f in PREPROCESSORS.items() if f is vec.preprocessor), None)
    mirrored = (type(vec).__name__ == "TfidfVectorizer" and vec.analyzer in ("word", "char_wb")
                and preprocessor is not None and vec.tokenizer is None and vec.stop_words is None
                and not vec.binary and vec.use_idf and vec.norm == "l2" and vec.input == "content"
                and vec.dtype in (np.float64, float))
    if not mirrored:
        raise ValueError(f"feature block {name!r} is not computed by {__name__}")
    terms = sorted(vec.vocabulary_, key=vec.vocabulary_.__getitem__)
    if [vec.vocabulary_[t] for t in terms] != list(range(len(terms))) or any(SEPARATOR in t for t in terms):
        raise ValueError(f"feature block {name!r}: a vocabulary not numbered 0..n-1, or a term with a newline")
    pattern = vec.token_pattern if vec.analyzer == "word" else ""
    if pattern and re.compile(pattern).groups > 1:
        raise ValueError(f"feature block {name!r}: a token pattern with several groups")
    return Block(vec.analyzer, tuple(vec.ngram_range), terms, np.asarray(vec.idf_, dtype=np.float64), pattern,
                 bool(vec.sublinear_tf), preprocessor or "fold")
