"""Feed parsing in a few worker processes, off the poller's event loop, each parse bounded in time.

In: a fetched feed's bytes, URL and response headers. Out: what
:func:`~wirewatch.ingest.feed_parsing.read_feed` returns (the parsed feed, each entry with its dedup
keys and content hash), or :class:`~wirewatch.ingest.feed_parsing.FeedError` — also when the parse
took more than ``timeout`` seconds of the worker's CPU (its worker is killed and replaced) or the
worker died.

feedparser is pure Python and slow: on the loop, a cycle where every entry is new is bound to one core,
and one huge or pathological feed stops every fetch while it is parsed. Here the loop only hands the
bytes over; a feed that takes too long costs one worker for ``timeout`` seconds, never the others.
Workers are started (``spawn``: the poller has threads) when the first feed is parsed and reused.
"""

from __future__ import annotations

import asyncio
import logging
import math
import multiprocessing
import multiprocessing.connection
import multiprocessing.process
import os
import time
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor

from wirewatch.ingest.feed_parsing import FeedError, Keyed, ParsedFeed, read_feed
from wirewatch.ingest.feed_text import MarkupMemo

log = logging.getLogger(__name__)

Read = tuple[ParsedFeed, list[Keyed]]
STARTUP_SECONDS = 120.0  # a new worker's imports, on a busy machine


def _serve(conn: multiprocessing.connection.Connection) -> None:
    """A worker: say it is ready (its imports done), then parse each (content, url, headers) it receives;
    answer (True, result) or (False, error). Each message also carries the worker's CPU seconds so far,
    which are those at the start of its next parse (it waits for that without using any). The worker
    keeps the HTML it has cleaned (bounded) for the entries feeds repeat from one poll to the next."""
    memo = MarkupMemo()
    conn.send(("ready", time.process_time()))
    while True:
        try:
            content, url, headers = conn.recv()
        except (EOFError, OSError):
            return
        try:
            answer: tuple[bool, Read | str] = (True, read_feed(content, url, headers, memo=memo))
        except FeedError as exc:
            answer = (False, str(exc))
        except Exception as exc:  # a parser bug met by one document: that feed's failure, not the worker's
            answer = (False, f"{url}: unexpected failure while parsing: {type(exc).__name__}: {exc}")
        conn.send((*answer, time.process_time()))


class _Worker:
    def __init__(self) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.process: multiprocessing.process.BaseProcess = ctx.Process(
            target=_serve, args=(child,), name="poll-parse", daemon=True)
        self.process.start()
        child.close()  # only the worker holds its end: its death is an EOF here
        self.ready = False
        self.idle_cpu = 0.0  # the worker's CPU seconds when it last answered: where its next parse starts

    def wait_ready(self) -> None:
        """Until the new worker has imported the parser (in a thread: not counted in a parse's time)."""
        if not self.ready:
            if not self.conn.poll(STARTUP_SECONDS):
                raise OSError(f"the parser process did not start within {STARTUP_SECONDS:g}s")
            word, self.idle_cpu = self.conn.recv()
            if word != "ready":
                raise OSError(f"the parser process said {word!r}, not that it is ready")
            self.ready = True

    def call(self, content: bytes, url: str, headers: Mapping[str, str]) -> tuple[bool, Read | str]:
        """One parse (in a thread of the pool: the pipe blocks)."""
        self.conn.send((content, url, dict(headers)))
        ok, answer, self.idle_cpu = self.conn.recv()
        return ok, answer

    def cpu_seconds(self) -> float:
        """The worker's CPU seconds so far (Linux: /proc; elsewhere infinite, so the limit is the wall clock's)."""
        try:
            with open(f"/proc/{self.process.pid}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError, IndexError):
            return float("inf")

    def kill(self) -> None:
        """Stop the worker now. Its pipe is left to close with the object: a thread may still be reading it
        (it reads EOF, since the worker held the only other end)."""
        self.process.kill()
        self.process.join(5)

    def stop(self) -> None:
        self.conn.close()  # the worker reads EOF and returns
        self.process.join(2)
        if self.process.is_alive():
            self.kill()


class ParsePool:
    """At most ``workers`` parses at once, in worker processes; each bounded by ``timeout`` seconds."""

    def __init__(self, workers: int, timeout: float) -> None:
        if workers < 1:
            raise ValueError(f"a parse pool needs at least one worker, got {workers}")
        self.workers = workers
        self.timeout = timeout
        self._threads = ThreadPoolExecutor(workers, thread_name_prefix="poll-parse")
        self._idle: list[_Worker | None] = [None] * workers  # None: not started (or killed) yet
        self._free: asyncio.Semaphore | None = None

    async def read(self, content: bytes, url: str, headers: Mapping[str, str]) -> Read:
        """Parse one feed in a worker; :class:`FeedError` when it is no feed, too slow, or killed its worker."""
        if self._free is None:
            self._free = asyncio.Semaphore(self.workers)
        async with self._free:
            worker: _Worker | None = self._idle.pop() or _Worker()
            assert worker is not None
            try:
                ok, answer = await self._call(worker, content, url, headers)
            except TimeoutError:
                log.warning("feed %s: parsing took more than %gs of CPU; its parser was stopped", url, self.timeout)
                worker.kill()
                worker = None
                raise FeedError(f"{url}: parsing took more than {self.timeout:g}s of CPU; given up") from None
            except (EOFError, OSError) as exc:
                code = worker.process.exitcode
                worker.kill()
                worker = None
                raise FeedError(f"{url}: its parser process died (exit code {code}): {exc!r}") from None
            except BaseException:  # cancelled mid-parse: the worker's answer would go to the next feed
                worker.kill()
                worker = None
                raise
            finally:
                self._idle.append(worker)
        if ok:
            assert not isinstance(answer, str)
            return answer
        assert isinstance(answer, str)
        raise FeedError(answer)

    async def _call(self, worker: _Worker, content: bytes, url: str,
                    headers: Mapping[str, str]) -> tuple[bool, Read | str]:
        """The parse, bounded by the worker's own CPU seconds (so a loaded machine does not cut off a big
        feed a quiet one reads), and by ten times as many seconds of wall clock; else ``TimeoutError``."""
        loop = asyncio.get_running_loop()
        if not worker.ready:
            await loop.run_in_executor(self._threads, worker.wait_ready)
        # the CPU at the start is what the worker said in its last answer: /proc is read only if it is slow
        cpu0, start = worker.idle_cpu, time.monotonic()
        call = loop.run_in_executor(self._threads, worker.call, content, url, headers)
        try:
            while True:
                done, _ = await asyncio.wait({call}, timeout=self.timeout / 4)
                if done:
                    return call.result()
                used = worker.cpu_seconds() - cpu0  # infinite where there is no /proc: the wall clock bounds it
                if (math.isfinite(used) and used >= self.timeout) or time.monotonic() - start >= 10 * self.timeout:
                    raise TimeoutError
        finally:
            call.cancel()  # if still running, its thread ends with the killed worker's EOF, which no one awaits

    def close(self) -> None:
        for worker in self._idle:
            if worker is not None:
                worker.stop()
        self._idle = [None] * self.workers
        self._threads.shutdown(wait=False, cancel_futures=True)
