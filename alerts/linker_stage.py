"""The alert stage's linker for watched stories: the learned one when its weights load, else the hand-written one.

In: archived articles (their id and text, as the alert stage archives them), watches (seed text, topics, date)
and their members. Out: each new article's :class:`~alerts.stories.Relation` to a watched story.

- **Learned** (:mod:`alerts.linker_watch`), when the weights file ``alerts/data/linker_weights.json``
  (written by ``benchmarks/fit_linker.py``; none ships yet, see docs/benchmarks.md) loads: each archived article's
  keys (:mod:`alerts.textkeys`) update the archive's key frequencies and its rivals (:mod:`alerts.linker_rivals`),
  and each watch is a :class:`~alerts.linker_watch.LearnedStory` that learns from the members its seed would take.
- **Hand-written** (:func:`alerts.stories.relate`) when the file is missing (logged once) or unreadable or from
  another version (an error logged once, naming the file and what to do); the stage goes on.

Either way a watch also keeps its hand-written :class:`~alerts.stories.StoryProfile` (the story's start, and
the names the email's "why" sentence is worded from), and a relation's ``shared_names`` are name keys of
:func:`alerts.stories.names`, so the emails read the same whichever linker decided. The weights are read once per
process.
"""

from __future__ import annotations

import logging
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import cache
from pathlib import Path

from wirewatch.alerts.linker import WEIGHTS_FILE, KeySide, LinkModel, ModelFileError, TermStats
from wirewatch.alerts.linker_encoder import Encoder, shared_encoder
from wirewatch.alerts.linker_rivals import Rivals
from wirewatch.alerts.linker_watch import SEED_ID, LearnedStory, relate_learned
from wirewatch.alerts.stories import Relation, StoryProfile, relate
from wirewatch.alerts.stories import TermStats as NameStats
from wirewatch.alerts.textkeys import Analyser, Analysis

log = logging.getLogger(__name__)
CACHED = 64  # analyses kept: an article is analysed once for every watch it is related to
CLOSENESS = 100_000  # articles whose closeness to a watched story is kept (a rival's own closeness to it)


@cache
def shipped_model(path: Path = WEIGHTS_FILE) -> LinkModel | None:
    """The shipped weights, read once per process; ``None`` (and one logged error) when they cannot be used."""
    if not path.exists():
        log.info("no learned linker's weights at %s: watched stories use the hand-written linker", path)
        return None
    try:
        return LinkModel.load(path)
    except ModelFileError as exc:
        log.error("%s; watched stories use the hand-written linker", exc)
        return None


@dataclass
class WatchedStory:
    """A watch as the linker knows it: the hand-written profile, and the learned story when the model loaded."""

    profile: StoryProfile
    learned: LearnedStory | None = None
    members: set[str] = field(default_factory=lambda: {SEED_ID})  # article ids linked to it (for the rivals)
    closeness: OrderedDict[str, float] = field(default_factory=OrderedDict)  # how close articles came (bounded)

    def saw(self, article_id: str, cos_member: float) -> None:
        self.closeness[article_id] = cos_member
        if len(self.closeness) > CLOSENESS:
            self.closeness.popitem(last=False)

    @property
    def first_seen(self) -> datetime | None:
        return self.profile.first_seen


