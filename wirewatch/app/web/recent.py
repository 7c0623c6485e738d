"""The rule preview's articles: the newest of the archive, read and indexed away from the requests.

In: a function that reads the newest rows, and one that prepares them (indexes their words and
evaluates the saved rule files on them). Out: :meth:`RecentArticles.rows` — the prepared rows; only
the very first call of an app waits for them. After ``max_age`` seconds the next call starts a
fresh read in a thread and goes on with the old rows until it is done, so a preview never waits for
a re-read while an editor types.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

Rows = list[dict[str, Any]]


class RecentArticles:
    def __init__(self, read: Callable[[], Rows], prepare: Callable[[Rows], None], max_age: float = 300.0) -> None:
        self._read, self._prepare, self.max_age = read, prepare, max_age
        self._rows: Rows | None = None
        self._at = 0.0
        self._lock = threading.Lock()
        self._refreshing: threading.Thread | None = None

    def _load(self) -> None:
        try:
            rows = self._read()
            self._prepare(rows)
            self._rows, self._at = rows, time.monotonic()
        except Exception:  # the old rows stay; the next call tries again
            log.exception("the rule preview could not read the recent archive")
        finally:
            self._refreshing = None

    def warm(self) -> None:
        """Start reading (when nothing is read yet, or it is old) without waiting."""
        with self._lock:
            stale = self._rows is None or time.monotonic() - self._at > self.max_age
            if stale and self._refreshing is None:
                self._refreshing = threading.Thread(target=self._load, name="rule-preview-archive", daemon=True)
                self._refreshing.start()

    def rows(self) -> Rows:
        self.warm()
        if self._rows is None:  # the first time: wait for the read
            worker = self._refreshing
            if worker is not None:
                worker.join()
            if self._rows is None:
                self._load()
        return self._rows or []
