"""What an analyst reads about why an article was flagged: plain values in, plain English out.

In: the article's own text, the folded keys the story linker compared (``katar``, ``mosco``),
the folded words a topic's rules matched (``friedensgesprache``), and a function giving a word's
name key (the linker's, passed in, so that this module never guesses at its internals). Out:
names as the article writes them (*Katar*, *Moskau*), dates for people, and one sentence on why
the article was flagged. A key that no word of the article writes is left out, never shown as a
stem. Pure functions, no I/O.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence

from wirewatch.alerts.dates import DateMention, month_of

from wirewatch.textnorm import WORD, fold

DEVELOPMENT = re.compile(r"new development:\s*(.+)", re.IGNORECASE)
LATE = re.compile(r"(\d+) days? after the first report")
POSSESSIVE = re.compile(r"['’]s$")  # Ukraine's → Ukraine
MAX_NAMES, MAX_WORDS = 6, 5


def join_words(items: Sequence[str], conjunction: str = "and") -> str:
    """A, B and C."""
    items = [i for i in items if i]
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} {conjunction} {items[-1]}"


def quoted(words: Iterable[str]) -> list[str]:
    return [f"“{w}”" for w in words]


def same_word(a: str, b: str) -> bool:
    """Two inflections of one word (*drone*, *drones*; *negotiate*, *negotiations*): they share all
    but the last two letters of the shorter, and at least four."""
    a, b = fold(a), fold(b)
    if " " in a or " " in b:
        return a == b
    common = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
    return common >= max(4, min(len(a), len(b)) - 2)


def distinct_words(words: Iterable[str]) -> list[str]:
    """The words in order, each inflection after the first left out."""
    out: list[str] = []
    for w in words:
        if not any(same_word(w, o) for o in out):
            out.append(w)
    return out


def article_names(text: str, keys: Iterable[str], key_of: Callable[[str], str]) -> list[str]:
    """The article's own word for each name key, in the order of ``keys``; keys it does not write
    (and month names, which are dates) are left out, and a word is given once."""
    wanted = list(dict.fromkeys(keys))
    forms: dict[str, dict[str, int]] = {k: {} for k in wanted}
    counts = Counter(POSSESSIVE.sub("", w) for w in WORD.findall(text))
    del counts[""]
    for word, count in counts.items():  # each distinct word asked once
        key = key_of(word)
        if key in forms:
            forms[key][word] = count
    out: list[str] = []
    for key in wanted:
        if not forms[key]:
            continue
        # the capitalised form the article uses most (a name), the first seen among equals
        best = max(forms[key], key=lambda w: (w[:1].isupper(), forms[key][w]))
        if month_of(best) is None and best not in out:
            out.append(best)
    return out


def article_words(text: str, folded: Iterable[str]) -> list[str]:
    """The article's own spelling of folded words or phrases (*friedensgesprache* → *Friedensgespräche*);
    a phrase is spelt word by word; one the article does not write is given as it came."""
    spelling: dict[str, str] = {}
    for word in WORD.findall(text):
        spelling.setdefault(fold(word), word)
    out = []
    for item in folded:
        phrase = " ".join(spelling.get(part, part) for part in item.split())
        if phrase and phrase not in out:
            out.append(phrase)
    return distinct_words(out)


def shared_dates(article: Sequence[DateMention], story: Iterable[DateMention]) -> list[str]:
    """Days the article names that the story named too, spelt for people (17 August)."""
    known = {(d.day, d.month) for d in story}
    return list(dict.fromkeys(d.for_people for d in article if (d.day, d.month) in known))


def development(reason: str, text: str) -> str:
    """What made the article a development, in words from the article, or "" when the linker's
    reason is not one this module knows how to say (it then stays in the X- headers only)."""
    late = LATE.search(reason)
    if late:
        days = int(late.group(1))
        return f"it came {days} day{'s' if days != 1 else ''} after the story's first report"
    cue = DEVELOPMENT.search(reason)
    if cue:
        stems = [c.strip() for c in cue.group(1).split(",") if c.strip()]
        found: list[str] = []
        for word in WORD.findall(text):
            if any(fold(word).startswith(s) for s in stems) and not any(same_word(word, f) for f in found):
                found.append(word)
        if found:
            return f"it reports {join_words(quoted(found[:3]))}, which is new to the story"
        return "it reports something new to the story"
    return ""


def why_follow_up(story: str, names: Sequence[str], dates: Sequence[str], new: str = "") -> str:
    """One sentence: the story, the names and dates it shares with it, and what made it new."""
    shared = []
    if names:
        shared.append(f"names {join_words(list(names[:MAX_NAMES]))}")
    if dates:
        shared.append(f"gives the date{'s' if len(dates) > 1 else ''} {join_words(list(dates[:3]))}")
    because = (f"it {join_words(shared)}, as the story does" if shared
               else "it tells of the same people and places as the story")
    return f"Linked to “{story}” because {because}" + (f", and {new}" if new else "") + "."


def why_topics(topics: Sequence[tuple[str, Sequence[str]]]) -> str:
    """One sentence: the topics that fired, each with the article's words that matched it."""
    parts = []
    for name, words in topics:
        parts.append(f"{name} ({join_words(quoted(words[:MAX_WORDS]))})" if words
                     else f"{name} (judged by the topic model; no keyword matched)")
    if not parts:
        return ""
    if len(parts) == 1 and topics[0][1]:
        return f"Flagged for {topics[0][0]} because it says {join_words(quoted(topics[0][1][:MAX_WORDS]))}."
    return f"Flagged for {join_words(parts)}."
