"""Stories for every article: online clustering with a bounded candidate search and bounded memory.

In: an article's keys (:func:`story_keys`: its title and lead as :mod:`alerts.textkeys` keys — terms,
places and names across scripts, skeletons, figures, dates) and its publication time. Out: the id of
the story it joins — an existing one, or a new one — and the story's first and last sighting, size
and key terms.

- **Similarity.** Each story keeps a profile: the summed keys of its members, its
  :data:`PROFILE_KEYS` heaviest (count × IDF). An article's similarity to a story is the larger of
  two TF-IDF cosines against that profile: over all its keys, and over the keys that meet across
  languages and scripts only (:data:`CROSS`: places, capitalised names, consonant skeletons,
  figures, dates), so that a report in Arabic or Thai is not outweighed by the English words of a
  story it shares names, places and dates with. IDF comes from the archive itself (:class:`KeyStats`:
  every article the index has seen counts), not from a fixed list.
- **Candidates.** An inverted index maps each key of a story's profile to the stories that carry it,
  most recent last. A new article looks up the postings of its :data:`QUERY_KEYS` heaviest keys (the
  latest :data:`POSTING_DEPTH` stories each), keeps the :data:`SCORED` stories that share the most of
  those keys, and scores only them; it joins the best one at or above ``threshold`` whose last
  article is within ``window_days``. The work per article is bounded by these constants, however
  large the archive grows, instead of a scan of every story.
- **Memory.** A story quiet for longer than ``window_days`` (against the newest article seen) can take
  no new article and is evicted, its postings with it; so is the least recently joined story beyond
  :data:`MAX_STORIES` (articles without dates). Key frequencies forget keys seen once when the
  vocabulary passes :data:`MAX_VOCABULARY`. What the index holds is bounded by the stories of one
  window, not by the archive.
"""

from __future__ import annotations

import math
import sys
from collections import Counter, OrderedDict, defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from wirewatch.alerts.textkeys import Analyser

PROFILE_KEYS = 100
QUERY_KEYS = 24
POSTING_DEPTH = 100
SCORED = 20
MAX_STORIES = 100_000  # about 14 KB each (a profile of 100-200 keys, its two vectors, its postings)
MAX_VOCABULARY = 2_000_000
CROSS = frozenset("@^~#%")  # the first characters of keys that meet across languages and scripts
EVICT_EVERY = 1_000  # links between two sweeps of stale stories
CLEANED_PER_SWEEP = 20_000  # posting lists looked over at each sweep for stories gone (see :meth:`evict`)


def story_keys(text: str) -> Counter[str]:
    """The keys of an article's title and lead that the index compares (see :mod:`alerts.textkeys`)."""
    return Analyser.default().analyse(text).keys


