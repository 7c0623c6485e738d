"""Stories for every article: online clustering with a sub-linear candidate search and the story linker.

In: an article's keys (:func:`alerts.stories.names`) and publication time. Out: the id of the story
it joins — an existing one, or a new one — and the story's first and last sighting, size and key
names.

The decision is the watches' own (:mod:`alerts.linker`): the probability that the article belongs to
a story, from the same features, with the story's first article as its seed. To keep the cost
bounded however large the archive grows, an inverted index maps each story's heaviest keys to the
stories that carry them, most recent last; a new article looks up the postings of its own
:data:`QUERY_NAMES` heaviest keys (count × IDF; the latest :data:`POSTING_DEPTH` stories each),
ranks those candidates by the IDF weight of the keys they share, and scores only the best
:data:`RESCORED` with the model; it joins the most probable at or above ``threshold`` whose last
article is within ``window_days``.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from alerts.linker import LinkModel, StoryKeys, TermStats, pair_features

CENTROID_NAMES = 40
QUERY_NAMES = 8
POSTING_DEPTH = 200
RESCORED = 5


@dataclass
class Story:
    story_id: int
    first_seen: datetime | None
    last_seen: datetime | None
    size: int = 0
    keys: StoryKeys = field(default_factory=lambda: StoryKeys(max_members=5, max_keys=CENTROID_NAMES * 3))
    title: str = ""

    @property
    def centroid(self) -> Counter[str]:
        return self.keys.grown

    def key_names(self, n: int = 10) -> list[str]:
        return [t for t, _ in self.keys.grown.most_common(n) if t[0] not in "~#%^"][:n]


class StoryIndex:
    def __init__(self, stats: TermStats, threshold: float | None = None, window_days: float = 7.0,
                 new_id: Callable[[str], int] | None = None, model: LinkModel | None = None) -> None:
        """``new_id(title)`` hands out the id of a new story (the database's, where several alert workers
        share stories); without it, ids count up from the highest id seen. ``threshold`` defaults to the
        model's ``index_threshold``."""
        from alerts.stories import default_model

        self.stats = stats
        self.model = model or default_model()
        self.new_id = new_id
        self.threshold = self.model.index_threshold if threshold is None else threshold
        self.window = timedelta(days=window_days)
        self.stories: dict[int, Story] = {}
        self.postings: dict[str, list[int]] = defaultdict(list)
        self._next = 1

    def restore(self, story_id: int, names: list[str], when: datetime | None, title: str = "") -> None:
        """Put back an article already assigned to a story (rebuilding the index at start-up)."""
        story = self.stories.get(story_id)
        if story is None:
            story = self.stories[story_id] = Story(story_id, when, when, title=title)
        self._add(story, Counter(names), when)
        if story_id >= self._next:
            self._next = story_id + 1

    def _heaviest(self, counts: Counter[str], n: int) -> list[str]:
        """The ``n`` heaviest names and places (count × IDF), then terms where a script has no capitals."""
        def weight(t: str) -> float:
            return -(1.0 + math.log(counts[t])) * self.stats.idf(t)

        named = sorted((t for t in counts if t[0] in "^@"), key=weight)[:n]
        if len(named) >= n:
            return named
        return named + sorted((t for t in counts if t[0] not in "~#%^@"), key=weight)[:n - len(named)]

    def candidates(self, names: Counter[str]) -> dict[int, float]:
        """Stories sharing one of the article's heaviest keys, with the IDF weight of the keys they share."""
        found: dict[int, float] = defaultdict(float)
        for name in self._heaviest(names, QUERY_NAMES):
            idf = self.stats.idf(name)
            for story_id in self.postings.get(name, ())[-POSTING_DEPTH:]:
                found[story_id] += idf
        return found

    def link(self, names: list[str], when: datetime | None = None, title: str = "") -> tuple[int, bool]:
        """The story the article joins, and whether that story is new."""
        counts = Counter(names)
        best, best_score = None, 0.0
        if counts:
            shortlist = sorted(self.candidates(counts).items(), key=lambda kv: -kv[1])
            tried = 0
            for story_id, _ in shortlist:
                story = self.stories[story_id]
                if when is not None and story.last_seen is not None and abs(when - story.last_seen) > self.window:
                    continue
                score = self.model.belongs(pair_features(counts, story.keys, self.stats, when))
                if score > best_score:
                    best, best_score = story, score
                tried += 1
                if tried >= RESCORED:
                    break
        if best is not None and best_score >= self.threshold:
            self._add(best, counts, when)
            return best.story_id, False
        if self.new_id is not None:
            story = Story(self.new_id(title), when, when, title=title)
        else:
            story = Story(self._next, when, when, title=title)
            self._next += 1
        self.stories[story.story_id] = story
        self._add(story, counts, when)
        return story.story_id, True

    def _add(self, story: Story, counts: Counter[str], when: datetime | None) -> None:
        before = set(self._heaviest(story.keys.grown, CENTROID_NAMES))
        first = story.size == 0
        if first:
            story.keys.first_seen = when
        story.keys.add(counts, when, seed=first)
        story.size += 1
        if when is not None:
            story.first_seen = min(story.first_seen or when, when)
            story.last_seen = max(story.last_seen or when, when)
        for name in set(self._heaviest(story.keys.grown, CENTROID_NAMES)) - before:
            self.postings[name].append(story.story_id)


def bcubed(assigned: dict[str, int], truth: dict[str, str]) -> tuple[float, float, float]:
    """B-cubed precision, recall and F1 of a clustering against true labels (over the labeled items)."""
    items = [i for i in assigned if i in truth]
    by_cluster: dict[int, list[str]] = defaultdict(list)
    by_label: dict[str, list[str]] = defaultdict(list)
    for i in items:
        by_cluster[assigned[i]].append(i)
        by_label[truth[i]].append(i)
    precision = recall = 0.0
    for i in items:
        same_cluster = by_cluster[assigned[i]]
        same_label = by_label[truth[i]]
        both = sum(1 for j in same_cluster if truth[j] == truth[i])
        precision += both / len(same_cluster)
        recall += both / len(same_label)
    n = len(items) or 1
    p, r = precision / n, recall / n
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)
