"""The story linker's model: how much an article and a story have in common, and what the article adds.

In: an article's :class:`~alerts.textkeys.Analysis`, a story's keys (its seed, what its members
added, its facts, its dates and topics) and :class:`TermStats` (document frequencies). Out: a
feature vector of the pair (:func:`pair_features`), the probability that the article belongs to the
story (:meth:`LinkModel.belongs`) and the probability that it is a later development rather than the
same report retold (:meth:`LinkModel.develops`). Also passed in: the article's closest archived member, its
closest other archived article and how close that rival itself came to the story (``rivals``), and the
hand-written linker's name similarity and decision (``hand``).

Cost: an article's vectors and heaviest keys (:class:`KeySide`) are computed once for all the watches it is
related to, and a story's (:meth:`StoryKeys.sides`) once for all articles until the story learns or the archive's
frequencies move by more than 1/:data:`STALE` (a replay, whose frequencies are fixed, gets exactly the numbers
computed afresh).

The features are independent of language and story: IDF-weighted cosines of the keys against the
seed, against the story as it grew and against its closest member; how much of the seed's heaviest
keys the article carries; places, name skeletons, figures and dates in common; the share of the
story's topics the article carries (a signal, not a gate); the days from the story's start and
from its last member; and, across languages, the cosines of the article's sentence vector (its title and first
sentence, :mod:`alerts.linker_encoder`) with the seed's and the story's centroid. Their weights are learned on
labelled pairs by ``benchmarks/fit_linker.py`` (a logistic regression with fixed signs, or a bag of boosted trees
monotone in the same signs, :mod:`alerts.linker_trees`, with a second bag over the features without the sentence
vectors for when the encoder cannot be used, and optionally a logistic of the trees' log-odds and the hand-written
decision: ``stack``). ``fit_linker.py`` writes a weights file (numbers only, with its format version
:data:`FORMAT`) that :meth:`LinkModel.load` reads; none ships yet (docs/benchmarks.md: held out, it misses the
Doha floors), so the alert stage runs the hand-written linker (:mod:`alerts.linker_stage`).
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from wirewatch.alerts.linker_trees import Trees
from wirewatch.alerts.textkeys import Analysis

WEIGHTS_FILE = Path(__file__).parent / "data" / "linker_weights.json"
FORMAT = "wirewatch-linker/5"  # 5: the meaning signal (alerts/linker_encoder.py), and trees without it
BASE_FEATURES = ("cos_seed", "cos_story", "cos_member", "anchors", "own_anchors", "both_anchors", "places",
                 "seed_places", "own_places", "both_places", "skeletons", "names", "facts", "topics",
                 "days_seed", "days_last", "before_seed", "seed_top", "own_top", "rival", "beats_rival", "rival_own",
                 "hand", "hand_names")
MEANING_FEATURES = ("sem_seed", "sem_story")  # sentence vectors' cosines: the article's and the seed's, the story's
LINK_FEATURES = BASE_FEATURES + MEANING_FEATURES
KIND_FEATURES = ("days_seed", "new_terms", "new_facts", "new_places", "cos_seed")
# the sign each weight may take (+1: never below zero, -1: never above, 0: free): more in common never makes an
# article less likely to belong, more time never more likely; more new facts never makes it less of a development
LINK_SIGNS = {"days_seed": -1, "days_last": -1, "before_seed": -1, "rival": -1}
KIND_SIGNS = {"days_seed": 1, "new_terms": 0, "new_facts": 1, "new_places": 1, "cos_seed": -1}
ANCHORS = 10
PLACES = 4
TOP = 3
FACT = "#%"
KINDS = ("", "@", "~", "#", "%", "^")
STALE = 500  # a story's vectors are recomputed when the archive grew by more than 1/STALE of itself (or it learned)


class ModelFileError(ValueError):
    """The weights file is missing, unreadable or from another version of the linker."""


@dataclass
class TermStats:
    """Document frequencies of keys over a background and the archive, updated as articles arrive."""

    docs: int = 0
    df: Counter[str] = field(default_factory=Counter)
    _idf: dict[str, float] = field(default_factory=dict, repr=False, compare=False)  # valid until the next add

    def add_keys(self, keys: Iterable[str]) -> None:
        self.docs += 1
        self.df.update(set(keys))
        if self._idf:
            self._idf = {}

    def idf(self, term: str) -> float:
        value = self._idf.get(term)
        if value is None:
            if len(self._idf) > 200_000:
                self._idf = {}
            value = self._idf[term] = math.log((self.docs + 1) / (self.df.get(term, 0) + 1)) + 1.0
        return value

    def vector(self, counts: Mapping[str, float], kinds: str = "") -> dict[str, float]:
        """Unit TF-IDF vector of the keys whose first character is in ``kinds`` (``""``: the plain terms)."""
        vec = {t: (1.0 + math.log(c)) * self.idf(t) for t, c in counts.items() if c > 0 and _kind(t) == kinds}
        norm = math.sqrt(sum(v * v for v in vec.values())) or 1.0
        return {t: v / norm for t, v in vec.items()}

    def vectors(self, counts: Mapping[str, float]) -> dict[str, dict[str, float]]:
        """:meth:`vector` of every kind at once (the same numbers, one pass over the keys), by kind."""
        raw: dict[str, dict[str, float]] = {kind: {} for kind in KINDS}
        for t, c in counts.items():
            if c > 0:
                raw[_kind(t)][t] = (1.0 + math.log(c)) * self.idf(t)
        out = {}
        for kind, vec in raw.items():
            norm = math.sqrt(sum(v * v for v in vec.values())) or 1.0
            out[kind] = {t: v / norm for t, v in vec.items()}
        return out


class KeySide:
    """One side of a pair (an article, a story's seed, what it grew into, a member) as the features read it: its
    vectors and heaviest keys, computed once for every pair it takes part in (see :meth:`StoryKeys.sides`)."""

    def __init__(self, keys: Counter[str], stats: TermStats) -> None:
        self.keys = keys
        self.stats = stats
        self._vectors: dict[str, dict[str, float]] | None = None
        self._facts: dict[str, float] | None = None
        self._heavy: dict[tuple[tuple[str, ...], int], tuple[list[float], list[str], float]] = {}

    def vector(self, kind: str = "") -> dict[str, float]:
        if self._vectors is None:
            self._vectors = self.stats.vectors(self.keys)
        return self._vectors[kind]

    @property
    def facts(self) -> dict[str, float]:
        if self._facts is None:
            self._facts = _unit({t: c for t, c in self.keys.items() if t[0] in FACT}, self.stats)
        return self._facts

    def covered_in(self, found_in: Mapping[str, float], kinds: tuple[str, ...], n: int) -> float:
        """The IDF-weighted share of this side's ``n`` heaviest keys of those kinds found in ``found_in``."""
        heavy = self._heavy.get((kinds, n))
        if heavy is None:
            keys = self.keys
            terms = sorted((t for t in keys if _kind(t) in kinds),
                           key=lambda t: -(1.0 + math.log(keys[t])) * self.stats.idf(t))[:n]
            idfs = [self.stats.idf(t) for t in terms]
            heavy = self._heavy[(kinds, n)] = (idfs, terms, sum(idfs))
        idfs, terms, total = heavy
        return sum(w for w, t in zip(idfs, terms, strict=True) if t in found_in) / total if total else 0.0


def _kind(key: str) -> str:
    first = key[0]
    return first if first in "@~#%^" else ""


def cosine(a: Mapping[str, float], b: Mapping[str, float]) -> float:
    if len(a) > len(b):
        a, b = b, a
    return sum(v * b.get(t, 0.0) for t, v in a.items())


@dataclass
class StoryKeys:
    """What the linker knows of a story: its seed's keys, and what its members added (bounded)."""

    seed: Counter[str] = field(default_factory=Counter)
    grown: Counter[str] = field(default_factory=Counter)
    members: list[Counter[str]] = field(default_factory=list)  # the latest members' keys
    known: set[str] = field(default_factory=set)  # every key the analyst has been sent
    topics: set[str] = field(default_factory=set)
    first_seen: datetime | None = None  # the seed's date, when known
    last_seen: datetime | None = None
    earliest: datetime | None = None  # the earliest date of the seed or a member: the start of a dateless seed's story
    max_members: int = 30
    max_keys: int = 400
    version: int = 0  # one more at each add: the cached vectors of :meth:`sides` are then out of date
    _sides: tuple[tuple[int, int, int], tuple[KeySide, KeySide, list[KeySide]]] | None = \
        field(default=None, repr=False, compare=False)

    def sides(self, stats: TermStats) -> tuple[KeySide, KeySide, list[KeySide]]:
        """The seed's, the grown story's and the latest ten members' :class:`KeySide`, kept while the story does
        not change and the archive's frequencies barely do (exact in a replay, whose frequencies are fixed)."""
        cached = self._sides
        if cached is not None and cached[0][:2] == (self.version, id(stats)) and \
                abs(stats.docs - cached[0][2]) <= stats.docs // STALE:
            return cached[1]
        sides = (KeySide(self.seed, stats), KeySide(self.grown, stats), [KeySide(m, stats) for m in self.members[-10:]])
        self._sides = ((self.version, id(stats), stats.docs), sides)
        return sides

    def add(self, keys: Counter[str], when: datetime | None, seed: bool = False) -> None:
        self.version += 1
        if seed:
            self.seed.update(keys)
        self.grown.update(keys)
        if len(self.grown) > self.max_keys * 2:  # keep the heaviest keys only: bounded memory
            self.grown = Counter(dict(self.grown.most_common(self.max_keys)))
        if not seed:
            self.members.append(keys)
            del self.members[:-self.max_members]
        self.known.update(keys)
        if when is not None:
            self.last_seen = max(self.last_seen or when, when)
            self.earliest = min(self.earliest or when, when)


def _days(a: datetime | None, b: datetime | None) -> float:
    if a is None or b is None:
        return 0.0
    return (a - b).total_seconds() / 86400.0


def _log_days(days: float) -> float:
    return math.log1p(abs(days)) / math.log1p(365.0)


def pair_features(article: Counter[str] | KeySide, story: StoryKeys, stats: TermStats,
                  published: datetime | None = None, topics: Iterable[str] = (),
                  rivals: tuple[float, ...] | None = None,
                  hand: tuple[float, bool] | None = None,
                  meaning: tuple[float, float] | None = None) -> dict[str, float]:
    """The features of (article, story), see the module doc; every value lies in [0, 1]. ``article``: its keys, or
    their :class:`KeySide` when the article is compared with several stories; ``rivals``: the article's closest
    archived member of the story and closest other archived article (:mod:`alerts.linker_rivals`), and how close
    that rival itself came to the story (an article of the story the linker missed is no rival: ``rival_own``);
    ``hand``: the hand-written linker's name similarity and decision (:func:`alerts.stories.relate`); ``meaning``:
    the cosines of the article's sentence vector with the seed's and the story's (:mod:`alerts.linker_encoder`;
    ``None`` when the encoder cannot be used: those features are then absent, see :meth:`LinkModel.fitting`)."""
    side = article if isinstance(article, KeySide) else KeySide(article, stats)
    keys = side.keys
    seed, grown, members = story.sides(stats)
    terms = side.vector()
    out = {"cos_seed": cosine(terms, seed.vector()), "cos_story": cosine(terms, grown.vector())}
    out["cos_member"] = max([cosine(terms, m.vector()) for m in members] + [out["cos_seed"]])
    out["anchors"] = seed.covered_in(keys, ("", "@"), ANCHORS)
    out["own_anchors"] = side.covered_in(story.grown, ("", "@"), ANCHORS)
    out["seed_places"] = seed.covered_in(keys, ("@",), PLACES)
    out["own_places"] = side.covered_in(story.seed, ("@",), PLACES)
    out["both_anchors"] = math.sqrt(out["anchors"] * out["own_anchors"])  # the story's heaviest keys, and its own
    out["both_places"] = math.sqrt(out["seed_places"] * out["own_places"])
    # the three heaviest words of the seed in the article, and of the article in the seed: a report of another event
    # by the same actors shares the actors but not what the story is most about
    out["seed_top"] = seed.covered_in(keys, ("",), TOP)
    out["own_top"] = side.covered_in(story.seed, ("",), TOP)
    for name, kind in (("places", "@"), ("skeletons", "~"), ("names", "^")):
        out[name] = cosine(side.vector(kind), grown.vector(kind))
    out["facts"] = cosine(side.facts, grown.facts)
    wanted = set(story.topics)
    out["topics"] = len(wanted & set(topics)) / len(wanted) if wanted else 0.5
    since_seed = _days(published, story.first_seen)
    out["days_seed"] = min(1.0, abs(since_seed) / 365.0)  # linear: weeks later is still the story, years is not
    out["days_last"] = min(1.0, abs(_days(published, story.last_seen)) / 365.0)
    out["before_seed"] = 1.0 if since_seed < -2 else 0.0
    inside, outside, own = (*rivals, 0.0)[:3] if rivals is not None else (out["cos_member"], 0.0, 0.0)
    out["rival"] = outside
    out["rival_own"] = max(0.0, min(1.0, own))
    out["beats_rival"] = max(0.0, min(1.0, 0.5 + max(inside, out["cos_member"]) - outside))
    out["hand_names"], out["hand"] = (max(0.0, min(1.0, hand[0])), float(hand[1])) if hand else (0.0, 0.0)
    if meaning is not None:
        out["sem_seed"], out["sem_story"] = meaning
    return out


def _unit(counts: Mapping[str, float], stats: TermStats) -> dict[str, float]:
    vec = {t: (1.0 + math.log(c)) * stats.idf(t) for t, c in counts.items() if c > 0}
    norm = math.sqrt(sum(v * v for v in vec.values())) or 1.0
    return {t: v / norm for t, v in vec.items()}


def kind_features(analysis: Analysis, story: StoryKeys, stats: TermStats, published: datetime | None,
                  cos_seed: float) -> dict[str, float]:
    """What the article adds to the story: its share of keys, facts and places the analyst was not sent."""
    keys = analysis.keys
    plain = {t for t in keys if _kind(t) == ""}
    facts = analysis.facts()
    places = {t for t in keys if t[0] == "@"}

    def share(found: set[str]) -> float:
        weight = sum(stats.idf(t) for t in found) or 1.0
        return sum(stats.idf(t) for t in found if t not in story.known) / weight

    start = story.first_seen or story.earliest
    return {"days_seed": _log_days(_days(published, start)), "new_terms": share(plain),
            "new_facts": share(facts - places), "new_places": share(places), "cos_seed": cos_seed}


@dataclass(frozen=True)
class LinkModel:
    """Learned weights of the two decisions, and the probability above which an article joins a story."""

    link_weights: Mapping[str, float]
    link_bias: float
    kind_weights: Mapping[str, float]
    kind_bias: float
    threshold: float  # P(belongs) that links an article to a watched story
    index_threshold: float  # P(belongs) that joins an article to an every-article story
    trees: Trees | None = None  # boosted trees in place of the logistic link weights (alerts.linker_trees)
    learn_threshold: float | None = None  # P(belongs) on the seed alone to teach the story (None: threshold)
    fallback: LinkModel | None = None  # trees fitted without the meaning signal, for when the encoder cannot be used
    # (a, b, c): P(belongs) = logistic(a * the trees' log-odds + b * the hand-written decision + c), fitted on
    # held-out scores (benchmarks/fit_linker.py --stack); None: the trees' probability as it is
    stack: tuple[float, float, float] | None = None

    def fitting(self, features: Mapping[str, float]) -> LinkModel | None:
        """This model, or its :attr:`fallback` when the features lack the meaning signal (the encoder is off);
        ``None`` when neither reads only the features given."""
        if not self.needs_meaning or all(f in features for f in MEANING_FEATURES):
            return self
        return self.fallback

    @property
    def needs_meaning(self) -> bool:
        """Whether the link model reads the meaning signal (then the linker asks the encoder for it)."""
        names = self.trees.features if self.trees is not None else tuple(self.link_weights)
        return any(f in names for f in MEANING_FEATURES)

    @property
    def teaches(self) -> float:
        """The bar a member must clear on the story's seed alone to teach the story (never below the link's)."""
        return self.threshold if self.learn_threshold is None else max(self.threshold, self.learn_threshold)

    @classmethod
    def load(cls, path: Path = WEIGHTS_FILE) -> LinkModel:
        """Read a weights file; :class:`ModelFileError` names the file and what is wrong with it."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ModelFileError(f"{path}: cannot read the linker's weights ({exc})") from exc
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            found = data.get("format") if isinstance(data, dict) else type(data).__name__
            raise ModelFileError(f"{path}: linker weights of format {found!r}, this version reads {FORMAT!r}; "
                                 "rerun benchmarks/fit_linker.py")
        try:
            return cls.from_json(data)
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
            raise ModelFileError(f"{path}: malformed linker weights ({exc}); rerun benchmarks/fit_linker.py") \
                from exc

    @classmethod
    def from_json(cls, data: Any, features: tuple[str, ...] = LINK_FEATURES) -> LinkModel:
        """Raises ``KeyError``, ``TypeError``, ``ValueError``, ``IndexError`` or ``AttributeError`` when malformed."""
        link, kind = data["link"], data["kind"]
        trees = Trees.from_json(link["trees"]) if "trees" in link else None
        if set(trees.features if trees else link["weights"]) not in (set(features), set(BASE_FEATURES)) or \
                set(kind["weights"]) != set(KIND_FEATURES):
            raise KeyError("features differ from this version's")
        weights = {} if trees else {k: float(v) for k, v in link["weights"].items()}
        fallback = data.get("fallback")
        return cls(weights, float(link.get("bias", 0.0)),
                   {k: float(v) for k, v in kind["weights"].items()}, float(kind["bias"]),
                   float(data["threshold"]), float(data["index_threshold"]), trees,
                   None if data["learn_threshold"] is None else float(data["learn_threshold"]),
                   cls.from_json(fallback, BASE_FEATURES) if fallback is not None else None,
                   _stack(data.get("stack")))

    def as_json(self, **extra: object) -> dict[str, object]:
        link: dict[str, object] = {"trees": self.trees.as_json()} if self.trees else \
            {"weights": dict(self.link_weights), "bias": self.link_bias}
        fallback = {"fallback": {k: v for k, v in self.fallback.as_json().items() if k != "format"}} \
            if self.fallback is not None else {}
        return {"format": FORMAT, "threshold": self.threshold, "index_threshold": self.index_threshold,
                "learn_threshold": self.learn_threshold,
                "link": link, "kind": {"weights": dict(self.kind_weights), "bias": self.kind_bias}, **fallback,
                "stack": list(self.stack) if self.stack is not None else None, **extra}

    def belongs(self, features: Mapping[str, float]) -> float:
        return self.score(link_inputs(features))

    def score(self, inputs: Mapping[str, float]) -> float:
        """P(belongs) from inputs already transformed by :func:`link_inputs`."""
        if self.trees is not None:
            if self.stack is None:
                return self.trees.probability(inputs)
            a, b, c = self.stack
            return _sigmoid(a * self.trees.raw([inputs[f] for f in self.trees.features]) + b * inputs["hand"] + c)
        return _sigmoid(self.link_bias + sum(w * inputs[k] for k, w in self.link_weights.items()))

    def develops(self, features: Mapping[str, float]) -> float:
        return _sigmoid(self.kind_bias + sum(w * features[k] for k, w in self.kind_weights.items()))


def _stack(value: Any) -> tuple[float, float, float] | None:
    if value is None:
        return None
    a, b, c = (float(v) for v in value)
    return a, b, c


def link_inputs(features: Mapping[str, float]) -> dict[str, float]:
    """The pair's features as the link model takes them (as they are: a hook for transformed inputs)."""
    return dict(features)


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, x))))
