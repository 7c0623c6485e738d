"""The archive as rivals of a watched story: how close an article comes to archived articles that are not the story's.

In: unit term vectors of archived articles (:meth:`TermStats.vector` of their keys) with their publication times
when known, added as they are archived, and a new article's vector and time with the ids of the story's members (the
seed included). Out: the highest dot product of the article with an archived article of the story, and with one
outside it published within :data:`DAYS` days of the article (:meth:`Rivals.closest`), a feature of the learned
linker: an article that fits another event of the archive better than the watched story ("same actors, another
event") is more likely that event's. An event is reported when it happens, so an archived article from months
before the article is not the event the article reports (the 2023 hostage deal is no rival of a 2025 report); an
archived article whose time is unknown always counts.

Each archived article keeps only its :data:`KEEP` heaviest terms, each term only its :data:`POSTINGS` latest
articles, and a look-up reads only the article's :data:`KEEP` heaviest terms, so it costs at most
(:data:`KEEP` × :data:`POSTINGS`) additions whatever the archive's size; memory is bounded by :data:`MAX_DOCS`
articles.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Container, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

KEEP = 30
POSTINGS = 60
MAX_DOCS = 200_000
DAYS = 30.0  # a rival outside the story is an archived article published at most this many days from the article


def heaviest(vector: Mapping[str, float], n: int) -> list[tuple[str, float]]:
    return sorted(vector.items(), key=lambda kv: -kv[1])[:n]


@dataclass
class Rivals:
    """An inverted index of the archive's heaviest terms (see the module doc)."""

    keep: int = KEEP
    postings: int = POSTINGS
    max_docs: int = MAX_DOCS
    days: float = DAYS
    _index: dict[str, deque[tuple[str, float]]] = field(default_factory=dict)
    _docs: OrderedDict[str, datetime | None] = field(default_factory=OrderedDict)  # id -> published, when known

    def add(self, doc_id: str, vector: Mapping[str, float], published: datetime | None = None) -> None:
        """Index an archived article (once per id; the oldest beyond :attr:`max_docs` stop counting)."""
        if doc_id in self._docs:
            self.dated(doc_id, published)
            return
        self._docs[doc_id] = published
        if len(self._docs) > self.max_docs:
            self._docs.popitem(last=False)
        for term, weight in heaviest(vector, self.keep):
            posting = self._index.get(term)
            if posting is None:
                posting = self._index[term] = deque(maxlen=self.postings)
            posting.append((doc_id, weight))

    def dated(self, doc_id: str, published: datetime | None) -> None:
        """An indexed article's publication time, when it was not known as it was archived."""
        if published is not None and doc_id in self._docs and self._docs[doc_id] is None:
            self._docs[doc_id] = published

    def closest(self, vector: Mapping[str, float], members: Container[str], self_id: str = "",
                published: datetime | None = None) -> tuple[float, float, str]:
        """The highest dot products of ``vector`` (its :attr:`keep` heaviest terms) with an indexed article of
        ``members``, and with one outside them published within :attr:`days` of ``published`` (``self_id`` left
        out), and the id of that closest article outside (``""``: none)."""
        acc: dict[str, float] = {}
        for term, weight in heaviest(vector, self.keep):
            posting = self._index.get(term)
            if posting is None:
                continue
            for doc_id, w in posting:
                acc[doc_id] = acc.get(doc_id, 0.0) + weight * w
        inside = outside = 0.0
        rival = ""
        span = timedelta(days=self.days)
        docs = self._docs
        for doc_id, score in acc.items():
            if doc_id == self_id or doc_id not in docs:
                continue
            if doc_id in members:
                inside = max(inside, score)
            elif score > outside:
                when = docs[doc_id]
                if published is None or when is None or abs(published - when) <= span:
                    outside, rival = score, doc_id
        return min(1.0, inside), min(1.0, outside), rival
