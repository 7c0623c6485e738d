"""What an article is about, as comparable keys, in any script: the input of the story linker.

In: an article's text (title on the first line, then the body). Out: an :class:`Analysis` — a
:class:`~collections.Counter` of keys of its title and lead, the way the article writes each key
(for what people read), its lead sentences, and its figures and dates.

Keys meet across languages and scripts without relying on capital letters:

- **terms**: every word of the title (counted twice: it says what the story is) and of the first
  :data:`LEAD_WORDS` words, transliterated to Latin letters (``anyascii``), case- and accent-folded,
  spelled roughly (``ou``→``u``, ``q``→``k``...), cut to :data:`KEY_CHARS` letters so that
  inflections meet (*Курской*, *Koursk* → ``kursk``); stop words of 50 languages (``stopwordsiso``)
  are left out. Rare terms are the names: the linker weighs keys by IDF, not by case.
- ``@`` **places**: a country or city named in any of the gazetteer's languages takes the key of its
  English name (*Moskau*, *Москве*, *موسكو* → ``@moscov``), see :mod:`alerts.gazetteer`.
- ``^`` **names**: words written with a capital that do not open a sentence (where the script has capitals),
  cut to five letters.
- ``~`` **skeletons**: the consonants of a long word (``pashinyan``, Arabic ``bshynyn`` → ``~bsnn``), so
  that names written without vowels (Arabic, Hebrew) meet their Latin spelling.
- ``#`` **figures** (two digits or more) and ``%`` **dates** (a month named in any CLDR language, with
  its day when one stands beside it: ``%08``, ``%08-17``).

Scripts written without spaces (Thai, Lao, Khmer, Burmese, CJK) are cut into overlapping
transliterated pieces. The work is bounded: only the first :data:`MAX_CHARS` characters are read.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cache, lru_cache

from anyascii import anyascii
from wirewatch.alerts.gazetteer import UNSPACED, PlaceNames, month_numbers, places_in_any_script

# word characters plus the combining vowel signs of Indic, Thai, Lao, Burmese and Khmer letters, Arabic and
# Hebrew points (\w alone would cut पाकिस्तान or กัมพูชา at every vowel sign)
TOKEN = re.compile(r"[\w\u0300-\u036f\u0483-\u0489\u0591-\u05c7\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed"
                   r"\u0900-\u0dff\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff]+")
SENTENCE = re.compile(r"(?<=[.!?…।።])\s+|\n+")
MAX_CHARS = 20_000  # an article of 5 MB costs no more than its first pages
LEAD_WORDS = 250  # news puts its facts first; comments and background further down only dilute
KEY_CHARS = 6
SPELLINGS = (("ou", "u"), ("q", "k"), ("w", "v"), ("ph", "f"), ("th", "t"), ("kh", "h"), ("j", "i"), ("y", "i"),
             ("c", "k"), ("x", "ks"))
SKELETON = str.maketrans({"p": "b", "v": "f", "k": "q", "c": "q", "g": "q", "z": "s", "j": "i", "x": "s", "d": "t"})
VOWELS = re.compile(r"[aeiouyhw'\W\d_]+")
PIECE = 5
WORDS_KEPT = 20_000  # distinct words whose keys an Analyser keeps (about 8 MB when full)
STOP_LANGUAGES = ("en", "fr", "de", "es", "it", "pt", "nl", "pl", "ru", "uk", "bg", "cs", "ro", "hu", "tr", "ar",
                  "fa", "ur", "hi", "bn", "he", "el", "id", "ms", "sv", "da", "no", "fi", "hr", "sk", "sl", "lt",
                  "lv", "et", "hy", "th", "vi", "ca", "gl", "eu", "mr", "gu", "tl", "sw", "zh", "ja", "ko")
EXTRA_STOPS = ("said", "says", "told", "according", "reported", "report", "reports", "news", "year", "years",
               "week", "weeks", "month", "months", "day", "days", "today", "yesterday", "tomorrow", "monday",
               "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "also", "would", "could")


@cache
def stop_words() -> frozenset[str]:
    """Stop words of :data:`STOP_LANGUAGES`, folded and transliterated as keys are (built once per process)."""
    import stopwordsiso

    words = set(stopwordsiso.stopwords(list(STOP_LANGUAGES))) | set(EXTRA_STOPS)
    return frozenset({fold_word(w) for w in words} | {spelling(w) for w in words})


def fold_word(word: str) -> str:
    return unicodedata.normalize("NFKC", word.casefold())


def spelling(word: str) -> str:
    """A word in a rough Latin spelling, lower case, letters and digits only: Курской → kurskoi, Qatar → katar."""
    out = word.lower() if word.isascii() else anyascii(word).lower()
    out = "".join(ch for ch in out if ch.isalnum())
    for a, b in SPELLINGS:
        out = out.replace(a, b)
    return out


def skeleton(latin: str) -> str:
    """The consonants of a Latin spelling, with near sounds merged: pashinian, bshinin → bsnn."""
    return VOWELS.sub("", latin.replace("sh", "s").replace("ch", "s").replace("kh", "h")).translate(SKELETON)


def unspaced(word: str) -> bool:
    return len(word) > 6 and any(s in unicodedata.name(word[0], "") for s in UNSPACED)


def sentences(text: str, limit: int = LEAD_WORDS) -> list[str]:
    """The first sentences of ``text`` (the title line is one), up to ``limit`` words."""
    out, count = [], 0
    for sent in lazy_split(SENTENCE, text[:MAX_CHARS]):
        sent = sent.strip()
        if not sent:
            continue
        out.append(sent)
        count += len(sent.split())
        if count >= limit:
            break
    return out


def lazy_split(pattern: re.Pattern[str], text: str) -> Iterator[str]:
    """``pattern.split(text)`` one piece at a time, so that reading the lead does not split the whole text
    (for a pattern without groups whose every match is at least one character long)."""
    start = 0
    for match in pattern.finditer(text):
        yield text[start:match.start()]
        start = match.end()
    yield text[start:]


@dataclass
class Analysis:
    """An article as the linker sees it (see the module doc)."""

    keys: Counter[str] = field(default_factory=Counter)
    surface: dict[str, str] = field(default_factory=dict)  # key -> the word as the article writes it
    sentences: list[str] = field(default_factory=list)
    words: int = 0

    def facts(self) -> set[str]:
        """Keys of names, places, figures and dates: what a follow-up adds or a retelling repeats."""
        return {k for k in self.keys if k[0] in "@#%"}


# what one word adds, whatever its neighbours: the keys before its name key and their surfaces, its name key
# (added where the word is written as a name), the keys after, and its month number (0: not a month); None for
# a word of a script without spaces (cut into pieces each time: such runs are long and seldom repeated)
WordKeys = tuple[tuple[tuple[str, str], ...], str | None, tuple[tuple[str, str], ...], int]


@dataclass(frozen=True)
class Analyser:
    """Turns texts into :class:`Analysis` objects; holds the place and month tables (build it once per process).

    What a word adds is worked out once and kept for the next :data:`WORDS_KEPT` distinct words (an LRU):
    news repeats its words, so most of the per-word work (transliteration, stop words, places) is a look-up.
    """

    places: PlaceNames
    months: dict[str, int]
    stops: frozenset[str]
    words_kept: int = 0  # 0: WORDS_KEPT
    _word_keys: Callable[[str], WordKeys | None] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_word_keys", lru_cache(maxsize=self.words_kept or WORDS_KEPT)(self._keys_of))

    @classmethod
    def default(cls) -> Analyser:
        return _default_analyser()

    def analyse(self, text: str, limit: int = LEAD_WORDS) -> Analysis:
        out = Analysis()
        out.sentences = sentences(text, limit)
        keys, surface, word_keys = out.keys, out.surface, self._word_keys
        count, most = keys.get, limit * 2
        words = 0
        for n, sent in enumerate(out.sentences):
            weight = 2 if n == 0 else 1
            previous = ""
            for i, word in enumerate(TOKEN.findall(sent)):
                words += 1
                if words > most:
                    break
                found = word_keys(word)
                if found is None:
                    self._pieces(word, weight, out)
                    previous = word
                    continue
                head, name, tail, month = found
                if month:
                    self._add(out, f"%{month:02d}", word, weight)
                    if previous.isdecimal() and 1 <= int(previous) <= 31:
                        self._add(out, f"%{month:02d}-{int(previous):02d}", f"{previous} {word}", weight)
                    previous = word
                    continue
                for key, written in head:
                    keys[key] = count(key, 0) + weight
                    surface.setdefault(key, written)
                if name is not None and i > 0 and word[0].isupper():
                    keys[name] = count(name, 0) + weight
                    surface.setdefault(name, word)
                for key, written in tail:
                    keys[key] = count(key, 0) + weight
                    surface.setdefault(key, written)
                previous = word
        out.words = words
        return out

    def _keys_of(self, word: str) -> WordKeys | None:
        """What ``word`` adds (see :data:`WordKeys`): a figure, a month, or its term, place, name and skeleton."""
        if word.isdigit():
            return (((f"#{word.lstrip('0') or '0'}", word),) if len(word) >= 2 else ()), None, (), 0
        latin = spelling(word)
        month = self.months.get(latin)  # before the runs without spaces: Thai writes its months as words
        if month is not None:
            return (), None, (), month
        if unspaced(word):
            return None
        folded = fold_word(word)
        if len(folded) < 3 or len(latin) < 3 or folded in self.stops or latin in self.stops:
            return (), None, (), 0
        place = self.places.key(latin, word)
        head = ((f"@{place}", word), (latin[:KEY_CHARS], word)) if place is not None else ((latin[:KEY_CHARS], word),)
        bones = skeleton(latin)
        tail = ((f"~{bones[:5]}", word),) if len(latin) >= 5 and len(bones) >= 3 else ()
        return head, f"^{latin[:5]}" if len(latin) >= 4 else None, tail, 0

    def _pieces(self, word: str, weight: int, out: Analysis) -> None:
        for name, key in self.places.within(word[:600]):
            self._add(out, f"@{key}", name, weight)
        latin = spelling(word)[:600]
        for i in range(0, max(1, len(latin) - PIECE + 1), 2):
            self._add(out, latin[i:i + PIECE], word, weight)

    @staticmethod
    def _add(out: Analysis, key: str, word: str, weight: int) -> None:
        out.keys[key] += weight
        out.surface.setdefault(key, word)


@cache
def _default_analyser() -> Analyser:
    return Analyser(places_in_any_script(spelling, KEY_CHARS), month_numbers(spelling), stop_words())
