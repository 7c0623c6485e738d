"""The learned story linker on a watched story: used by the alert stage when its weights file loads.

In: an article (title and text, publication time, fired topics), a :class:`LearnedStory` (the seed's keys and
what its accepted members added), :class:`~alerts.linker.TermStats` over the archive's keys, and a
:class:`~alerts.linker.LinkModel` (weights fitted by ``benchmarks/fit_linker.py``). Out: a
:class:`~alerts.stories.Relation`, as the hand-written linker gives it.

- **About the same story?** The article's keys (:mod:`alerts.textkeys`: terms in any script, places
  across languages, name skeletons, figures and dates) against the seed's, the story as it grew and its
  closest member; against its rivals (the closest archived article outside the story,
  :mod:`alerts.linker_rivals`); the article's sentence vector against the seed's and the story's centroid
  (:mod:`alerts.linker_encoder`, across languages); the hand-written linker's name similarity and decision; the
  story's topics
  and the days from its start are signals, not gates. The model turns
  the pair's features into the probability that the article belongs; it joins at the model's threshold.
- **Same report or follow-up?** From what the article adds (its share of terms, figures, dates and places
  the analyst was not sent: the keys of every member linked, whether or not it taught the story) and the time
  since the first report, weighed by the model: no word list.
- **Learning and drift.** A member that would join on the seed alone, at the model's stricter bar for teaching,
  adds its keys to the story (bounded), while the seed stays a feature of its own, so that a story that grows
  stays anchored to what was watched. The story's window (``window_days``) runs from its latest linked member.

The alert stage, ``backtest --watch`` and the evaluations reach it through :mod:`alerts.linker_stage` and
:mod:`alerts.replay`. No weights file ships: fitted without news-dev, the weights catch fewer of news-dev's Doha
excerpts than the hand-written linker's floor (docs/benchmarks.md), so the stage runs the hand-written linker.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
from wirewatch.alerts.linker import KeySide, LinkModel, StoryKeys, TermStats, kind_features, pair_features
from wirewatch.alerts.linker_encoder import Encoder, closeness
from wirewatch.alerts.stories import Relation
from wirewatch.alerts.textkeys import Analyser, Analysis

SEED_ID = "\x00seed"  # the seed's id among the archive's rivals (no article id looks like it)
NEW_SENTENCE_SHARE = 0.5  # a lead sentence is news when more than half of its terms are new to the story
NOTHING_NEW = 0.05  # an article whose terms are this little new, with no new fact, retells what was sent


def archive_stats(texts: Iterable[str], analyse: Callable[[str], Analysis] | None = None) -> TermStats:
    """Key frequencies of the archive itself (no bundled background: what is common is what the archive repeats)."""
    stats = TermStats()
    analyse = analyse or Analyser.default().analyse
    for text in texts:
        stats.add_keys(analyse(text).keys)
    return stats


@dataclass
class LearnedStory:
    """A watched story as the learned linker knows it."""

    keys: StoryKeys = field(default_factory=StoryKeys)
    anchor: StoryKeys = field(default_factory=StoryKeys)  # the seed alone: what a member must meet to teach the story
    first_seen: datetime | None = None
    last_linked: datetime | None = None  # the latest member linked (the story's last news, whether it taught or not)
    seed_text: str = ""
    seed_vector: np.ndarray | None = None  # the seed's sentence vector (alerts/linker_encoder.py), at first need
    vector_sum: np.ndarray | None = None  # the seed's and the teaching members' vectors: the story's centroid

    def meaning(self, vector: np.ndarray | None, encoder: Encoder) -> tuple[float, float] | None:
        """The article's sentence vector against the seed's and the story's centroid (``None``: no vector)."""
        if vector is None:
            return None
        if self.seed_vector is None:
            self.seed_vector = encoder.vector(self.seed_text)
            if self.seed_vector is None:
                return None
            self.vector_sum = self.seed_vector.astype(np.float64)
        total = self.vector_sum if self.vector_sum is not None else self.seed_vector
        centroid: np.ndarray = total / (float(np.linalg.norm(total)) or 1.0)
        return closeness(vector, self.seed_vector), closeness(vector, centroid)

    def linked(self, when: datetime | None) -> None:
        """A member was linked at ``when``: the story's window runs from its latest member."""
        if when is not None:
            self.last_linked = max(self.last_linked or when, when)

    def seed(self, text: str, topics: Iterable[str] = (), when: datetime | None = None) -> None:
        keys = Analyser.default().analyse(text).keys
        for story in (self.keys, self.anchor):
            story.topics.update(topics)
            story.first_seen = when
            story.add(keys, when, seed=True)
        self.first_seen = when
        self.seed_text = text

    def anchored(self, article: Analysis | KeySide, stats: TermStats, model: LinkModel, published: datetime | None,
                 topics: Iterable[str], rivals: tuple[float, ...] | None = None,
                 hand: tuple[float, bool] | None = None, meaning: tuple[float, float] | None = None) -> bool:
        """Whether the article would join on the seed alone, at the model's bar for teaching (:attr:`LinkModel.teaches`,
        stricter than the link's): only such members teach the story (a member that joined through another member,
        or barely, does not pull the story further, into a neighbouring one)."""
        keys = article if isinstance(article, KeySide) else article.keys
        alone = (meaning[0], meaning[0]) if meaning is not None else None  # the seed alone is the whole story here
        features = pair_features(keys, self.anchor, stats, published, topics, rivals, hand, alone)
        return model.belongs(features) >= model.teaches

    def told(self, analysis: Analysis) -> None:
        """A member was linked: what it says is what the analyst was told (the keys a later article must go beyond
        to be a development), whether or not it teaches the story."""
        self.keys.known.update(analysis.keys)

    def learn(self, analysis: Analysis, when: datetime | None = None, vector: np.ndarray | None = None) -> None:
        self.keys.add(analysis.keys, when)
        if vector is not None and self.vector_sum is not None:
            self.vector_sum = self.vector_sum + vector


