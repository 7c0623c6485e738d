"""Story relation: is an article part of a watched story, and is it the same report or a new development?

In: an article (title and text, publication time, fired topics) and a :class:`StoryProfile` (what the
story is about, and what the analyst was already sent). Out: a :class:`Relation`.

- **About the same story?** Stories are told through their names — places, people, organisations.
  The names of the article's lead (capitalised words not opening a sentence, first 400 words) are
  transliterated to Latin and cut to five letters, so that *Doha*, *Доха* and *Dohа*, *Kursk*,
  *Курской* and *Koursk*, *Qatar* and *Katar* meet across languages. Their TF-IDF cosine with the
  story's seed, against document frequencies of the archive, must reach ``related_threshold``; the
  article must be about the story's topics — all of them, or one of them when its names are very
  close (a battlefield report naming the same places is not a development of a negotiation) — and
  fall within ``window_days`` of the story's last member.
  At least three of the six names that weigh most in the seed (frequent in it, rare elsewhere) must
  appear; a country or city counts under its English name whatever the language (:mod:`alerts.gazetteer`).
- **Same report or new development?** A retelling comes within two days of the first report and
  announces nothing the analyst has not seen; a development either comes later or carries a word
  of development that is new to the story (denied, postponed, by video, resumed, revived... in seven
  languages). For the email, the lead sentences whose words are mostly new and the names, figures
  and dates not sent before are listed as *what is new*.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path

from wirewatch.alerts.gazetteer import place_names
from wirewatch.alerts.textkeys import lazy_split

from wirewatch.textnorm import WORD, fold

TOKEN = re.compile(r"\w+")
SENTENCE = re.compile(r"(?<=[.!?…])\s+|\n+")
NUMBER = re.compile(r"\b\d[\d.,]*\b")
LEAD_WORDS = 400  # news puts its facts first; comments and background further down only dilute
NAME_CHARS = 5
NAMES_KEPT = 20_000  # distinct words whose name keys are kept (about 4 MB when full)
ANCHORS, MIN_ANCHORS = 6, 3  # a related article names half of the six names that weigh most in the seed
CLOSE = 0.5  # an article this close in names needs only one of the story's topics, not all
SAME_REPORT_DAYS = 2  # a retelling comes within days; later coverage is a development
# words that announce a development of a reported event — a denial, a postponement, a move to video,
# a resumption — in English, Russian, Ukrainian, German, French, Spanish and Italian, as folded prefixes;
# they count when they open the article (title and first two sentences) and are new to the story
DEVELOPMENTS = ("deni", "deny", "refut", "dismiss", "postpon", "resched", "video", "online", "resum", "reviv",
                "restart", "опроверг", "отрица", "отлож", "перенес", "видео", "возобнов", "спростув", "заперечу",
                "відклад", "відео", "відновл", "dementi", "verschob", "verschieb", "dement", "visio", "repris",
                "relanc", "desment", "aplaz", "reanud", "smenti", "rinvi", "ripres")

STOPWORDS = frozenset("""
a about above after again against all also am an and any are as at be because been before being below between both
but by can could did do does doing down during each few for from further had has have having he her here hers him
his how i if in into is it its itself just may me might more most must my no nor not now of off on once only or
other our ours out over own said same says she should so some such than that the their theirs them then there
these they this those through to too under until up very was we were what when where which while who whom why will
with would you your yours according reported report reports told say saying week month year today yesterday new
one two three per cent percent mr ms its it's however also including amid since among around still monday tuesday
wednesday thursday friday saturday sunday
и в во не что он на я с со как а то все она так его но да ты к у же вы за бы по только ее мне было вот от меня
еще нет о из ему теперь когда даже ну вдруг ли если уже или ни быть был него до вас нибудь опять уж вам ведь там
потом себя ничего ей может они тут где есть надо ней для мы тебя их чем была сам чтоб без будто чего раз тоже себе
под будет ж тогда кто этот того потому этого какой совсем ним здесь этом один почти мой тем чтобы нее сейчас были
куда зачем всех никогда можно при наконец два об другой хоть после над больше тот через эти нас про всего них
какая много разве три эту моя впрочем хорошо свою этой перед иногда лучше чуть том нельзя такой им более всегда
конечно всю между это также як та що це не на до за від про для із але він вона вони ми ви його її їх був була
були буде є при після через також який яка які
der die das und in zu den von mit sich des auf für ist im dem nicht ein eine als auch es an werden aus er hat dass
sie nach wird bei einer um am sind noch wie einem über einen so zum war haben nur oder aber vor zur bis mehr durch
man sein wurde sei hatte kann gegen vom können schon wenn habe seine ihre dann unter wir soll ich eines jahr
le la les de des du un une et en à au aux que qui dans pour par sur pas plus ne se ce il elle ils est sont été
avec son sa ses leur leurs mais ou où comme aussi cette ces lui être avoir fait selon après avant entre
el los las del al por con para una uno su sus que como pero más il lo gli della delle dei per con che non una
""".split())

CYRILLIC = dict(zip("абвгдеёжзийклмнопрстуфхцчшщъыьэюяіїєґ",
                    ["a", "b", "v", "g", "d", "e", "e", "zh", "z", "i", "i", "k", "l", "m", "n", "o", "p", "r", "s",
                     "t", "u", "f", "h", "c", "ch", "sh", "sh", "", "y", "", "e", "yu", "ya", "i", "i", "e", "g"],
                    strict=True))
SPELLINGS = (("ou", "u"), ("q", "k"), ("w", "v"), ("ph", "f"), ("th", "t"), ("kh", "h"), ("j", "i"), ("y", "i"))


def latin_spelling(word: str) -> str:
    """A folded word in a rough Latin spelling: Курской → kurskoi, Koursk → kursk, Qatar → katar."""
    out = "".join(CYRILLIC.get(c, c) for c in fold(word))
    for a, b in SPELLINGS:
        out = out.replace(a, b)
    return out


def latin_key(word: str) -> str:
    """A word's Latin spelling cut to five letters, so that inflections meet: Курской, Koursk → kursk."""
    return latin_spelling(word)[:NAME_CHARS]


