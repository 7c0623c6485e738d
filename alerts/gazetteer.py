"""Place names and month names across languages and scripts, from the CLDR data that babel carries.

In: a spelling function (a word → its rough Latin spelling, see :func:`alerts.textkeys.spelling`).
Out: :func:`place_names` — a table that gives, for a word that names a country or a major city in
any of :data:`LANGUAGES`, inflected or not, the key of its English name (*Russland*, *России*,
*روسيا* → the key of *Russia*); and :func:`month_names` — each month's name in those languages → its
number.

Transliteration alone makes *Курск* meet *Kursk*, but not *Moskau* meet *Moscow* or *Katar* meet
*Catar*: those are different words for one place. CLDR, the Unicode locale data, names every
country and every time-zone city in each language, so the tables are built from there at first
use, not written by hand. A stem claimed by two different places (a short stem shared by two names)
is left out rather than guessed, and a word must be the whole name plus at most a short ending, so
that the surname *Kazakov* is not taken for *Kazakhstan*. Words in scripts other than Latin may
also carry a short prefix (Arabic *و*, *ال*, *ب*: "and", "the", "in").
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from types import MappingProxyType

LANGUAGES = ("en", "de", "fr", "es", "it", "pt", "nl", "pl", "cs", "ro", "hu", "sv", "tr", "az", "id", "ru", "uk",
             "bg", "sr", "el", "hy", "ka", "ar", "fa", "ur", "he", "hi", "bn", "gu", "ta", "th", "vi", "zh", "ja", "ko")
MAX_ENDING = 3  # letters an inflected form may add to a name's stem: Russland-s, Росси-и, Kyjow-a
MAX_PREFIX = 2  # letters a word in another script may carry before the name: و+إسرائيل (w-isra'il)
MIN_STEM = 4


def _single_word(name: str) -> str | None:
    words = name.replace("-", " ").split()
    return words[0] if len(words) == 1 and len(words[0]) >= 3 else None


@dataclass(frozen=True)
class PlaceNames:
    """Stems of place names in many languages, each with the key of its English name."""

    stems: Mapping[str, str]

    def key(self, spelling: str, latin_script: bool = True) -> str | None:
        """The English name key of a word (in Latin spelling) that is an inflected form of a known place."""
        for start in range(1 + (0 if latin_script else min(MAX_PREFIX, len(spelling) - MIN_STEM))):
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
    ``key_chars`` letters. A stem is the local spelling without its final vowels (*moskva* → *moskv*),
    at least four letters long.
    """
    from babel import Locale

    english = Locale("en")
    locales = [Locale(lang) for lang in LANGUAGES]
    claims: dict[str, set[str]] = defaultdict(set)

    def claim(local: str | None, canonical: str | None) -> None:
        if not local or not canonical:
            return
        target = spelling(canonical)[:key_chars]
        local_spelling = spelling(local)
        stem = local_spelling.rstrip("aeiouy")
        stem = stem if len(stem) >= MIN_STEM else local_spelling
        if target and len(stem) >= MIN_STEM:
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
def month_names(spelling: Callable[[str], str]) -> dict[str, int]:
    """Each month's wide and abbreviated names (four letters or more) in :data:`LANGUAGES` → its number;
    a spelling claimed by two months is left out."""
    from babel import Locale

    claims: dict[str, set[int]] = defaultdict(set)
    for lang in LANGUAGES:
        months = Locale(lang).months
        for context in ("format", "stand-alone"):
            for width in ("wide", "abbreviated"):
                for number, name in months.get(context, {}).get(width, {}).items():
                    word = spelling(name)
                    if len(word) >= 4 and " " not in name:
                        claims[word].add(int(number))
    return {w: next(iter(n)) for w, n in claims.items() if len(n) == 1}
