"""Handing back to the system the heap a poll cycle freed, so the poller's memory stays flat over cycles.

In: nothing (called between cycles). Out: the C heap's free pages returned to the system, where the C
library can (glibc's ``malloc_trim``); elsewhere nothing happens.

A cycle allocates and frees tens of megabytes (10,000 responses, parsed entries, SQL parameters) from
several threads, each with its own malloc arena. The freed memory stays in those arenas, scattered, so
the resident size crept up about a megabyte a cycle while the live Python objects did not grow (see
``bench_polling.py --trace-memory``). Trimming after each cycle returns it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from collections.abc import Callable


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    if not name:
        return None
    try:
        trim: Callable[[int], int] = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):  # not glibc
        return None
    return trim


def release_free_heap() -> bool:
    """Return the free pages of every malloc arena to the system; whether the C library could."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True