def sentences(text: str, limit: int = LEAD_WORDS) -> list[str]:
    out, count = [], 0
    for sent in lazy_split(SENTENCE, text):  # the lead only: a long text is not split to its end
        if not sent.strip():
            continue
        out.append(sent.strip())
        count += len(sent.split())
        if count >= limit:
            break
    return out


def names(text: str, limit: int = LEAD_WORDS) -> list[str]:
    """Name keys of the lead: capitalised words that do not open a sentence (see the module doc); a
    country or city named in another language takes the key of its English name (*Moskau* → *mosco*)."""
    out: list[str] = []
    count = 0
    for sent in sentences(text, limit):
        words = TOKEN.findall(sent)
        count += len(words)
        for word in words[1:]:
            if word[0].isupper() and (key := lead_name_key(word)) is not None:  # lower case: no name, not kept
                out.append(key)
        if count >= limit:
            break
    return out


@lru_cache(maxsize=NAMES_KEPT)
def lead_name_key(word: str) -> str | None:
    """The name key of a word not opening a sentence (see :func:`names`), or None if it is no name; the last
    :data:`NAMES_KEPT` distinct words' keys are kept, news repeating its names."""
    if len(word) < 4 or not word[0].isupper() or fold(word) in STOPWORDS:
        return None
    spelling = latin_spelling(word)
    return place_names(latin_spelling, NAME_CHARS).key(spelling, word) or spelling[:NAME_CHARS]


def terms(text: str, limit: int = LEAD_WORDS) -> list[str]:
    """Content words of the lead: folded, three letters or more, not a stop word, not a number."""
    words = WORD.findall(fold(text))[:limit]
    return [w for w in words if len(w) >= 3 and w not in STOPWORDS and not w.isdigit()]


@dataclass
class TermStats:
    """Document frequencies of name keys over the archive, updated as articles arrive.

    :meth:`with_background` starts from the name frequencies of a bundled background corpus (the
    classifier's bootstrap snippets, written for wirewatch), so that a young archive already knows
    that *Ukraine* and *Russia* are everywhere and *Doha* is not.
    """

    docs: int = 0
    df: Counter[str] = field(default_factory=Counter)

    @classmethod
    def with_background(cls) -> TermStats:
        data = json.loads((Path(__file__).parent / "data" / "background_names.json").read_text(encoding="utf-8"))
        return cls(int(data["docs"]), Counter({k: int(v) for k, v in data["df"].items()}))

    def add(self, text: str) -> None:
        self.add_names(set(names(text)))

    def add_names(self, found: Iterable[str]) -> None:
        """Count one document by its distinct name keys (what :meth:`add` finds in a text)."""
        self.docs += 1
        self.df.update(found)

    def idf(self, term: str) -> float:
        return math.log((self.docs + 1) / (self.df.get(term, 0) + 1)) + 1.0

    def vector(self, counts: Counter[str]) -> dict[str, float]:
        vec = {t: (1.0 + math.log(c)) * self.idf(t) for t, c in counts.items()}
        norm = math.sqrt(sum(v * v for v in vec.values())) or 1.0
        return {t: v / norm for t, v in vec.items()}


