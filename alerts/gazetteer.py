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
stem shared by two names) is left out rather than guessed, and a word must be the whole name plus at
most a short ending, so that the surname *Kazakov* is not taken for *Kazakhstan*.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from types import MappingProxyType

# the languages of the topic pack written in Latin or Cyrillic letters (Arabic has no capitals to find names by)
LANGUAGES = ("de", "fr", "es", "it", "pt", "pl", "id", "ru", "uk", "bg")
MAX_ENDING = 3  # letters an inflected form may add to a name's stem: Russland-s, Росси-и, Kyjow-a
# every script the topic pack and the stories-dev languages are written in (for the learned linker's keys)
ALL_LANGUAGES = ("en", "de", "fr", "es", "it", "pt", "nl", "pl", "cs", "ro", "hu", "sv", "tr", "az", "id", "ru", "uk",
                 "bg", "sr", "el", "hy", "ka", "ar", "fa", "ur", "he", "hi", "bn", "gu", "ta", "th", "vi", "zh", "ja",
                 "ko")
MAX_PREFIX = 2  # letters a word in another script may carry before the name: و+إسرائيل (w-isra'il)
MIN_STEM = 4


def _single_word(name: str) -> str | None:
    words = name.replace("-", " ").split()
    return words[0] if len(words) == 1 and len(words[0]) >= 4 else None


@dataclass(frozen=True)
class PlaceNames:
    """Stems of place names in other languages, each with the name key of its English name."""

    stems: Mapping[str, str]

    def key(self, spelling: str, latin_script: bool = True) -> str | None:
        """The English name key of a word (in Latin spelling) that is an inflected form of a known place; a
        word of another script may also carry a short prefix (Arabic *و*, *ال*, *ب*: "and", "the", "in")."""
        for start in range(1 + (0 if latin_script else max(0, min(MAX_PREFIX, len(spelling) - MIN_STEM)))):
            word = spelling[start:]
            for cut in range(min(MAX_ENDING, len(word) - MIN_STEM) + 1):
                found = self.stems.get(word[:len(word) - cut])
                if found is not None:
                    return found
        return None

    def within(self, text: str) -> Iterator[tuple[str, str]]:
        """Places whose stem (five letters or more) occurs anywhere in ``text``: for scripts without spaces."""
        for stem, key in self.stems.items():
            if len(stem) >= 5 and stem in text:
                yield stem, key


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
    locales = [Locale(lang) for lang in languages]
    claims: dict[str, set[str]] = defaultdict(set)
    spelling = _remembered(spelling)  # an English name is spelled once, not once per language

    def claim(local: str | None, canonical: str | None) -> None:
        if not local or not canonical:
            return
        target = spelling(canonical)[:key_chars]
        local_spelling = spelling(local)
        stem = local_spelling.rstrip("aeiouy")
        stem = stem if len(stem) >= 4 else local_spelling
        if target and (stem[:key_chars] != target or (same and len(stem) >= MIN_STEM)):
            claims[stem].add(target)

    for code, name in english.territories.items():
        if code.isalpha() and len(code) == 2:
            for loc in locales:
                claim(_single_word(loc.territories.get(code, "")), _single_word(name))
    for zone in sorted(set().union(*(loc.time_zones.keys() for loc in locales))):
        city_en = english.time_zones.get(zone, {}).get("city") or zone.rsplit("/", 1)[-1].replace("_", " ")
        for loc in locales:
            claim(_single_word(loc.time_zones.get(zone, {}).get("city") or ""), _single_word(city_en))
    return PlaceNames(MappingProxyType({stem: next(iter(t)) for stem, t in claims.items() if len(t) == 1}))


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
