"""The archive as rivals of a watched story: how close an article comes to archived articles that are not the story's.

In: unit term vectors of archived articles (:meth:`TermStats.vector` of their keys), added as they are archived,
and a new article's vector with the ids of the story's members (the seed included). Out: the highest dot product
of the article with an archived article outside the story (:meth:`Rivals.nearest`), a feature of the learned
linker: an article that fits another event of the archive better than the watched story ("same actors, another
event") is more likely that event's.

Each archived article keeps only its :data:`KEEP` heaviest terms, and each term only its :data:`POSTINGS` latest
articles, so the look-up costs at most (the article's terms × :data:`POSTINGS`) additions whatever the archive's
size, and memory is bounded by :data:`MAX_DOCS` articles.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Container, Mapping
from dataclasses import dataclass, field

KEEP = 30
POSTINGS = 60
MAX_DOCS = 200_000


@dataclass
class Rivals:
    """An inverted index of the archive's heaviest terms (see the module doc)."""

    keep: int = KEEP
    postings: int = POSTINGS
    max_docs: int = MAX_DOCS
    _index: dict[str, deque[tuple[str, float]]] = field(default_factory=dict)
    _docs: OrderedDict[str, None] = field(default_factory=OrderedDict)

    def add(self, doc_id: str, vector: Mapping[str, float]) -> None:
        """Index an archived article (once per id; the oldest beyond :attr:`max_docs` stop counting)."""
        if doc_id in self._docs:
            return
        self._docs[doc_id] = None
        if len(self._docs) > self.max_docs:
            self._docs.popitem(last=False)
        for term, weight in sorted(vector.items(), key=lambda kv: -kv[1])[:self.keep]:
            posting = self._index.get(term)
            if posting is None:
                posting = self._index[term] = deque(maxlen=self.postings)
            posting.append((doc_id, weight))

    def nearest(self, vector: Mapping[str, float], members: Container[str], self_id: str = "") -> tuple[float, float]:
        """The highest dot products of ``vector`` with an indexed article of ``members``, and with one outside them
        (``self_id`` left out)."""
        acc: dict[str, float] = {}
        for term, weight in vector.items():
            posting = self._index.get(term)
            if posting is None:
                continue
            for doc_id, w in posting:
                acc[doc_id] = acc.get(doc_id, 0.0) + weight * w
        inside = outside = 0.0
        for doc_id, score in acc.items():
            if doc_id == self_id or doc_id not in self._docs:
                continue
            if doc_id in members:
                inside = max(inside, score)
            else:
                outside = max(outside, score)
        return min(1.0, inside), min(1.0, outside)
