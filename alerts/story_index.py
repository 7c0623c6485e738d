"""Stories for every article: online clustering with a sub-linear candidate search.

In: an article's name keys (see :mod:`alerts.stories`) and publication time. Out: the id of the
story it joins — an existing one, or a new one — and the story's first and last sighting, size and
key names.

Each story keeps a centroid of name counts (its 40 heaviest names). An inverted index maps each
story's key names to the stories that carry them, most recent last; a new article looks up only the
postings of its own 8 heaviest names (count × IDF; the latest 200 stories each), scores those candidates by TF-IDF
cosine against their centroids, and joins the best one at or above ``threshold`` whose last article
is within ``window_days``. The work per article is bounded by 8 × 200 candidates, however large the
archive grows, instead of a scan of every story.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from wirewatch.alerts.stories import TermStats

CENTROID_NAMES = 40
QUERY_NAMES = 8
POSTING_DEPTH = 200


@dataclass
class Story:
    story_id: int
    first_seen: datetime | None
    last_seen: datetime | None
    size: int = 0
    centroid: Counter[str] = field(default_factory=Counter)
    title: str = ""
    vector: dict[str, float] | None = None  # the centroid's TF-IDF vector, recomputed after a change

    def key_names(self, n: int = 10) -> list[str]:
        return [t for t, _ in self.centroid.most_common(n)]


class StoryIndex:
    def __init__(self, stats: TermStats, threshold: float = 0.3, window_days: float = 7.0,
                 new_id: Callable[[str], int] | None = None) -> None:
        """``new_id(title)`` hands out the id of a new story (the database's, where several alert workers
        share stories); without it, ids count up from the highest id seen."""
        self.stats = stats
        self.new_id = new_id
        self.threshold = threshold
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

    def _vector(self, counts: Counter[str]) -> dict[str, float]:
        return self.stats.vector(counts)

    def candidates(self, names: Counter[str]) -> set[int]:
        """Stories sharing one of the article's heaviest names (the latest ``POSTING_DEPTH`` per name)."""
        heaviest = sorted(names, key=lambda t: -names[t] * self.stats.idf(t))[:QUERY_NAMES]
        found: set[int] = set()
        for name in heaviest:
            found.update(self.postings.get(name, ())[-POSTING_DEPTH:])
        return found

    def link(self, names: list[str], when: datetime | None = None, title: str = "") -> tuple[int, bool]:
        """The story the article joins, and whether that story is new."""
        counts = Counter(names)
        best, best_score = None, 0.0
        if counts:
            vec = self._vector(counts)
            for story_id in self.candidates(counts):
                story = self.stories[story_id]
                if when is not None and story.last_seen is not None and abs(when - story.last_seen) > self.window:
                    continue
                if story.vector is None:
                    story.vector = self._vector(story.centroid)
                centroid = story.vector
                score = sum(v * centroid.get(t, 0.0) for t, v in vec.items())
                if score > best_score:
                    best, best_score = story, score
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
        before = set(story.key_names(CENTROID_NAMES))
        story.centroid.update(counts)
        if len(story.centroid) > CENTROID_NAMES * 2:  # keep the heaviest names only: bounded memory
            story.centroid = Counter(dict(story.centroid.most_common(CENTROID_NAMES)))
        story.size += 1
        story.vector = None
        if when is not None:
            story.first_seen = min(story.first_seen or when, when)
            story.last_seen = max(story.last_seen or when, when)
        for name in set(story.key_names(CENTROID_NAMES)) - before:
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