class WatchLinker:
    """Relates articles to watched stories (see the module doc); one per alert stage."""

    def __init__(self, names: NameStats, related_threshold: float, window_days: float,
                 model: LinkModel | None = None, use_shipped: bool = True, cached: int = CACHED,
                 analyse: Callable[[str], Analysis] | None = None, encoder: Encoder | None = None) -> None:
        self.names = names  # the hand-written linker's name frequencies (the alert stage updates them)
        self.related_threshold = related_threshold
        self.window_days = window_days
        self.model = model if model is not None else shipped_model() if use_shipped else None
        self.keys = TermStats()
        self.rivals = Rivals()
        self._analyses: OrderedDict[str, Analysis] = OrderedDict()
        self._cached = cached
        self._analyser = analyse or Analyser.default().analyse
        self._hand_of: tuple[tuple[int, str], tuple[float, bool]] = ((0, ""), (0.0, False))  # the last one asked
        self._side_of: tuple[tuple[str, int], KeySide | None] = (("", -1), None)  # the last article's vectors
        self._rivals_of: tuple[tuple[str, int, int], tuple[float, float, float]] = (("", 0, -1), (0.0, 0.0, 0.0))
        # the sentence encoder, made only when the model reads its signal (its model loads at the first link)
        self.encoder = encoder if encoder is not None else shared_encoder() \
            if self.model is not None and self.model.needs_meaning else None
        self._meaning_of: tuple[tuple[str, int, int], tuple[float, float] | None] = (("", 0, -1), None)

    @property
    def name(self) -> str:
        return "learned" if self.model is not None else "hand-written"

    def _analyse(self, article_id: str, text: str) -> Analysis:
        found = self._analyses.get(article_id)
        if found is None:
            found = self._analyses[article_id] = self._analyser(text)
            if len(self._analyses) > self._cached:
                self._analyses.popitem(last=False)
        return found

    def archived(self, article_id: str, text: str, counted: bool = False, published: datetime | None = None) -> None:
        """An article joined the archive (new, or restored at start): its keys count in the frequencies (unless
        ``counted`` already) and it becomes a rival of the stories it is not linked to (of those it is published
        near; a time not given here is taken from the first :meth:`relate` of the article)."""
        if self.model is None:
            return
        analysis = self._analyse(article_id, text)
        if not counted:
            self.keys.add_keys(analysis.keys)
        self.rivals.add(article_id, self._side(article_id, analysis).vector(), published)

    def _side(self, article_id: str, analysis: Analysis) -> KeySide:
        """The article's vectors, computed once for the rivals and every watch (while the frequencies stay)."""
        key = (article_id, self.keys.docs)
        side = self._side_of[1]
        if self._side_of[0] != key or side is None:
            side = KeySide(analysis.keys, self.keys)
            self._side_of = (key, side)
        return side

    def _rivals(self, story: WatchedStory, article_id: str, side: KeySide,
                published: datetime | None) -> tuple[float, float, float]:
        """The article's closest member, closest rival and that rival's own closeness to the story, once for its
        link and its learning."""
        key = (article_id, id(story), self.keys.docs)
        if self._rivals_of[0] != key:
            self.rivals.dated(article_id, published)
            inside, outside, rival = self.rivals.closest(side.vector(), story.members, article_id, published)
            self._rivals_of = (key, (inside, outside, story.closeness.get(rival, 0.0)))
        return self._rivals_of[1]

    def count(self, article_id: str, text: str) -> None:
        """Count an article's keys in the frequencies only (a replay counts its whole archive first)."""
        if self.model is not None:
            self.keys.add_keys(self._analyse(article_id, text).keys)

    def story(self, watch_id: str, name: str, seed_text: str, topics: Iterable[str],
              when: datetime | None) -> WatchedStory:
        topics = set(topics)
        profile = StoryProfile(watch_id, name)
        profile.seed(seed_text, topics, when)
        out = WatchedStory(profile)
        if self.model is not None:
            out.learned = LearnedStory()
            out.learned.seed(seed_text, topics, when)
            self.rivals.add(SEED_ID + watch_id, self.keys.vector(out.learned.keys.seed), when)
            if self.encoder is not None:
                self.encoder.preload()
            out.members.add(SEED_ID + watch_id)
        return out

    def relate(self, story: WatchedStory, article_id: str, text: str, published: datetime | None,
               topics: Iterable[str]) -> Relation:
        topics = set(topics)
        if self.model is None or story.learned is None:
            return relate(text, story.profile, self.names, self.related_threshold, published, topics,
                          self.window_days)
        meaning = self._meaning(story, story.learned, article_id, text)
        model = self.model if meaning is not None else self.model.fitting({})
        if model is None:  # the encoder is off and the weights have no trees without its signal
            return relate(text, story.profile, self.names, self.related_threshold, published, topics,
                          self.window_days)
        analysis = self._analyse(article_id, text)
        side = self._side(article_id, analysis)
        rivals = self._rivals(story, article_id, side, published)
        hand = self._hand(story, text, published, topics)
        relation = relate_learned(analysis, story.learned, self.keys, model, published, topics,
                                  self.window_days, rivals, hand, side,
                                  lambda cos: story.saw(article_id, cos), meaning)
        return replace(relation, shared_names=shared_names(text, story.profile))

    def _meaning(self, story: WatchedStory, learned: LearnedStory, article_id: str,
                 text: str) -> tuple[float, float] | None:
        """The article's sentence vector against the story's (once for its link and its learning); ``None`` when the
        model does not read it or the encoder cannot be used."""
        if self.encoder is None:
            return None
        key = (article_id, id(story), learned.keys.version)
        if self._meaning_of[0] != key:
            self._meaning_of = (key, learned.meaning(self.encoder.vector(text), self.encoder))
        return self._meaning_of[1]

    def _hand(self, story: WatchedStory, text: str, published: datetime | None,
              topics: Iterable[str]) -> tuple[float, bool]:
        """The hand-written linker's name similarity and decision: two features of the learned one."""
        key = (id(story), text)
        if self._hand_of[0] != key:
            relation = relate(text, story.profile, self.names, self.related_threshold, published, topics,
                              self.window_days)
            self._hand_of = (key, (relation.similarity, relation.related))
        return self._hand_of[1]

    def learn(self, story: WatchedStory, article_id: str, text: str, kind: str, published: datetime | None,
              topics: Iterable[str] = ()) -> None:
        """A member was linked (now, or before a restart): the story learns from it. The learned story learns
        only from members its seed alone would take (:meth:`LearnedStory.anchored`), so it does not drift."""
        story.members.add(article_id)
        if kind == "follow_up":
            story.profile.learn(text, published)
        if story.learned is not None and self.model is not None:
            story.learned.linked(published)
            meaning = self._meaning(story, story.learned, article_id, text)
            model = self.model if meaning is not None else self.model.fitting({})
            if model is None:
                return
            analysis = self._analyse(article_id, text)
            story.learned.told(analysis)
            side = self._side(article_id, analysis)
            rivals = self._rivals(story, article_id, side, published)
            hand = self._hand(story, text, published, topics)
            if story.learned.anchored(side, self.keys, model, published, topics, rivals, hand, meaning):
                vector = self.encoder.vector(text) if self.encoder is not None and meaning is not None else None
                story.learned.learn(analysis, published, vector)


def shared_names(text: str, profile: StoryProfile, limit: int = 8) -> tuple[str, ...]:
    """The seed's name keys the article carries, heaviest first (what the email's "why" sentence names)."""
    from wirewatch.alerts.stories import names

    found = Counter(names(text))
    return tuple(sorted((k for k in found if k in profile.seed_names),
                        key=lambda k: -found[k] * profile.seed_names[k])[:limit])