@dataclass
class StoryProfile:
    """A watched story: its seed's names and topics, and everything the analyst has been sent."""

    story_id: str
    name: str
    seed_names: Counter[str] = field(default_factory=Counter)
    topics: set[str] = field(default_factory=set)
    known_terms: set[str] = field(default_factory=set)
    known_facts: set[str] = field(default_factory=set)
    first_seen: datetime | None = None  # the seed's date: set by seed() only
    last_seen: datetime | None = None
    members: int = 0

    def seed(self, text: str, topics: Iterable[str] = (), when: datetime | None = None) -> None:
        """The report the story starts from. Without its date (a pasted text), the story has no start:
        developments are then recognised by their words only, never by their distance in time."""
        self.seed_names.update(names(text))
        self.topics.update(topics)
        self.first_seen = when
        self.learn(text, when)

    def learn(self, text: str, when: datetime | None = None) -> None:
        """Remember what the analyst now knows of the story (in whatever order articles arrive)."""
        self.known_terms.update(terms(text))
        self.known_facts.update(facts(text))
        self.members += 1
        if when is not None:
            self.last_seen = max(self.last_seen or when, when)


def facts(text: str) -> set[str]:
    """Names and figures of the lead, as comparable keys."""
    found = set(names(text))
    found.update(n.strip(".,") for n in NUMBER.findall(" ".join(sentences(text))) if len(n.strip(".,")) >= 2)
    return found


@dataclass(frozen=True)
class Relation:
    kind: str  # "same_report", "follow_up" or "unrelated"
    similarity: float
    reason: str = ""
    shared_names: tuple[str, ...] = ()
    new_sentences: tuple[str, ...] = ()
    new_facts: tuple[str, ...] = ()

    @property
    def related(self) -> bool:
        return self.kind != "unrelated"


def novelty(text: str, story: StoryProfile) -> tuple[list[str], list[str]]:
    """The lead sentences and the facts (names, figures, dates) the analyst has not been sent."""
    fresh_sentences = []
    for sent in sentences(text)[:12]:
        words = set(terms(sent))
        if len(words) >= 4 and len(words - story.known_terms) / len(words) > 0.5:
            fresh_sentences.append(sent)
    new_facts = sorted(facts(text) - story.known_facts)
    return fresh_sentences, new_facts


def relate(text: str, story: StoryProfile, stats: TermStats, related_threshold: float,
           published: datetime | None = None, topics: Iterable[str] = (), window_days: float = 120.0) -> Relation:
    """How ``text`` relates to ``story`` (see the module doc for the rules)."""
    counts = Counter(names(text))
    if not counts or not story.seed_names:
        return Relation("unrelated", 0.0, "no names to compare")
    a, s = stats.vector(counts), stats.vector(story.seed_names)
    similarity = round(sum(v * s.get(t, 0.0) for t, v in a.items()), 4)
    shared = tuple(sorted((t for t in a if t in s), key=lambda t: -a[t] * s[t])[:8])
    if similarity < related_threshold:
        return Relation("unrelated", similarity, "names differ", shared)
    topics = set(topics)
    if story.topics and not story.topics <= topics and not (story.topics & topics and similarity >= CLOSE):
        return Relation("unrelated", similarity, "not about all of the story's topics", shared)
    if published is not None and story.last_seen is not None:
        if published - story.last_seen > timedelta(days=window_days):
            return Relation("unrelated", similarity, f"more than {window_days:g} days after the story's last news",
                            shared)
        if story.first_seen is not None and story.first_seen - published > timedelta(days=30):
            return Relation("unrelated", similarity, "published long before the story began", shared)
    anchors = sorted(s, key=lambda t: -s[t])[:ANCHORS]
    if sum(1 for t in anchors if t in a) < MIN_ANCHORS:
        return Relation("unrelated", similarity, "shares too few of the story's key names", shared)
    fresh, new_facts = novelty(text, story)
    opening = " ".join(sentences(text)[:3])  # the title line and the first two sentences
    cues = sorted({t for t in terms(opening) if t.startswith(DEVELOPMENTS) and t not in story.known_terms})
    late = published is not None and story.first_seen is not None and \
        published - story.first_seen > timedelta(days=SAME_REPORT_DAYS)
    if late or cues:
        reason = f"new development: {', '.join(cues[:3])}" if cues else \
            f"{(published - story.first_seen).days} days after the first report"  # type: ignore[operator]
        return Relation("follow_up", similarity, reason, shared, tuple(fresh[:3]), tuple(new_facts[:10]))
    return Relation("same_report", similarity, "the same report retold", shared, tuple(fresh[:3]),
                    tuple(new_facts[:10]))
