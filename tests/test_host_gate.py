"""The per-host gate shared by the poller (coroutines) and the extractor (threads)."""

import asyncio
import threading

import pytest

from wirewatch.host_gate import HostGate, host_of


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_starts_to_one_host_are_spaced_by_the_delay_even_when_booked_together() -> None:
    clock = Clock()
    gate = HostGate(4, 2.0, clock)
    assert [gate.book("a.test") for _ in range(3)] == [0.0, 2.0, 4.0]  # three at once: spaced, not bunched
    assert gate.book("b.test") == 0.0  # another host has its own schedule
    clock.now += 10
    assert gate.book("a.test") == 0.0  # the spacing has run out


def test_a_longer_delay_asked_by_the_host_wins_and_no_delay_books_nothing() -> None:
    clock = Clock()
    gate = HostGate(1, 1.0, clock)
    assert gate.book("slow.test", 5.0) == 0.0
    assert gate.book("slow.test") == 5.0
    free = HostGate(1, 0.0, clock)
    assert [free.book("x.test") for _ in range(3)] == [0.0, 0.0, 0.0]


def test_hosts_are_read_from_urls_in_any_case_and_a_malformed_url_is_no_host() -> None:
    assert host_of("https://News.TEST:8443/a?b") == "news.test"
    assert host_of("http://[::1/") == ""
    with pytest.raises(ValueError, match="per_host"):
        HostGate(0, 0.0)


def _most_at_once(gate: HostGate, urls: list[str]) -> dict[str, int]:
    lock = threading.Lock()
    active: dict[str, int] = {}
    most: dict[str, int] = {}
    hold = threading.Event()

    def fetch(url: str) -> None:
        host = host_of(url)
        with gate.slot(url):
            with lock:
                active[host] = active.get(host, 0) + 1
                most[host] = max(most.get(host, 0), active[host])
            hold.wait(0.02)
            with lock:
                active[host] -= 1

    threads = [threading.Thread(target=fetch, args=(u,)) for u in urls]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return most


def test_threads_get_at_most_per_host_slots_at_once_per_host() -> None:
    most = _most_at_once(HostGate(2, 0.0), [f"https://{h}.test/{i}" for i in range(8) for h in ("a", "b")])
    assert most["a.test"] <= 2 and most["b.test"] <= 2


def test_coroutines_get_at_most_per_host_slots_at_once_and_never_block_the_loop() -> None:
    gate = HostGate(2, 0.0)
    active = {"a.test": 0, "b.test": 0}
    most = dict(active)
    ticks = 0

    async def fetch(url: str) -> None:
        host = host_of(url)
        async with gate.aslot(url):
            active[host] += 1
            most[host] = max(most[host], active[host])
            for _ in range(3):
                await asyncio.sleep(0)
            active[host] -= 1

    async def ticker(done: asyncio.Event) -> None:
        nonlocal ticks
        while not done.is_set():
            ticks += 1
            await asyncio.sleep(0)

    async def main() -> None:
        done = asyncio.Event()
        tick = asyncio.create_task(ticker(done))
        await asyncio.gather(*(fetch(f"https://{h}.test/{i}") for i in range(10) for h in ("a", "b")))
        done.set()
        await tick

    asyncio.run(main())
    assert most == {"a.test": 2, "b.test": 2}  # the limit is reached and never passed
    assert ticks > 0  # other coroutines ran while fetches waited for a slot
