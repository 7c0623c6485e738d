"""The words of a follow-up email, from the article and the story it joined: plain values in and out.

In: the article (headline, text, outlet, id), the linker's :class:`~alerts.stories.Relation` fields
(kind, keys, reason), the story's members as the store lists them (``article_id``, ``title``,
``text``, ``source``, ``published``, ``relation``), the seed's text, and two functions of the
linker — a word's name key and a text's name keys — passed in, so that this module follows the
linker whatever it becomes. Out: a :class:`FollowUpWording` — the sentence on why the article
joined the story, the sentences that tell what is new, and the other outlets that retold it;
and :func:`also_reported_by` alone, to bring a held email up to date when it goes out.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from wirewatch.alerts.dates import dates_in
from wirewatch.alerts.whats_new import Telling, content_words, known_words, nearest, news_sentences, retold_by
from wirewatch.alerts.wording import article_names, development, join_words, shared_dates, why_follow_up

from wirewatch.schema import parse_time

NUMBER = re.compile(r"\b\d[\d.,]*\d\b")
SEED = "(seed)"
READ_CHARS = 20_000  # the lead and well beyond: what an email quotes or names is there; a 5 MB text costs no more


def _told(member: Mapping[str, Any]) -> str:
    return f"{member['title']}\n{str(member['text'])[:READ_CHARS]}"


@dataclass(frozen=True)
class FollowUpWording:
    why: str
    new_sentences: list[str]
    also_reported_by: str


def fingerprint(text: str, name_keys: Callable[[str], Iterable[str]], published: object = None) -> Telling:
    """What two tellings of one event share: name keys and figures across languages, content words
    within one; and when it was published."""
    words = set(name_keys(text)) | set(NUMBER.findall(text)) | content_words(text)
    return Telling(words, parse_time(published) if isinstance(published, str) else None)


def _tellings(article_id: str, body: str, members: Sequence[Mapping[str, Any]], seed_text: str,
              name_keys: Callable[[str], Iterable[str]]
              ) -> tuple[dict[str, Telling], list[tuple[Mapping[str, Any], Telling]]]:
    """The story's originals (seed, developments, this article: id → telling) and its retellings."""
    originals = {SEED: fingerprint(seed_text, name_keys)} if seed_text else {}
    retellings: list[tuple[Mapping[str, Any], Telling]] = []
    for m in members:
        telling = fingerprint(_told(m), name_keys, m.get("published"))
        if m["relation"] in ("seed", "follow_up") or m["article_id"] == article_id:
            originals[str(m["article_id"])] = telling
        elif m["relation"] == "same_report":
            retellings.append((m, telling))
    originals.setdefault(article_id, fingerprint(body, name_keys))
    return originals, retellings


def also_reported_by(headline: str, text: str, source: str, article_id: str, members: Sequence[Mapping[str, Any]],
                     seed_text: str, name_keys: Callable[[str], Iterable[str]]) -> str:
    """The other outlets whose retelling is closest to this article ("A, B and C"; "" for none)."""
    text, seed_text = text[:READ_CHARS], seed_text[:READ_CHARS]
    originals, retellings = _tellings(article_id, f"{headline}\n{text}", members, seed_text, name_keys)
    return join_words(retold_by(article_id, source, originals, [(str(m["source"] or ""), w) for m, w in retellings]))


def follow_up_wording(story: str, headline: str, text: str, source: str, article_id: str,
                      shared_keys: Sequence[str], reason: str, members: Sequence[Mapping[str, Any]],
                      seed_text: str, story_start: date | None, key_of: Callable[[str], str],
                      name_keys: Callable[[str], Iterable[str]]) -> FollowUpWording:
    """The email's words for one follow-up (see the module doc)."""
    text, seed_text = text[:READ_CHARS], seed_text[:READ_CHARS]
    body = f"{headline}\n{text}"
    originals, retellings = _tellings(article_id, body, members, seed_text, name_keys)
    # what the story told before this article: its seed, its other developments and their retellings
    # (a retelling of this very article, archived before it, tells nothing the analyst knew)
    earlier = [seed_text] + [_told(m) for m in members
                             if m["article_id"] != article_id and m["relation"] in ("seed", "follow_up")]
    earlier += [_told(m) for m, telling in retellings if nearest(originals, telling) != article_id]
    story_dates = [d for t in earlier for d in dates_in(t)]
    names = article_names(body, shared_keys, key_of)
    why = why_follow_up(story, names, shared_dates(dates_in(body), story_dates), development(reason, body))
    fresh = news_sentences(headline, text, known_words(earlier), story_start)
    outlets = retold_by(article_id, source, originals, [(str(m["source"] or ""), w) for m, w in retellings])
    return FollowUpWording(why, fresh, join_words(outlets))