@dataclass
class KeyStats:
    """Document frequencies of keys over the articles the index has seen (the archive)."""

    docs: int = 0
    df: Counter[str] = field(default_factory=Counter)

    def add(self, keys: Iterable[str]) -> None:
        self.docs += 1
        self.df.update(set(keys))
        if len(self.df) > MAX_VOCABULARY:  # forget what was seen once: bounded memory, IDF barely moves
            self.df = Counter({k: n for k, n in self.df.items() if n > 1})
            if len(self.df) > MAX_VOCABULARY * 3 // 4:  # keys seen twice fill it: forget the rarest down to 3/4
                self.df = Counter(self._commonest(MAX_VOCABULARY * 3 // 4))

    def _commonest(self, most: int) -> dict[str, int]:
        """The keys of the highest frequencies, at most ``most`` of them (ties at the cut go together)."""
        by_count = sorted(Counter(self.df.values()).items(), reverse=True)
        kept, floor = 0, by_count[0][0] + 1
        for count, keys in by_count:
            if kept + keys > most:
                break
            kept, floor = kept + keys, count
        return {k: n for k, n in self.df.items() if n >= floor}

    def idf(self, key: str) -> float:
        return math.log((self.docs + 1) / (self.df.get(key, 0) + 1)) + 1.0

    def idfs(self, keys: Iterable[str]) -> dict[str, float]:
        """:meth:`idf` of each key (the same figures, without a call per key)."""
        docs, df, log = self.docs + 1, self.df.get, math.log
        return {k: log(docs / (df(k, 0) + 1)) + 1.0 for k in keys}

    def vectors(self, counts: Mapping[str, float]) -> tuple[dict[str, float], dict[str, float]]:
        """Unit TF-IDF vectors of all the keys and of the :data:`CROSS` keys only."""
        docs, df, log = self.docs + 1, self.df.get, math.log
        weights = {k: (1.0 + log(c)) * (log(docs / (df(k, 0) + 1)) + 1.0) for k, c in counts.items() if c >= 1}
        cross = {k: w for k, w in weights.items() if k[0] in CROSS}
        return _unit(weights), _unit(cross)


def _unit(vec: dict[str, float]) -> dict[str, float]:
    norm = math.sqrt(sum(v * v for v in vec.values())) or 1.0
    return {k: v / norm for k, v in vec.items()}


def _dot(a: dict[str, float], b: dict[str, float]) -> float:
    return sum([a[k] * b[k] for k in a.keys() & b.keys()])  # the intersection is taken in C: few keys are shared


@dataclass
class Story:
    story_id: int
    first_seen: datetime | None
    last_seen: datetime | None
    size: int = 0
    centroid: Counter[str] = field(default_factory=Counter)
    title: str = ""
    vectors: tuple[dict[str, float], dict[str, float]] | None = None  # recomputed after a change


class StoryIndex:
    def __init__(self, threshold: float = 0.07, window_days: float = 7.0,
                 new_id: Callable[[str], int] | None = None, stats: KeyStats | None = None) -> None:
        """``new_id(title)`` hands out the id of a new story (the database's, where several alert workers
        share stories); without it, ids count up from the highest id seen."""
        self.stats = stats if stats is not None else KeyStats()
        self.new_id = new_id
        self.threshold = threshold
        self.window = timedelta(days=window_days)
        self.stories: OrderedDict[int, Story] = OrderedDict()  # least recently joined first
        self.postings: dict[str, list[int]] = defaultdict(list)
        self.newest: datetime | None = None
        self.evicted = 0
        self._next = 1
        self._since_sweep = 0
        self._uncleaned: list[str] = []  # posting lists not yet looked over in this round

    def restore(self, story_id: int, keys: Mapping[str, int], when: datetime | None, title: str = "") -> None:
        """Put back an article already assigned to a story (rebuilding the index at start-up)."""
        counts = Counter(keys)
        self.stats.add(counts)
        story = self.stories.get(story_id)
        if story is None:
            story = self.stories[story_id] = Story(story_id, when, when, title=title)
        self._add(story, counts, when)
        if story_id >= self._next:
            self._next = story_id + 1

    def candidates(self, vector: Mapping[str, float]) -> list[int]:
        """Live stories sharing the most weight of the article's heaviest keys (see the module doc)."""
        shared = [k for k in vector if k in self.postings]  # keys no story carries lead nowhere
        heaviest = sorted(shared, key=vector.__getitem__, reverse=True)[:QUERY_KEYS]
        hits: dict[int, float] = defaultdict(float)
        for key in heaviest:
            weight = vector[key]
            for story_id in self.postings[key][-POSTING_DEPTH:]:
                hits[story_id] += weight
        ranked = sorted(hits, key=hits.__getitem__, reverse=True)
        return [s for s in ranked[:SCORED] if s in self.stories]

    def similarity(self, vectors: tuple[dict[str, float], dict[str, float]], story: Story) -> float:
        if story.vectors is None:
            story.vectors = self.stats.vectors(story.centroid)
        return max(_dot(vectors[0], story.vectors[0]), _dot(vectors[1], story.vectors[1]))

    def link(self, keys: Mapping[str, int], when: datetime | None = None, title: str = "") -> tuple[int, bool]:
        """The story the article joins, and whether that story is new."""
        counts = Counter(keys)
        self.stats.add(counts)
        best, best_score = None, 0.0
        if counts:
            vectors = self.stats.vectors(counts)
            for story_id in self.candidates(vectors[0]):
                story = self.stories[story_id]
                if when is not None and story.last_seen is not None and abs(when - story.last_seen) > self.window:
                    continue
                score = self.similarity(vectors, story)
                if score > best_score:
                    best, best_score = story, score
        if best is not None and best_score >= self.threshold:
            self._add(best, counts, when)
            outcome = best.story_id, False
        else:
            story_id = self.new_id(title) if self.new_id is not None else self._next
            self._next = max(self._next, story_id + 1)
            story = self.stories[story_id] = Story(story_id, when, when, title=title)
            self._add(story, counts, when)
            outcome = story_id, True
        self._since_sweep += 1
        if self._since_sweep >= EVICT_EVERY or len(self.stories) > MAX_STORIES:
            self.evict()
        return outcome

    def _add(self, story: Story, counts: Counter[str], when: datetime | None) -> None:
        before = set(story.centroid)
        story.centroid.update({sys.intern(k): n for k, n in counts.items()})  # one copy of a key for every story
        if len(story.centroid) > PROFILE_KEYS * 2:  # keep the heaviest keys only: bounded memory
            idf = self.stats.idfs(story.centroid)
            weight = {k: -n * idf[k] for k, n in story.centroid.items()}
            heaviest = sorted(story.centroid, key=weight.__getitem__)[:PROFILE_KEYS]
            story.centroid = Counter({k: story.centroid[k] for k in heaviest})
        story.size += 1
        story.vectors = None
        self.stories.move_to_end(story.story_id)
        if when is not None:
            story.first_seen = min(story.first_seen or when, when)
            story.last_seen = max(story.last_seen or when, when)
            self.newest = max(self.newest or when, when)
        for key in set(story.centroid) - before:
            posting = self.postings[key]
            posting.append(story.story_id)
            if len(posting) > POSTING_DEPTH * 2:
                del posting[:-POSTING_DEPTH]

    def evict(self) -> int:
        """Forget stories that can take no new article (quiet for longer than the window, or the least
        recently joined beyond :data:`MAX_STORIES`), and their postings; returns how many."""
        self._since_sweep = 0
        gone: list[Story] = []
        while len(self.stories) > MAX_STORIES:
            gone.append(self.stories.popitem(last=False)[1])
        if self.newest is not None:
            horizon = self.newest - self.window
            stale = [s for s in self.stories.values() if s.last_seen is not None and s.last_seen < horizon]
            for story in stale:
                gone.append(self.stories.pop(story.story_id))
        for story in gone:
            for key in story.centroid:
                posting = self.postings.get(key)
                if posting is None:
                    continue
                live = [s for s in posting if s in self.stories]
                if live:
                    self.postings[key] = live
                else:
                    del self.postings[key]
        self.evicted += len(gone)
        self._clean(CLEANED_PER_SWEEP)
        return len(gone)

    def _clean(self, most: int) -> None:
        """Drop gone stories from up to ``most`` more posting lists, in rounds over all of them. A story's
        profile loses its lighter keys as it grows, and the postings of those keys keep its id: eviction
        does not see them, so without this round they would keep gone stories, and keys no live story
        carries, for ever."""
        if not self._uncleaned:
            self._uncleaned = list(self.postings)
        for key in self._uncleaned[-most:]:
            posting = self.postings.get(key)
            if posting is None:
                continue
            live = [s for s in posting if s in self.stories]
            if len(live) == len(posting):
                continue
            if live:
                self.postings[key] = live
            else:
                del self.postings[key]
        del self._uncleaned[-most:]

    def held(self) -> dict[str, int]:
        """What the index holds now: stories, postings entries and keys with frequencies (its memory)."""
        return {"stories": len(self.stories), "posting_keys": len(self.postings),
                "postings": sum(len(p) for p in self.postings.values()),
                "profile_keys": sum(len(s.centroid) for s in self.stories.values()), "vocabulary": len(self.stats.df)}


def bcubed(assigned: dict[str, int], truth: dict[str, str],
           scored: Iterable[str] | None = None) -> tuple[float, float, float]:
    """B-cubed precision, recall and F1 of a clustering against true labels (over the labeled items).

    ``scored``: average over these items only; the other labeled items still count in the clusters
    they join (as items of another label), so a distractor that joins a story costs that story's
    precision, while two distractors that join each other (unlabeled, perhaps rightly) cost nothing.
    """
    items = [i for i in assigned if i in truth]
    by_cluster: dict[int, list[str]] = defaultdict(list)
    by_label: dict[str, list[str]] = defaultdict(list)
    for i in items:
        by_cluster[assigned[i]].append(i)
        by_label[truth[i]].append(i)
    chosen = set(scored) if scored is not None else None
    averaged = [i for i in items if chosen is None or i in chosen]
    precision = recall = 0.0
    for i in averaged:
        same_cluster = by_cluster[assigned[i]]
        same_label = by_label[truth[i]]
        both = sum(1 for j in same_cluster if truth[j] == truth[i])
        precision += both / len(same_cluster)
        recall += both / len(same_label)
    n = len(averaged) or 1
    p, r = precision / n, recall / n
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)
