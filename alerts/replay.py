"""Replaying history against a watched story, as the alert stage would have seen it.

In: the story's seed (text, topics, start) and past articles with their fired topics and dates.
Out: each article's :class:`~alerts.stories.Relation` to the story — the same report, a follow-up
or unrelated — decided in publication order, each follow-up becoming part of what the analyst
"was sent" before the next article is judged, through the alert stage's own linker
(:class:`~alerts.linker_stage.WatchLinker`: the learned one when its weights load, else the hand-written one;
each article becomes a rival of the story when it is archived). The key frequencies of the learned linker are
those of the whole replayed archive. Used by ``wirewatch backtest --watch`` and by the story evaluations
(benchmarks and quality gate); the alert stage itself links articles online.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from wirewatch.alerts.linker import LinkModel
from wirewatch.alerts.linker_stage import WatchLinker
from wirewatch.alerts.stories import Relation, TermStats
from wirewatch.alerts.textkeys import Analysis

SEED = "\x00replayed seed"


@dataclass(frozen=True)
class PastArticle:
    id: str
    text: str  # title and body
    published: datetime | None
    topics: frozenset[str]


def term_stats(texts: Iterable[str]) -> TermStats:
    """Name frequencies of the bundled background plus the replayed archive."""
    stats = TermStats.with_background()
    for text in texts:
        stats.add(text)
    return stats


def replay_story(seed_text: str, seed_topics: Iterable[str], start: datetime | None, articles: Iterable[PastArticle],
                 stats: TermStats, related_threshold: float, window_days: float = 120.0,
                 model: LinkModel | None = None, use_shipped: bool = True,
                 analyse: Callable[[str], Analysis] | None = None) -> dict[str, Relation]:
    """Every article's relation to the story seeded by ``seed_text``, oldest first (``model``: these weights
    rather than the shipped ones; ``use_shipped=False`` and no model: the hand-written linker; ``analyse``: a
    cached text analysis, for evaluations that replay the same texts many times)."""
    ordered = sorted(articles, key=lambda a: a.published.timestamp() if a.published else float("inf"))
    linker = WatchLinker(stats, related_threshold, window_days, model, use_shipped, len(ordered) + 1, analyse)
    linker.count(SEED, seed_text)
    for art in ordered:
        linker.count(art.id, art.text)
    story = linker.story("replay", "replay", seed_text, seed_topics, start)
    out: dict[str, Relation] = {}
    for art in ordered:
        linker.archived(art.id, art.text, counted=True, published=art.published)
        relation = linker.relate(story, art.id, art.text, art.published, art.topics)
        if relation.related:
            linker.learn(story, art.id, art.text, relation.kind, art.published, art.topics)
        out[art.id] = relation
    return out
