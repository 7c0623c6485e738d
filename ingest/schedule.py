"""When to poll a feed next: adaptive intervals, backoff with jitter, health. Pure functions.

In: the feed's row, the outcome of its last poll, the settings, the time and a random source.
Out: the feed's next interval, next poll time, failure count and health.

- A feed that answers is polled about twice per publishing gap: half the median gap between its
  newest entries' dates, or, without dates, its interval shrunk by a quarter after new entries and
  grown by a quarter after none — always within [min, max] interval, with ±10 % jitter so that
  thousands of feeds do not synchronise.
- ``Retry-After`` (429, 503) is honoured, bounded by the maximum interval.
- A failure backs off exponentially from the minimum interval (×2 per consecutive failure, capped at
  the maximum), with full jitter in [½, 1]; after ``unhealthy_after_failures`` failures in a row the
  feed is *unhealthy* and tried only every ``unhealthy_interval_seconds``.
"""

from __future__ import annotations

import random
import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from itertools import pairwise

from wirewatch.config import PollSettings


@dataclass(frozen=True)
class Outcome:
    ok: bool  # answered with a feed or with 304
    new_entries: int = 0
    published: tuple[datetime, ...] = ()
    retry_after: float | None = None
    rate_limited: bool = False  # 429: the server asks us to slow down; not a failure of the feed


@dataclass(frozen=True)
class Schedule:
    interval: float
    next_poll: datetime
    failures: int
    health: str  # "ok", "failing" or "unhealthy"


def retry_after_seconds(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date), if any."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - now).total_seconds())


def publishing_gap(published: tuple[datetime, ...], newest: int = 10) -> float | None:
    dates = sorted(published, reverse=True)[:newest]
    gaps = [(a - b).total_seconds() for a, b in pairwise(dates) if a > b]
    return statistics.median(gaps) if len(gaps) >= 2 else None


def next_schedule(interval: float, failures: int, outcome: Outcome, settings: PollSettings, now: datetime,
                  rng: random.Random) -> Schedule:
    lo, hi = settings.min_interval_seconds, settings.max_interval_seconds
    if outcome.rate_limited or (outcome.retry_after is not None and outcome.ok):
        wait = min(hi, max(lo, outcome.retry_after or lo))
        return Schedule(interval, now + timedelta(seconds=wait), failures, "ok" if failures == 0 else "failing")
    if outcome.ok:
        gap = publishing_gap(outcome.published)
        if gap is not None:
            interval = gap / 2
        elif outcome.new_entries:
            interval *= 0.75
        else:
            interval *= 1.25
        interval = min(hi, max(lo, interval))
        wait = interval * rng.uniform(0.9, 1.1)
        return Schedule(interval, now + timedelta(seconds=wait), 0, "ok")
    failures += 1
    if failures >= settings.unhealthy_after_failures:
        wait = settings.unhealthy_interval_seconds * rng.uniform(0.9, 1.1)
        return Schedule(interval, now + timedelta(seconds=wait), failures, "unhealthy")
    backoff = min(hi, lo * 2 ** (failures - 1))
    wait = backoff * rng.uniform(0.5, 1.0)
    if outcome.retry_after is not None:
        wait = min(hi, max(wait, outcome.retry_after))
    return Schedule(interval, now + timedelta(seconds=wait), failures, "failing")