def novelty(analysis: Analysis, story: LearnedStory) -> tuple[list[str], list[str]]:
    """The lead sentences after the title and the facts (places, figures, dates) the analyst was not sent."""
    known = story.keys.known
    fresh = []
    for sent in analysis.sentences[1:12]:
        words = {k for k in Analyser.default().analyse(sent, 80).keys if k[0] not in "~@^"}
        if len(words) >= 4 and len(words - known) / len(words) > NEW_SENTENCE_SHARE:
            fresh.append(sent)
    new = [k for k in analysis.keys if k not in known and k[0] in "@#%"]
    return fresh, list(dict.fromkeys(analysis.surface[k] for k in new))


def relate_learned(analysis: Analysis, story: LearnedStory, stats: TermStats, model: LinkModel,
                   published: datetime | None = None, topics: Iterable[str] = (),
                   window_days: float = 120.0, rivals: tuple[float, ...] | None = None,
                   hand: tuple[float, bool] | None = None, side: KeySide | None = None,
                   seen: Callable[[float], None] | None = None,
                   meaning: tuple[float, float] | None = None) -> Relation:
    """How the analysed article relates to ``story``, by the model's two decisions (``side``: the article's
    vectors, when already computed for other watches; ``seen`` is told how close it came to the story's members,
    what it weighs as a rival of later articles; ``meaning``: the sentence vectors' cosines, see
    :meth:`LearnedStory.meaning`, when ``model`` reads them)."""
    if not analysis.keys:
        return Relation("unrelated", 0.0, "no words to compare (empty, or a script the linker cannot read)")
    if not story.keys.seed:
        return Relation("unrelated", 0.0, "the story's seed has no words to compare")
    last = max((t for t in (story.keys.last_seen, story.last_linked) if t is not None), default=None)
    if published is not None and last is not None and published - last > timedelta(days=window_days):
        return Relation("unrelated", 0.0, f"more than {window_days:g} days after the story's last news")
    features = pair_features(side or analysis.keys, story.keys, stats, published, topics, rivals, hand, meaning)
    if seen is not None:
        seen(features["cos_member"])
    p = round(model.belongs(features), 4)
    scores = f"p={p:.2f}, threshold {model.threshold:.2f}"
    if p < model.threshold:
        if features["rival"] > max(features["cos_member"], rivals[0] if rivals else 0.0):
            return Relation("unrelated", p, f"closer to another article of the archive than to the story ({scores})")
        return Relation("unrelated", p, f"too little in common with the story ({scores})")
    fresh, new_facts = novelty(analysis, story)
    kinds = kind_features(analysis, story.keys, stats, published, features["cos_seed"])
    develops = model.develops(kinds)
    scores += f", new {develops:.2f}"
    if develops >= 0.5 and not (kinds["new_terms"] < NOTHING_NEW and not new_facts):
        start = story.keys.first_seen or story.keys.earliest
        days = (published - start).days if published is not None and start is not None else 0
        added = f"new: {', '.join(new_facts[:4])}" if new_facts else "new sentences"
        reason = f"{days} day{'s' if days != 1 else ''} after the first report, {added}" if days >= 1 else \
            f"adds to the story ({added})"
        return Relation("follow_up", p, f"{reason} ({scores})", (), tuple(fresh[:3]), tuple(new_facts[:10]))
    return Relation("same_report", p, f"the same report retold ({scores})", (), tuple(fresh[:3]),
                    tuple(new_facts[:10]))
