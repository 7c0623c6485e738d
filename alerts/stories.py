"""Story relation: is an article part of a watched story, and is it the same report or a new development?

In: an article (title and text, publication time, fired topics) and a :class:`StoryProfile` (what the
story is about, and what the analyst was already sent). Out: a :class:`Relation` — its kind, the
probability behind it, the names, places and dates the article shares with the story (as the
article writes them), what it adds, and one reason for logs and JSON.

- **About the same story?** The article's keys (:mod:`alerts.textkeys`: terms in any script,
  places across languages, name skeletons, figures and dates) are compared with the story's: its seed,
  what its members added, its closest member; with its topics and the days from its start as two
  more signals, not gates. A learned model (:mod:`alerts.linker`) turns them into the probability that
  the article belongs; it joins at the model's calibrated threshold. The seed stays a feature of its
  own, so that a story that grows with its members stays anchored to what was watched: the same actors
  in another event, months apart, share the names but not the seed's facts and time.
- **Same report or new development?** From what the article adds: the share of its terms, figures,
  dates and places the analyst was not sent, and the time since the first report — again weighed by
  the learned model, in any language, with no word list. What is new (the lead sentences whose words
  are mostly new, the facts not sent before) goes with the relation for the email.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache

from alerts.linker import LinkModel, StoryKeys, kind_features, pair_features
from alerts.linker import TermStats as KeyStats
from alerts.textkeys import Analyser, Analysis

NEW_SENTENCE_SHARE = 0.5  # a lead sentence is news when more than half of its terms are new to the story
NOTHING_NEW = 0.05  # an article whose terms are this little new, with no new fact, retells what was sent


@cache
def default_model() -> LinkModel:
    """The shipped weights, read once per process."""
    return LinkModel.load()


class TermStats(KeyStats):
    """Document frequencies of keys over the bundled background and the archive, updated as articles arrive.

    :meth:`with_background` starts from the keys of the classifier's bootstrap snippets (written for
    wirewatch), so that a young archive already knows that *Ukraine* and *ceasefire* are everywhere.
    """

    @classmethod
    def with_background(cls) -> TermStats:
        return _background().copy()

    def copy(self) -> TermStats:
        return TermStats(self.docs, Counter(self.df))

    def add(self, text: str) -> None:
        self.add_keys(Analyser.default().analyse(text).keys)


@cache
def _background() -> TermStats:
    from process.model import bundled_training_file, read_examples

    stats = TermStats()
    for example in read_examples(bundled_training_file()):
        stats.add(example["text"])
    return stats


def names(text: str) -> list[str]:
    """The keys of an article's title and lead, each as often as it counts (the story index's input)."""
    return list(Analyser.default().analyse(text).keys.elements())


@dataclass
class StoryProfile:
    """A watched story: its seed's keys and topics, and everything the analyst has been sent."""

    story_id: str
    name: str
    keys: StoryKeys = field(default_factory=StoryKeys)
    surface: dict[str, str] = field(default_factory=dict)
    first_seen: datetime | None = None  # the seed's date: set by seed() only
    members: int = 0

    @property
    def topics(self) -> set[str]:
        return self.keys.topics

    @property
    def last_seen(self) -> datetime | None:
        return self.keys.last_seen

    def seed(self, text: str, topics: Iterable[str] = (), when: datetime | None = None) -> None:
        """The report the story starts from. Without its date (a pasted text), the story has no start:
        developments are then told by what they add only, never by their distance in time."""
        analysis = Analyser.default().analyse(text)
        self.keys.topics.update(topics)
        self.first_seen = self.keys.first_seen = when
        self.keys.add(analysis.keys, when, seed=True)
        self._remember(analysis)

    def learn(self, text: str, when: datetime | None = None, analysis: Analysis | None = None) -> None:
        """Take in an accepted member: what the analyst now knows (in whatever order articles arrive)."""
        analysis = analysis or Analyser.default().analyse(text)
        self.keys.add(analysis.keys, when)
        self._remember(analysis)

    def _remember(self, analysis: Analysis) -> None:
        for key, word in analysis.surface.items():
            self.surface.setdefault(key, word)
        self.members += 1


@dataclass(frozen=True)
class Relation:
    kind: str  # "same_report", "follow_up" or "unrelated"
    similarity: float  # the probability that the article belongs to the story
    reason: str = ""  # one line for logs and JSON
    shared_names: tuple[str, ...] = ()  # names and places in common, as the article writes them
    new_sentences: tuple[str, ...] = ()  # the article's lead sentences that are news to the story
    new_facts: tuple[str, ...] = ()  # names, figures and dates the analyst was not sent, as written
    shared_dates: tuple[str, ...] = ()  # dates and figures in common, as the article writes them
    shared_keys: tuple[str, ...] = ()  # the keys behind shared_names (internal: JSON and logs only)
    features: tuple[tuple[str, float], ...] = ()  # the model's inputs (internal)

    @property
    def related(self) -> bool:
        return self.kind != "unrelated"


