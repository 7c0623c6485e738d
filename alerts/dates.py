"""Dates for people: a timestamp or a date written in an article in, "17 August 2024" out.

In: ISO timestamps as the pipeline keeps them ("2024-08-17T09:30:00Z"), or article text. Out:
:func:`human_date` — the day as an analyst reads it, in English — and :func:`dates_in`, the dates
an article writes ("on 17 August", "Aug. 17, 2024", "6 августа", "am 17. August"), each with the
words it was written in and the same day spelt for people. Month names in the topic pack's
languages come from the CLDR data that ships with babel, not from a hand-written list. Pure
functions; nothing here fails on bad input — an unreadable date is "date unknown".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache

from babel import Locale
from babel.dates import format_date

from wirewatch.textnorm import fold

UNKNOWN = "date unknown"
LANGUAGES = ("en", "de", "fr", "es", "it", "pt", "pl", "id", "ru", "uk", "bg")


def _parse(value: str | datetime | date | None) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if not value:
        return None
    text = value.strip().replace("Z", "+00:00")
    try:
        return datetime.fromisoformat(text).date()
    except ValueError:
        try:
            return date.fromisoformat(text[:10])
        except ValueError:
            return None


def human_date(value: str | datetime | date | None) -> str:
    """17 August 2024 — or "date unknown" for nothing or something that is not a date."""
    day = _parse(value)
    return format_date(day, "d MMMM y", locale="en") if day else UNKNOWN


def day_and_month(day: int, month: int, year: int | None = None) -> str:
    """17 August, or 17 August 2024 when the year is known."""
    try:
        when = date(year or 2000, month, day)
    except ValueError:
        return ""
    return format_date(when, "d MMMM y" if year else "d MMMM", locale="en")


@cache
def month_names() -> dict[str, int]:
    """Folded month names → month: every pack language's full names, as written in a date
    (*августа*) and standing alone (*август*), and the English abbreviations (*Aug*); other
    languages' short forms (*set*, *mar*) are common words too often to be read as months."""
    out: dict[str, int] = {}
    for lang in LANGUAGES:
        loc = Locale(lang)
        widths = ("wide", "abbreviated") if lang == "en" else ("wide",)
        for context in ("format", "stand-alone"):
            for width in widths:
                for number, name in loc.months[context][width].items():
                    key = fold(name).rstrip(".")
                    if len(key) >= 3:
                        out.setdefault(key, number)
    return out


def month_of(word: str) -> int | None:
    """The month a word names (any pack language, inflected as in a date), or None."""
    return month_names().get(fold(word).rstrip("."))


@dataclass(frozen=True)
class DateMention:
    written: str  # as the article writes it: "6 августа"
    day: int
    month: int
    year: int | None

    @property
    def for_people(self) -> str:
        return day_and_month(self.day, self.month, self.year)


_MONTH = r"([^\W\d_]{3,}\.?)"
_DAY = r"(\d{1,2})\.?"
_YEAR = r"(?:,?\s+(\d{4}))?"
DAY_FIRST = re.compile(rf"\b{_DAY}\s+(?:de\s+)?{_MONTH}(?:\s+de)?{_YEAR}")
MONTH_FIRST = re.compile(rf"\b{_MONTH}\s+{_DAY}(?!\d){_YEAR}")
ISO_DAY = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")


def dates_in(text: str) -> list[DateMention]:
    """The dates the text writes, in order of appearance, each once."""
    found: list[tuple[int, DateMention]] = []
    for pattern, order in ((DAY_FIRST, "dm"), (MONTH_FIRST, "md")):
        for m in pattern.finditer(text):
            day_s, month_s = (m.group(1), m.group(2)) if order == "dm" else (m.group(2), m.group(1))
            month = month_of(month_s)
            day = int(day_s)
            if month is None or not 1 <= day <= 31:
                continue
            year = int(m.group(3)) if m.group(3) else None
            found.append((m.start(), DateMention(m.group(0).strip().rstrip("."), day, month, year)))
    for m in ISO_DAY.finditer(text):
        year, month, day = (int(g) for g in m.groups())
        if 1 <= month <= 12 and 1 <= day <= 31:
            found.append((m.start(), DateMention(m.group(0), day, month, year)))
    seen: set[tuple[int, int]] = set()
    out = []
    for _, mention in sorted(found, key=lambda f: f[0]):
        if (mention.day, mention.month) not in seen and mention.for_people:
            seen.add((mention.day, mention.month))
            out.append(mention)
    return out
