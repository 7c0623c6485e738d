"""Story relation: is an article about a watched story, and is it the same report or a new development?

In: an article's text and a story profile (the seed plus the articles already linked). Out: a
:class:`Relation` with the cosine similarity of their TF-IDF term vectors, the share of word
4-gram shingles the article has in common with its closest member, and the key terms the article
brings that the story did not have yet. Only the lead (first 400 words) is compared: a report's
facts come first, and reader comments or background paragraphs further down only dilute it.

Document frequencies come from the archive (:class:`TermStats`, updated online), so that words
every article uses weigh little and names such as "Doha" or "Kursk" weigh much.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

WORD = re.compile(r"\w+(?:['’]\w+)*")
LEAD_WORDS = 400  # news puts its facts first; comments and background further down only dilute

STOPWORDS = frozenset("""
a about above after again against all also am an and any are as at be because been before being below between both
but by can could did do does doing down during each few for from further had has have having he her here hers him
his how i if in into is it its itself just may me might more most must my no nor not now of off on once only or
other our ours out over own said same says she should so some such than that the their theirs them then there
these they this those through to too under until up very was we were what when where which while who whom why will
with would you your yours according reported report reports told say saying week month year today yesterday new
one two three per cent percent mr ms its it's however also including amid since among around still
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
""".split())


def fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold().replace("’", "'"))
    return unicodedata.normalize("NFKC", "".join(c for c in decomposed if not unicodedata.combining(c)))


def terms(text: str, limit: int = LEAD_WORDS) -> list[str]:
    """Content words of the lead: folded, three letters or more, not a stop word, not a number."""
    words = WORD.findall(fold(text))[:limit]
    return [w for w in words if len(w) >= 3 and w not in STOPWORDS and not w.isdigit()]


def shingles(text: str, n: int = 4) -> set[int]:
    words = WORD.findall(fold(text))
    return {hash(tuple(words[i:i + n])) for i in range(max(0, len(words) - n + 1))}


@dataclass
class TermStats:
    """Document frequencies over the archive, updated as articles arrive."""

    docs: int = 0
    df: Counter[str] = field(default_factory=Counter)

    def add(self, text: str) -> None:
        self.docs += 1
        self.df.update(set(terms(text)))

    def idf(self, term: str) -> float:
        return math.log((self.docs + 1) / (self.df.get(term, 0) + 1)) + 1.0

    def vector(self, counts: Counter[str]) -> dict[str, float]:
        vec = {t: (1.0 + math.log(c)) * self.idf(t) for t, c in counts.items()}
        norm = math.sqrt(sum(v * v for v in vec.values())) or 1.0
        return {t: v / norm for t, v in vec.items()}


@dataclass
class StoryProfile:
    """What the analyst already knows of a story: its texts' terms and shingles."""

    story_id: str
    name: str
    counts: Counter[str] = field(default_factory=Counter)
    member_shingles: list[set[int]] = field(default_factory=list)
    members: int = 0

    def add(self, text: str) -> None:
        self.counts.update(terms(text))
        self.member_shingles.append(shingles(text))
        self.members += 1


@dataclass(frozen=True)
class Relation:
    kind: str  # "same_report", "follow_up" or "unrelated"
    similarity: float
    overlap: float
    shared_terms: tuple[str, ...]
    new_terms: tuple[str, ...]

    @property
    def related(self) -> bool:
        return self.kind != "unrelated"


def relate(text: str, story: StoryProfile, stats: TermStats, related_threshold: float,
           duplicate_threshold: float) -> Relation:
    """How ``text`` relates to ``story``: cosine of TF-IDF vectors, shingle overlap, new key terms."""
    counts = Counter(terms(text))
    if not counts or not story.counts:
        return Relation("unrelated", 0.0, 0.0, (), ())
    a, s = stats.vector(counts), stats.vector(story.counts)
    similarity = sum(v * s.get(t, 0.0) for t, v in a.items())
    own = shingles(text)
    overlap = max((len(own & m) / max(1, min(len(own), len(m))) for m in story.member_shingles), default=0.0)
    shared = sorted((t for t in a if t in s), key=lambda t: -a[t] * s[t])[:8]
    new = sorted((t for t in a if t not in story.counts), key=lambda t: -a[t])[:8]
    if overlap >= duplicate_threshold:
        kind = "same_report"
    elif similarity >= related_threshold:
        kind = "follow_up"
    else:
        kind = "unrelated"
    return Relation(kind, round(similarity, 4), round(overlap, 4), tuple(shared), tuple(new))


def profile_from(story_id: str, name: str, texts: Iterable[str]) -> StoryProfile:
    profile = StoryProfile(story_id, name)
    for text in texts:
        profile.add(text)
    return profile
