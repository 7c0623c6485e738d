"""Real article texts of ../shared for the story benchmarks, and synthetic archives made from their keys.

In: the ../shared data folder (BBC News, WikiRef220, stories-dev, news-dev). Out: the texts as the alert
stage archives them (title on the first line, then the body), and :func:`recombined`: an endless stream
of articles as key counters, made from the real articles' keys (:func:`alerts.story_index.story_keys`,
computed once per real text), dated as a stream of ``per_day``, so that an index of a million articles
is reached without computing keys a million times. Nothing of these texts is copied anywhere.
"""

from __future__ import annotations

import itertools
import json
import random
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import TypeVar


def decoded_text(raw: bytes) -> str:
    """A text file of the corpora as text (UTF-8, or Windows-1252 for the older ones), Unix line ends."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("cp1252")
    return text.replace("\r\n", "\n").strip()


def real_texts(shared: Path) -> list[str]:
    """Every article text of the four corpora, in a fixed order (missing corpora are skipped)."""
    data = shared / "data"
    texts = [decoded_text(p.read_bytes()) for p in sorted((data / "bbc" / "bbc").glob("*/*.txt"))]
    texts += [decoded_text(p.read_bytes()) for p in sorted((data / "event-clusters" / "WikiRef220").glob("*"))
              if p.is_file()]
    for path in (data / "stories-dev" / "stories-dev.jsonl", data / "news-dev.jsonl"):
        if path.exists():
            with open(path, encoding="utf-8") as fh:
                texts += [f"{row['title']}\n{row['text']}" for row in map(json.loads, fh)]
    return [t for t in texts if t]


E = TypeVar("E")


def event_of_the_moment(events: list[E], rng: random.Random, new: Callable[[], E], current: int = 2_000) -> E:
    """The event an article of the stream tells: a new one (made by ``new``) one time in eight, else one of the
    ``current`` events of the moment (a new one replaces one of them at random once they are that many)."""
    if not events or rng.random() < 0.125:
        event = new()
        if len(events) < current:
            events.append(event)
        else:
            events[rng.randrange(len(events))] = event
        return event
    return rng.choice(events)


def recombined(real: list[Counter[str]], rng: random.Random, per_day: float,
               start: datetime = datetime(2025, 1, 1), specific_share: float = 0.005,
               ) -> Iterator[tuple[Counter[str], datetime]]:
    """Articles as key counts made from real articles' keys, dated as a stream of ``per_day``.

    Each synthetic article tells one event of the moment (a new event starts with one article in eight;
    2,000 events are current at a time). An event is a real article (its template) under a new event
    number: the template's *specific* keys (those in at most ``specific_share`` of the real articles:
    names, places, figures, rare words) are renamed for the event, so that two events made from one
    template do not meet, while the common keys (ordinary words) stay shared by every event, as in real
    news. An article of the event keeps each of the template's keys with probability 0.7 and takes a
    tenth of its keys from another real article (its specific keys renamed at random): noise.
    """
    df: Counter[str] = Counter()
    for keys in real:
        df.update(keys.keys())
    limit = max(1, int(specific_share * len(real)))
    specific = {k for k, n in df.items() if n <= limit}
    events: list[tuple[int, int]] = []  # (template, event number)
    numbers = itertools.count(1)
    i = 0
    while True:
        template, n = event_of_the_moment(events, rng, lambda: (rng.randrange(len(real)), next(numbers)))
        out: Counter[str] = Counter()
        for key, count in real[template].items():
            if rng.random() < 0.7:
                out[f"{key}|{n}" if key in specific else key] = count
        other = real[rng.randrange(len(real))]
        noise = rng.randrange(10**7)
        for key in rng.sample(list(other), min(len(other), max(1, len(out) // 10))):
            out[f"{key}|x{noise}" if key in specific else key] += other[key]
        yield out, start + timedelta(days=i / per_day)
        i += 1
