"""Place names across languages: *Russland*, *Россия*, *Rusia* and *Russia* are one name.

In: nothing (the CLDR locale data that ships with babel). Out: :func:`place_names`, which knows the
stem of each country and major city as it is written in the topic pack's languages, and gives for a
word that is one of them, inflected or not, the name key of its English name
(see :func:`alerts.stories.latin_key`); :func:`places_in_any_script`, the same over 35 languages in every
script (Arabic, Hebrew, Devanagari, Thai...), English names included, for :mod:`alerts.textkeys`;
and :func:`month_numbers`, each month's name in those languages → its number.

Transliteration alone makes *Курск* meet *Kursk*, but not *Moskau* meet *Moscow* or *Katar* meet
*Catar*: those are different words for one place. CLDR, the Unicode locale data that babel
carries, names every country and every time-zone city in each language, so the table is built
from there at first use, not written by hand. A key claimed by two different places (a short
stem shared by two names) is left out rather than guessed. What a word must be to match, so that a
common word is not taken for a place (*parties* for Perth, Armenian *նախարար* "minister" for Harare):

- **the script of the name**: a stem matches only words of the script its local name is written in
  (transliteration is checked both ways: the word's Latin spelling is the stem, and the word is of the
  name's script); a word of a script no locale names places in matches the Latin stems only whole;
- **a short ending**, at most :data:`MAX_ENDING` letters and at most the stem's length less
  :data:`ENDING_ROOM` (a four-letter stem takes one letter, *Iran-a*; *Kazakov* is not *Kazakhstan*);
- **a prefix** only in scripts that write conjunctions, articles and prepositions onto the word, made of
  those clitics' letters (:data:`PREFIXED`: Arabic و+إسرائيل, Hebrew ב+ירושלים); these scripts write no short
  vowels, so a stem of four consonants there takes no ending but a vowel (أوكرانيا, not العريضة for Riyadh);
- **a capital** where the script writes names with one (decided from the locales' own names): a word in
  lower case matches only a stem of :data:`LONG_STEM` letters or more with an ending (an adjective,
  *malaisien*, *azerbaiyana*), never a name that CLDR gives in English only (English writes its adjectives
  of places with a capital: *resolution* is not Resolute);
- in **scripts without spaces** (Thai, CJK...) names are found as written, inside the run of text, the
  longest first, not in its transliteration.
"""
from __future__ import annotations

import unicodedata
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from types import MappingProxyType

from anyascii import anyascii

# the languages of ALL_LANGUAGES whose scripts write names with a capital (Latin, Cyrillic, Greek, Armenian), for the
# hand-written linker, which finds names by their capitals (Arabic has none to find names by)
LANGUAGES = ("de", "fr", "es", "it", "pt", "nl", "pl", "cs", "ro", "hu", "sv", "tr", "az", "id", "ru", "uk", "bg",
             "sr", "el", "hy")
MAX_ENDING = 3  # letters an inflected form may add to a name's stem: Russland-s, Росси-и, Kyjow-a
ENDING_ROOM = 3  # a name of n letters takes at most n - 3 letters of ending (Iran: one, Irana; Russia: three)
LONG_STEM = 6  # a word in lower case (where names take a capital) matches only stems this long
# every script the topic pack and the stories-dev languages are written in (for the learned linker's keys)
ALL_LANGUAGES = ("en", "de", "fr", "es", "it", "pt", "nl", "pl", "cs", "ro", "hu", "sv", "tr", "az", "id", "ru", "uk",
                 "bg", "sr", "el", "hy", "ka", "ar", "fa", "ur", "he", "hi", "bn", "gu", "ta", "th", "vi", "zh", "ja",
                 "ko")
MAX_PREFIX = 2  # letters a word in another script may carry before the name: و+إسرائيل (w-isra'il)
# scripts that write their clitics (and, or, the, in, to) onto the next word, and the letters those clitics are
# made of; they are also abjads (no vowels written), so a stem of MIN_STEM letters there matches a whole word only
PREFIXED = {"ARABIC": frozenset("وبلفكاأ"), "HEBREW": frozenset("והבלמשכ")}
UNSPACED = ("THAI", "LAO", "KHMER", "MYANMAR", "CJK", "HIRAGANA", "KATAKANA", "HANGUL", "TIBETAN")
MIN_STEM = 4
NATIVE_MIN = 5  # letters of a name found inside a run without spaces (shorter ones are as often a longer word's)
LATIN = "LATIN"


def script(word: str) -> str:
    """The script of a word's first letter, as Unicode names it (LATIN, CYRILLIC, ARMENIAN, THAI...)."""
    for ch in word:
        if ch.isalpha():
            return unicodedata.name(ch, LATIN).split(" ", 1)[0]
    return LATIN


