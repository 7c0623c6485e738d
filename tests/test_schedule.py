"""The poll schedule as plain functions: adaptive intervals, backoff with jitter, health."""

import random
from datetime import UTC, datetime, timedelta

from wirewatch.ingest.schedule import Outcome, next_schedule, publishing_gap, retry_after_seconds

from wirewatch.config import PollSettings

NOW = datetime(2024, 8, 17, 12, 0, tzinfo=UTC)
S = PollSettings(min_interval_seconds=300, max_interval_seconds=6 * 3600, unhealthy_after_failures=4,
                 unhealthy_interval_seconds=86400)


def test_interval_follows_the_publishing_rate_within_bounds() -> None:
    hourly = tuple(NOW - timedelta(hours=h) for h in range(10))
    s = next_schedule(900, 0, Outcome(ok=True, published=hourly), S, NOW, random.Random(0))
    assert s.interval == 1800 and s.health == "ok" and s.failures == 0
    assert timedelta(seconds=1620) <= s.next_poll - NOW <= timedelta(seconds=1980)
    busy = tuple(NOW - timedelta(minutes=m) for m in range(10))
    assert next_schedule(900, 0, Outcome(ok=True, published=busy), S, NOW, random.Random(0)).interval == 300
    quiet = tuple(NOW - timedelta(days=d) for d in range(10))
    assert next_schedule(900, 0, Outcome(ok=True, published=quiet), S, NOW, random.Random(0)).interval == 6 * 3600


def test_without_dates_the_interval_shrinks_on_news_and_grows_without() -> None:
    assert next_schedule(1000, 0, Outcome(ok=True, new_entries=3), S, NOW, random.Random(0)).interval == 750
    assert next_schedule(1000, 0, Outcome(ok=True), S, NOW, random.Random(0)).interval == 1250


def test_failures_back_off_exponentially_with_jitter_then_turn_unhealthy() -> None:
    rng = random.Random(42)
    waits, failures = [], 0
    for _ in range(3):
        s = next_schedule(900, failures, Outcome(ok=False), S, NOW, rng)
        failures = s.failures
        waits.append((s.next_poll - NOW).total_seconds())
        assert s.health == "failing"
    for n, wait in enumerate(waits):
        assert 300 * 2 ** n * 0.5 <= wait <= 300 * 2 ** n
    s = next_schedule(900, failures, Outcome(ok=False), S, NOW, rng)
    assert s.health == "unhealthy" and s.failures == 4
    assert (s.next_poll - NOW).total_seconds() >= 86400 * 0.9
    recovered = next_schedule(900, s.failures, Outcome(ok=True), S, NOW, rng)
    assert recovered.health == "ok" and recovered.failures == 0


def test_jitter_spreads_feeds_apart() -> None:
    rng = random.Random(7)
    times = {next_schedule(900, 0, Outcome(ok=True), S, NOW, rng).next_poll for _ in range(50)}
    assert len(times) == 50


def test_retry_after_and_rate_limits() -> None:
    assert retry_after_seconds("120", NOW) == 120
    assert retry_after_seconds("Sat, 17 Aug 2024 13:00:00 GMT", NOW) == 3600
    assert retry_after_seconds("soon", NOW) is None
    s = next_schedule(900, 0, Outcome(ok=False, retry_after=3600, rate_limited=True), S, NOW, random.Random(0))
    assert s.failures == 0 and s.next_poll == NOW + timedelta(seconds=3600)
    capped = next_schedule(900, 0, Outcome(ok=False, retry_after=10**9, rate_limited=True), S, NOW, random.Random(0))
    assert capped.next_poll == NOW + timedelta(seconds=6 * 3600)


def test_publishing_gap_needs_three_dates() -> None:
    assert publishing_gap((NOW, NOW - timedelta(hours=1))) is None
    assert publishing_gap((NOW, NOW - timedelta(hours=1), NOW - timedelta(hours=3))) == 5400
