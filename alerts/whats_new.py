"""What is new in a follow-up, from the article's own news sentences; and who else reported it.

In: the article's headline and text, the words and dates the story already told (from the texts of
its earlier members), and — for "also reported by" — word sets of the story's members. Out:
:func:`news_sentences`, the article's lead sentences that tell something new (not the headline
repeated, not background or quotes of facts the story already had, not a sentence about days
before the story began), and :func:`retold_by`, the other outlets whose retelling is closest to
this article rather than to another member published before it. Pure functions on plain values.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from wirewatch.alerts.dates import dates_in

from wirewatch.textnorm import WORD, fold

# a sentence ends at . ! ? or …, but not at a day's ordinal dot ("am 22. August")
SENTENCE = re.compile(r"(?<=[.!?…])(?<!\b\d\.)(?<!\b\d\d\.)[\"”»’)]?\s+|\n+")
TAG = re.compile(r"<[^>]{0,200}>")
SPACE_BEFORE_STOP = re.compile(r"\s+(?=[.,;:!?])")
LEAD_SENTENCES = 12
MIN_WORDS = 5  # fewer content words is a caption, a dateline or a byline, not a sentence of news
NEW_SHARE = 0.5  # more than half of a later sentence's content words are new to the story
LEAD_NEW_WORDS = 2  # the lead, news's own summary, needs only to add something
SAME_AS_HEADLINE = 0.7
MAX_CHARS = 320
RETOLD_OVERLAP = 0.2  # a retelling shares at least this much (cosine of word sets) with what it retells
CLOCK_SLACK = timedelta(hours=12)


def content_words(text: str) -> set[str]:
    """Folded words of four letters or more that are not numbers: a language-blind stand-in for content."""
    return {w for w in WORD.findall(fold(text)) if len(w) >= 4 and not w.isdigit()}


def lead_sentences(text: str, limit: int = LEAD_SENTENCES) -> list[str]:
    """The first sentences of the text, markup and extra spaces removed."""
    out = []
    for raw in SENTENCE.split(TAG.sub(" ", text)):
        sent = SPACE_BEFORE_STOP.sub("", " ".join(raw.split()))
        if sent:
            out.append(sent)
        if len(out) >= limit:
            break
    return out


def _repeats(sentence: set[str], headline: set[str]) -> bool:
    return bool(sentence) and len(sentence & headline) / len(sentence) >= SAME_AS_HEADLINE


def _recurs(index: int, word_sets: Sequence[set[str]]) -> bool:
    """A sentence the lead gives twice is a photo caption or boilerplate, not the news."""
    mine = word_sets[index]
    return any(j != index and other and len(mine & other) / min(len(mine), len(other)) >= SAME_AS_HEADLINE
               for j, other in enumerate(word_sets))


def _about_the_past(sentence: str, story_start: date | None) -> bool:
    if story_start is None:
        return False
    for mention in dates_in(sentence):
        year = mention.year or story_start.year
        try:
            if date(year, mention.month, mention.day) < story_start:
                return True
        except ValueError:
            continue
    return False


def _clip(sentence: str) -> str:
    return sentence if len(sentence) <= MAX_CHARS else sentence[:MAX_CHARS].rsplit(" ", 1)[0] + " …"


def news_sentences(headline: str, text: str, known_words: set[str], story_start: date | None = None,
                   limit: int = 2) -> list[str]:
    """Up to ``limit`` of the article's lead sentences that tell the analyst something new.

    A sentence counts when it has at least five content words, does not repeat the headline, is not
    given twice (a caption), names no day before the story began, and tells something new: the lead
    (the first such sentence) two words or more the story had not, a later one mostly new words.
    When none does, the lead stands for the news all the same; an article with no such sentence
    gives nothing.
    """
    head = content_words(headline)
    lead: str | None = None
    out: list[str] = []
    sentences = lead_sentences(text)
    word_sets = [content_words(s) for s in sentences]
    for i, (sent, words) in enumerate(zip(sentences, word_sets, strict=True)):
        if len(words) < MIN_WORDS or _repeats(words, head) or _recurs(i, word_sets):
            continue
        fresh = words - known_words
        is_lead, lead = lead is None, lead or sent
        # the lead tells the news whenever it adds anything; a later sentence must be mostly new
        enough = len(fresh) >= LEAD_NEW_WORDS if is_lead else len(fresh) / len(words) > NEW_SHARE
        if enough and not _about_the_past(sent, story_start):
            out.append(_clip(sent))
            if len(out) >= limit:
                break
    if not out and lead is not None and not _about_the_past(lead, story_start):
        out.append(_clip(lead))
    return out


def _overlap(a: set[str], b: set[str]) -> float:
    return len(a & b) / math.sqrt(len(a) * len(b)) if a and b else 0.0


@dataclass(frozen=True)
class Telling:
    """One member of a story as far as retellings go: its words and when it was published."""

    words: set[str]
    published: datetime | None = None


def _before(original: Telling, retelling: Telling) -> bool:
    """Nobody retells what has not happened yet (give or take a feed's clock)."""
    return original.published is None or retelling.published is None or \
        original.published <= retelling.published + CLOCK_SLACK


def nearest(originals: Mapping[str, Telling], retelling: Telling) -> str | None:
    """The original (id → telling) published before the retelling that it is closest to, if any
    shares enough with it."""
    scores = {key: _overlap(retelling.words, orig.words) for key, orig in originals.items()
              if _before(orig, retelling)}
    best = max(scores, key=lambda k: scores[k], default=None)
    return best if best is not None and scores[best] >= RETOLD_OVERLAP else None


def retold_by(item: str, own_source: str, originals: Mapping[str, Telling],
              retellings: Iterable[tuple[str, Telling]]) -> list[str]:
    """The other outlets that retold ``item``: each retelling (source, telling) goes to the original
    (the seed and the follow-ups) it is closest to; the item's own outlet is never named."""
    out: list[str] = []
    own = own_source.strip().lower()
    for source, telling in retellings:
        if not source or source.strip().lower() == own or source.lower() in (o.lower() for o in out):
            continue
        if nearest(originals, telling) == item:
            out.append(source)
    return out


def known_words(texts: Sequence[str]) -> set[str]:
    """Every content word the story's earlier members told."""
    out: set[str] = set()
    for text in texts:
        out |= content_words(text)
    return out