def _clitic(word: str, letters: int, clitics: frozenset[str] | None) -> bool:
    """Whether the letters of ``word`` that spell its first ``letters`` Latin letters are all clitics' letters."""
    if not clitics:
        return False
    for end in range(1, len(word)):
        if word[end - 1] not in clitics:
            return False
        if len(raw(word[:end])) >= letters:
            return True
    return False


def _single_word(name: str) -> str | None:
    words = name.replace("-", " ").split()
    return words[0] if len(words) == 1 and len(words[0]) >= 4 else None


@dataclass(frozen=True)
class Match:
    """How a word met a place: the place's key, the stem it met, the letters before and after it."""

    key: str
    stem: str
    prefix: int
    ending: int


@dataclass(frozen=True)
class Stem:
    """A stem of the table: the place's key, the ending it may take, and the name's own letters (ASCII, not
    respelled) cut as the stem is, for the check back (:meth:`PlaceNames.match`)."""

    key: str
    room: int
    raws: tuple[str, ...]


def raw(word: str) -> str:
    """A word's letters in plain ASCII, lower case, with none of the rough respelling (Kılıç → kilic, Çili →
    cili): what the check back compares."""
    return "".join(ch for ch in anyascii(word).lower() if ch.isalnum())


@dataclass(frozen=True)
class PlaceNames:
    """Stems of place names in other languages, by the script of the name, each with the name key of its
    English name; the scripts that write names with a capital; names as written in scripts without spaces."""

    stems: Mapping[str, Mapping[str, Stem]]  # script -> stem (Latin spelling) -> its key and limits
    capitalised: frozenset[str]
    english_only: frozenset[str]  # Latin stems no other language gave
    # names as a script without spaces writes them, by their first two letters, the longest first -> their key
    native: Mapping[str, tuple[tuple[str, str], ...]]

    def key(self, spelling: str, word: str | None = None) -> str | None:
        """The English name key of ``word`` (its Latin spelling ``spelling``) if it is a form of a known place
        (see the module doc); ``word`` None: a capitalised word in Latin letters."""
        found = self.match(spelling, word)
        return found.key if found is not None else None

    def match(self, spelling: str, word: str | None = None) -> Match | None:
        """As :meth:`key`, with the stem it met and the prefix and ending around it."""
        written = script(word) if word else LATIN
        table = self.stems.get(written)
        whole = table is None  # a script no locale names places in: the Latin stems, whole words only
        if table is None:
            table = self.stems.get(LATIN, {})
        lower = word is not None and written in self.capitalised and word[0].islower()
        clitics = PREFIXED.get(written)
        prefixes = MAX_PREFIX if clitics is not None and word and word[0] in clitics else 0
        letters = raw(word) if word else spelling
        for start in range(1 + max(0, min(prefixes, len(spelling) - MIN_STEM))):
            if start and word and not _clitic(word, start, clitics):
                break
            rest = spelling[start:]
            for cut in range(min(MAX_ENDING, len(rest) - MIN_STEM) + 1):
                stem = rest[:len(rest) - cut]
                found = table.get(stem)
                if found is None or cut > found.room or (whole and cut):
                    continue
                if clitics is not None and len(stem) <= MIN_STEM and rest[len(stem):].strip("aeiouy"):
                    continue  # four consonants and more than a vowel: as often another word (العريضة)
                if lower and (len(stem) < LONG_STEM or not cut or stem in self.english_only):
                    continue
                if not whole and not any(letters.startswith(r, at) for r in found.raws
                                         for at in range(1 + min(prefixes, len(letters)))):
                    continue  # the respelling met, the word's own letters do not: Kılıç is not Çili
                return Match(found.key, stem, start, cut)
        return None

    def within(self, text: str) -> Iterator[tuple[str, str]]:
        """Places named as written in ``text`` (a run of a script without spaces), read from left to right,
        the longest name where several start at one letter: (the name, its key)."""
        native, at, end = self.native, 0, len(text) - 1
        while at < end:
            for name, key in native.get(text[at:at + 2], ()):
                if text.startswith(name, at):
                    yield name, key
                    at += len(name) - 1
                    break
            at += 1


@cache
def place_names(spelling: Callable[[str], str], key_chars: int) -> PlaceNames:
    """Countries and time-zone cities of CLDR in :data:`LANGUAGES`, built once per process.

    ``spelling`` turns a word into its Latin spelling; the English name's key is that spelling cut to
    ``key_chars`` letters. A stem is the local spelling without its final vowels (*Rossiia* → *ross*
    is too short and kept whole; *Moskva* → *moskv*), at least four letters long.
    """
    return _places(spelling, key_chars, LANGUAGES, False)


