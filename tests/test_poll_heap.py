"""The poller's memory between cycles (``ingest/heap.py``): what a thread allocated and freed in a cycle
stays in the process's resident memory until the free heap is handed back, which the poll stage does
after every cycle."""

from __future__ import annotations

import os
import sys
import threading

import pytest
from wirewatch.ingest.heap import release_free_heap


def resident_mb() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="resident memory read from /proc")
def test_memory_a_thread_freed_goes_back_to_the_system() -> None:
    kept: list[bytes] = []

    def cycle() -> None:  # like a poll cycle's thread: many mid-sized blocks, all freed but the last
        blocks = [bytes(4000 + i % 7) for i in range(20_000)]
        kept.append(blocks[-1])

    worker = threading.Thread(target=cycle)
    worker.start()
    worker.join()
    before = resident_mb()
    if not release_free_heap():
        pytest.skip("this C library has no malloc_trim")
    assert before - resident_mb() >= 40, "the 80 MB the thread freed stayed resident"