def _shared(analysis: Analysis, story: StoryProfile, stats: KeyStats) -> tuple[list[str], list[str]]:
    """Keys the article shares with the story: names and places (heaviest first), then figures and dates."""
    common = [k for k in analysis.keys if k in story.keys.grown and k[0] not in "~^"]
    common.sort(key=lambda k: -stats.idf(k) * (1.0 + math.log(analysis.keys[k])))
    names_ = [k for k in common if k[0] not in "#%" and stats.idf(k) >= 3.0 and _name_like(analysis.surface[k])]
    places = [k for k in names_ if k[0] == "@"]
    plain = [k for k in names_ if k[0] != "@" and not any(analysis.surface[k] == analysis.surface[p] for p in places)]
    return (places + plain)[:8], [k for k in common if k[0] in "#%"][:6]


def _name_like(word: str) -> bool:
    """A word written as a name: capitalised, or in a script without capitals (where IDF alone decides)."""
    return word[:1].isupper() or word[:1].lower() == word[:1].upper()


def novelty(analysis: Analysis, story: StoryProfile) -> tuple[list[str], list[str]]:
    """The lead sentences (after the title) and the facts (names, figures, dates) the analyst has not been sent."""
    known = story.keys.known
    fresh = []
    for sent in analysis.sentences[1:12]:
        words = {k for k in Analyser.default().analyse(sent, 80).keys if k[0] not in "~@^"}
        if len(words) >= 4 and len(words - known) / len(words) > NEW_SENTENCE_SHARE:
            fresh.append(sent)
    new = [k for k in analysis.keys if k not in known and (k[0] in "@#%")]
    return fresh, list(dict.fromkeys(analysis.surface[k] for k in new))


def relate(text: str, story: StoryProfile, stats: KeyStats, related_threshold: float | None = None,
           published: datetime | None = None, topics: Iterable[str] = (), window_days: float = 120.0,
           model: LinkModel | None = None, analysis: Analysis | None = None) -> Relation:
    """How ``text`` relates to ``story``: ``related_threshold`` (a probability) defaults to the model's."""
    model = model or default_model()
    threshold = model.threshold if related_threshold is None else related_threshold
    analysis = analysis or Analyser.default().analyse(text)
    if not analysis.keys:
        return Relation("unrelated", 0.0, "no words to compare (empty, or a script the linker cannot read)")
    if not story.keys.seed:
        return Relation("unrelated", 0.0, "the story's seed has no words to compare")
    if published is not None and story.last_seen is not None and \
            published - story.last_seen > timedelta(days=window_days):
        return Relation("unrelated", 0.0, f"more than {window_days:g} days after the story's last news")
    features = pair_features(analysis.keys, story.keys, stats, published, topics)
    p = round(model.belongs(features), 4)
    shared, dates = _shared(analysis, story, stats)
    inputs = tuple((k, round(v, 4)) for k, v in features.items())
    names_ = tuple(analysis.surface[k] for k in shared)
    dates_ = tuple(analysis.surface[k] for k in dates)
    if p < threshold:
        return Relation("unrelated", p, f"too little in common with the story (p={p:.2f} < {threshold:.2f})",
                        names_, shared_dates=dates_, shared_keys=tuple(shared), features=inputs)
    fresh, new_facts = novelty(analysis, story)
    kinds = kind_features(analysis, story.keys, stats, published, features["cos_seed"])
    develops = model.develops(kinds)
    inputs += tuple((f"kind_{k}", round(v, 4)) for k, v in kinds.items())
    common = ", ".join(names_[:4] + dates_[:2]) or "its words"
    nothing_new = kinds["new_terms"] < NOTHING_NEW and not new_facts  # a member retold word for word
    if develops >= 0.5 and not nothing_new:
        when = f"{(published - story.first_seen).days} days after the first report, " \
            if published is not None and story.first_seen is not None else ""
        reason = f"follow-up (p={p:.2f}, new {develops:.2f}): shares {common}; {when}" \
                 f"adds {len(new_facts)} new names, figures or dates"
        return Relation("follow_up", p, reason, names_, tuple(fresh[:3]), tuple(new_facts[:10]), dates_,
                        tuple(shared), inputs)
    return Relation("same_report", p, f"the same report retold (p={p:.2f}, new {develops:.2f}): shares {common}",
                    names_, tuple(fresh[:3]), tuple(new_facts[:10]), dates_, tuple(shared), inputs)