@cache
def places_in_any_script(spelling: Callable[[str], str], key_chars: int) -> PlaceNames:
    """As :func:`place_names` over :data:`ALL_LANGUAGES`, and English spellings map to their own key too."""
    return _places(spelling, key_chars, ALL_LANGUAGES, True)


def _remembered(spelling: Callable[[str], str]) -> Callable[[str], str]:
    """``spelling`` with its answers kept, for the length of one table's build."""
    known: dict[str, str] = {}

    def spell(word: str) -> str:
        found = known.get(word)
        if found is None:
            found = known[word] = spelling(word)
        return found
    return spell


def _places(spelling: Callable[[str], str], key_chars: int, languages: tuple[str, ...], same: bool) -> PlaceNames:
    from babel import Locale

    english = Locale("en")
    locales = [(lang, Locale(lang)) for lang in languages]
    claims: dict[tuple[str, str], set[str]] = defaultdict(set)
    rooms: dict[tuple[str, str], int] = defaultdict(int)
    raws: dict[tuple[str, str], set[str]] = defaultdict(set)
    givers: dict[str, set[str]] = defaultdict(set)  # a Latin stem -> the languages that gave it
    natives: dict[str, set[str]] = defaultdict(set)
    capitals: Counter[str] = Counter()
    spelling = _remembered(spelling)  # an English name is spelled once, not once per language

    def claim(lang: str, local: str | None, canonical: str | None) -> None:
        if not local or not canonical:
            return
        target = spelling(canonical)[:key_chars]
        written = script(local)
        capitals[written] += 1 if local[0].isupper() else -1
        if written in UNSPACED:
            if target and len(local) >= NATIVE_MIN:
                natives[unicodedata.normalize("NFC", local)].add(target)
            return
        local_spelling = spelling(local)
        stem = local_spelling.rstrip("aeiouy")
        stem = stem if len(stem) >= 4 else local_spelling
        if target and (stem[:key_chars] != target or (same and len(stem) >= MIN_STEM)):
            claims[written, stem].add(target)
            rooms[written, stem] = max(rooms[written, stem], min(MAX_ENDING, len(local_spelling) - ENDING_ROOM))
            letters = raw(local)
            bare = letters.rstrip("aeiouy")
            raws[written, stem].add(bare if len(bare) >= 3 else letters)
            if written == LATIN:
                givers[stem].add(lang)

    for code, name in english.territories.items():
        if code.isalpha() and len(code) == 2:
            for lang, loc in locales:
                claim(lang, _single_word(loc.territories.get(code, "")), _single_word(name))
    for zone in sorted(set().union(*(loc.time_zones.keys() for _, loc in locales))):
        city_en = english.time_zones.get(zone, {}).get("city") or zone.rsplit("/", 1)[-1].replace("_", " ")
        for lang, loc in locales:
            local = loc.time_zones.get(zone, {}).get("city") or (city_en if lang == "en" else "")
            claim(lang, _single_word(local), _single_word(city_en))
    tables: dict[str, dict[str, Stem]] = defaultdict(dict)
    for (written, stem), targets in claims.items():
        if len(targets) == 1:
            tables[written][stem] = Stem(next(iter(targets)), rooms[written, stem], tuple(sorted(raws[written, stem])))
    native: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for name, targets in sorted(natives.items(), key=lambda item: -len(item[0])):
        if len(targets) == 1:
            native[name[:2]].append((name, next(iter(targets))))
    return PlaceNames(MappingProxyType({k: MappingProxyType(v) for k, v in tables.items()}),
                      frozenset(k for k, n in capitals.items() if n > 0),
                      frozenset(s for s, g in givers.items() if g <= {"en"}),
                      MappingProxyType({k: tuple(v) for k, v in native.items()}))


@cache
def month_numbers(spelling: Callable[[str], str]) -> dict[str, int]:
    """Each month's wide and abbreviated names (four letters or more) in :data:`ALL_LANGUAGES` → its number;
    a spelling claimed by two months is left out."""
    from babel import Locale

    claims: dict[str, set[int]] = defaultdict(set)
    spelling = _remembered(spelling)
    for lang in ALL_LANGUAGES:
        months = Locale(lang).months
        for context in ("format", "stand-alone"):
            for width in ("wide", "abbreviated"):
                for number, name in months.get(context, {}).get(width, {}).items():
                    word = spelling(name)
                    if len(word) >= 4 and " " not in name:
                        claims[word].add(int(number))
    return {w: next(iter(n)) for w, n in claims.items() if len(n) == 1}
