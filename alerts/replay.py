"""Replaying history against a watched story, as the alert stage would have seen it.

In: the story's seed (text, topics, start) and past articles with their fired topics and dates.
Out: each article's :class:`~alerts.stories.Relation` to the story — the same report, a follow-up
or unrelated — decided in publication order, each follow-up becoming part of what the analyst
"was sent" before the next article is judged. Used by ``wirewatch backtest --watch`` and by the
story evaluation (benchmark and quality gate); the alert stage itself links articles online.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from wirewatch.alerts.stories import Relation, StoryProfile, TermStats, relate


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
                 stats: TermStats, related_threshold: float, window_days: float = 120.0) -> dict[str, Relation]:
    """Every article's relation to the story seeded by ``seed_text``, oldest first."""
    story = StoryProfile("replay", "replay")
    story.seed(seed_text, seed_topics, start)
    out: dict[str, Relation] = {}
    for art in sorted(articles, key=lambda a: a.published.timestamp() if a.published else float("inf")):
        relation = relate(art.text, story, stats, related_threshold, art.published, art.topics, window_days)
        if relation.kind == "follow_up":
            story.learn(art.text, art.published)
        out[art.id] = relation
    return out
