"""The extract stage: fetch an entry's page and extract the article with trafilatura.

In: :class:`Entry`. Out: :class:`Article`. The page is fetched with limits (``wirewatch.http``),
then trafilatura extracts text, title, author, date and site name and py3langid identifies the
language, in one pass over one parsed tree (``process.page_text``, imported by the pool's workers, and by this
process only when it extracts a page itself: commands that do not extract never load trafilatura).
When the page cannot be fetched, is not HTML, or yields less than ``min_text_chars`` of text, the
feed's summary is used instead and the article says so (``text_source = "feed_summary"``,
``fetch_error``). ``provenance`` names the source of each field.

A page still loading after ``page_patience_seconds`` (a slow server) does not hold back its batch:
its fetch goes on in the background, bounded by its own deadline, and its entry goes back to the
end of ``entries`` (an output, published before the batch is committed, so nothing is lost); when
it comes again, the page fetched meanwhile is used. Once all but a tenth of a batch's pages are in,
the last ones get :data:`STRAGGLER_GRACE` seconds more at most (or as long again as the batch has
waited), not the whole patience; and a batch made only of entries that came back waits at most
:data:`COMEBACK_WAIT` seconds for their pages: a slow server costs the other pages about a second.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import multiprocessing.context
import os
import signal
import sys
import time
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, ThreadPoolExecutor, wait
from concurrent.futures import TimeoutError as FuturesTimeout
from typing import Any

import httpx
from lxml import html as lxml_html
from wirewatch.process.robots import RobotsRules

from wirewatch.config import ExtractSettings, HttpSettings
from wirewatch.host_gate import HostGate
from wirewatch.http import Fetched, FetchError, fetch
from wirewatch.kafka import ARTICLES, ENTRIES, Output
from wirewatch.safe_display import one_line
from wirewatch.schema import Article, Entry, TextSource

log = logging.getLogger(__name__)

MAX_CRAWL_DELAY = 30.0  # a robots.txt Crawl-delay above this is capped, not obeyed to the letter
HTML_TYPES = ("text/html", "application/xhtml+xml", "text/xml", "application/xml")
FORGET_FETCH_SECONDS = 600.0  # a background fetch whose entry never came back (another worker took it)
STRAGGLER_GRACE = 1.0  # seconds a batch waits for its last pages once nine tenths are in (at least)
COMEBACK_WAIT = 1.0  # seconds a batch of entries that came back waits for their pages, at most
POOL_START_SECONDS = 60.0  # a pool not started by then (normally 1-6 s): that batch is extracted in-process


def strip_html(fragment: str) -> str:
    """Plain text of an HTML fragment such as a feed summary."""
    if "<" not in fragment:
        return fragment.strip()
    try:
        return " ".join(lxml_html.fromstring(f"<div>{fragment}</div>").text_content().split())
    except Exception:
        return fragment.strip()


def detect_language(text: str) -> str:
    from wirewatch.process.page_text import detect_language as identify

    return identify(text)


def page_problem(page: Fetched) -> str:
    """Why a fetched page cannot be extracted, or '' if it can."""
    if page.status >= 400:
        return f"HTTP {page.status}"
    ctype = page.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype and not ctype.startswith(HTML_TYPES):
        return f"not HTML (content-type {ctype})"
    head = page.content[:1024]
    if b"\x00" in head:
        return "not HTML (binary content)"
    if not page.content.strip():
        return "empty page"
    return ""


def extract_html(content: bytes, url: str, need_date: bool = True) -> dict[str, Any] | str:
    """trafilatura on one page: the fields it found, or a string saying why it failed.

    A plain function of bytes, so that it can run in a worker process; it never raises. With
    ``need_date=False`` (the feed gave the date) the page's date is not searched for.
    """
    from wirewatch.process.page_text import extract_page

    return extract_page(content, url, need_date)


def build_article(entry: Entry, page: Fetched | None, fetch_error: str, settings: ExtractSettings) -> Article:
    """Combine the page's extraction (if usable) with the feed entry into an :class:`Article`."""
    problem = fetch_error or (page_problem(page) if page is not None else "no page fetched")
    result = extract_html(page.content, page.url, not entry.published) if not problem and page is not None else {}
    return assemble(entry, result, problem, settings)


def cut_text(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters: at the last paragraph's end in its last tenth, if any,
    else at the last space there, else at the limit."""
    head = text[:limit]
    for sep in ("\n", " "):
        at = head.rfind(sep)
        if at >= limit * 9 // 10:
            return head[:at].rstrip()
    return head


def assemble(entry: Entry, result: dict[str, Any] | str, problem: str, settings: ExtractSettings) -> Article:
    """The article from an extraction result (or the reason there is none) and the feed entry."""
    extracted: dict[str, Any] = {}
    if isinstance(result, str):
        problem = problem or result
    else:
        extracted = result
    if not problem and len((extracted.get("text") or "").strip()) < settings.min_text_chars:
        problem = f"page yielded {len((extracted.get('text') or '').strip())} chars of text"
    provenance: dict[str, str] = {}

    def pick(field: str, page_value: Any, feed_value: Any) -> Any:
        if page_value:
            provenance[field] = "page"
            return page_value
        provenance[field] = "feed" if feed_value else "none"
        return feed_value

    source: TextSource
    if problem:
        text = strip_html(entry.summary) or entry.title
        provenance["text"] = "feed" if entry.summary else "feed_title"
        source = "feed_summary"
    else:
        text = extracted["text"].strip()
        provenance["text"] = "page"
        source = "page"
    if len(text) > settings.max_text_chars:
        log.warning("extract %s: its text of %d characters is cut to [extract] max_text_chars (%d)",
                    entry.article_id, len(text), settings.max_text_chars)
        provenance["text_cut_from"] = str(len(text))  # characters, before the cut
        text = cut_text(text, settings.max_text_chars)
    title = pick("title", extracted.get("title"), entry.title)
    author = pick("author", extracted.get("author"), entry.author)
    published = entry.published or extracted.get("date") or None
    provenance["published"] = "feed" if entry.published else ("page" if published else "none")
    language = "" if problem else extracted.get("language") or ""
    if language:  # identified from the page's text by the extraction itself
        provenance["language"] = "detected" if extracted.get("language_source") == "detected" else "page"
    else:
        language = detect_language(f"{title}\n{text}")
        provenance["language"] = "detected" if language else "none"
    return Article(entry=entry, title=one_line(title or ""), text=text, author=author or "", published=published,
                   language=language, sitename=extracted.get("sitename") or "",
                   description=extracted.get("description") or "", text_source=source, fetch_error=problem,
                   provenance=provenance)


def _pool_context() -> multiprocessing.context.BaseContext:
    # never fork a process that runs Kafka client threads: the children would inherit held locks
    if not sys.platform.startswith("linux"):
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    # the fork server imports trafilatura and loads py3langid's model once, and each worker is forked from it with
    # both. (Each worker still runs its parent's main script file again, as spawn does: under the `wirewatch`
    # command that is `wirewatch.__main__`, which imports nothing more. The default preload, "__main__", never
    # helped: Python 3.11's fork server is not given the script's path.)
    context.set_forkserver_preload(["wirewatch.process.pool_preload"])
    return context


def _start_pool(workers: int) -> ProcessPoolExecutor:
    """A pool of worker processes, returned once each has extracted a warm-up page (its fork server loaded
    the rest). Until then a worker may not have been forked yet, and one forked after this process
    exited would find its queues gone: so the pool is only handed out (and shut down) started."""
    from wirewatch.process import pool_tasks

    pool = ProcessPoolExecutor(workers, mp_context=_pool_context(), initializer=pool_tasks.follow_stage,
                               initargs=(os.getpid(),))  # no worker outlives a stage killed by SIGKILL
    try:  # one task each: a worker process is started per task while none is idle
        warm = [pool.submit(pool_tasks.warm_up) for _ in range(workers)]
        for future in warm:
            future.result(timeout=POOL_START_SECONDS)
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    return pool


def _stop_fork_server() -> None:
    """Kill this process's fork server (Linux pools: ``_pool_context``) while a pool is still starting on it:
    no worker can then be forked after this process is gone, and the start fails at once (its waiting
    ``Process.start`` reads the end of the server's socket) instead of being waited for. A later pool
    starts a new server. The workers already forked are the pool's, shut down with it."""
    from multiprocessing import forkserver

    # the server's pid is only kept privately by the module (Python 3.11-3.13: ForkServer._forkserver_pid)
    pid = getattr(getattr(forkserver, "_forkserver", None), "_forkserver_pid", None)
    if isinstance(pid, int) and pid > 0:  # a child of this process, not reaped: its pid is still its own
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _shut_down(starting: Future[ProcessPoolExecutor]) -> None:
    """Shut the pool down: one still starting is cut short (its fork server stopped, :func:`_stop_fork_server`),
    then waited for, so that no worker is forked after the exit."""
    if not starting.done() and sys.platform.startswith("linux"):
        _stop_fork_server()
    try:
        pool = starting.result(timeout=POOL_START_SECONDS)
    except Exception:  # never started, or not in time: nothing to wait for
        return
    pool.shutdown(wait=True, cancel_futures=True)


class Extractor:
    """The extract stage: ``handle(entry)`` for one, ``handle_batch(entries)`` for a consumed batch.

    A batch is fetched concurrently (threads) and extracted in a pool of worker processes sized to
    the cores, so that extraction, which is CPU-bound, uses every core. The pool starts in the
    background when the stage is built (meanwhile the stage joins its consumer group), and its
    workers import only ``process.page_text`` (this process does not: ``process.pool_tasks``). A page whose
    extraction outlasts ``extraction_timeout_seconds`` falls back to the feed summary and the pool is replaced.
    """

    def __init__(self, settings: ExtractSettings, http: HttpSettings, client: httpx.Client) -> None:
        self.settings = settings
        self.http = http
        self.client = client
        self.workers = settings.workers or os.cpu_count() or 1
        self._fetchers = ThreadPoolExecutor(settings.fetch_concurrency, thread_name_prefix="fetch")
        self._pool: Future[ProcessPoolExecutor] | None = None  # being started, or started
        if self.workers > 1:
            self._pool = self._fetchers.submit(_start_pool, self.workers)
        self.robots = RobotsRules(client, deadline=settings.deadline_seconds) if settings.respect_robots_txt else None
        self.hosts = HostGate(http.per_host_concurrency, http.per_host_delay_seconds)
        # fetches of pages that outlasted the patience: (article id, url) -> (fetch, when it was started)
        self._slow: dict[tuple[str, str], tuple[Future[tuple[Fetched | None, str]], float]] = {}

    def close(self) -> None:
        self._fetchers.shutdown(wait=False, cancel_futures=True)
        if self._pool is not None:
            _shut_down(self._pool)  # a pool still starting is cut short (an empty run never waits for it)
            self._pool = None

    def _fetch(self, entry: Entry) -> tuple[Fetched | None, str]:
        try:
            return self._fetch_page(entry)
        except Exception as exc:  # a bug met by one hostile link: this entry falls back, the batch goes on
            log.exception("extract %s: fetching %r failed unexpectedly", entry.article_id, entry.url[:300])
            return None, f"{entry.url}: unexpected failure: {type(exc).__name__}: {exc}"

    def _fetch_page(self, entry: Entry) -> tuple[Fetched | None, str]:
        if not entry.url.lower().startswith(("http://", "https://")):
            return None, f"entry has no http(s) link: {entry.url!r}"
        try:
            if self.robots is not None:
                refusal = self.robots.refusal(entry.url)
                if refusal:
                    return None, f"{entry.url}: {refusal}"
            delay = self.robots.crawl_delay(entry.url) if self.robots is not None else 0.0
            with self.hosts.slot(entry.url, min(delay, MAX_CRAWL_DELAY)):
                page = fetch(self.client, entry.url, self.settings.max_bytes, deadline=self.settings.deadline_seconds)
        except FetchError as exc:
            return None, str(exc)
        return page, page_problem(page)

    def worker_pool(self) -> ProcessPoolExecutor | None:
        """The extraction workers (waited for while they start), or None: extract in this process."""
        if self.workers <= 1:
            return None
        if self._pool is None:
            self._pool = self._fetchers.submit(_start_pool, self.workers)
        try:
            return self._pool.result(timeout=POOL_START_SECONDS)
        except Exception as exc:  # no worker processes here (or not yet): this batch is extracted in-process
            log.error("extraction pool not started (%s: %s); extracting in this process", type(exc).__name__, exc)
            if self._pool.done():
                self._pool = None  # tried again at the next batch
            return None

    def _extract_all(self, entries: list[Entry], pages: list[Fetched | None]) -> list[dict[str, Any] | str]:
        """Each usable page's extraction ({} where there is no page), with the date searched for only
        where the feed gave none."""
        todo = [(i, page) for i, page in enumerate(pages) if page is not None]
        results: list[dict[str, Any] | str] = [{} for _ in pages]
        pool = self.worker_pool() if todo else None
        futures: dict[int, Future[dict[str, Any] | str]] = {}
        if pool is not None:
            from wirewatch.process import pool_tasks  # by reference: neither process loads the other's modules

            try:
                futures = {i: pool.submit(pool_tasks.extract_page, page.content, page.url, not entries[i].published)
                           for i, page in todo}
            except RuntimeError as exc:  # a broken pool (a worker died meanwhile): this batch is extracted here
                log.warning("extraction pool unusable (%s: %s)", type(exc).__name__, exc)
                self._replace_pool()
                futures, pool = {}, None
        if pool is None:
            for i, page in todo:
                results[i] = extract_html(page.content, page.url, not entries[i].published)
            return results
        deadline = time.monotonic() + self.settings.extraction_timeout_seconds
        broken = False
        for i, future in futures.items():
            try:
                results[i] = future.result(timeout=max(0.1, deadline - time.monotonic()))
            except FuturesTimeout:
                results[i] = f"extraction timed out after {self.settings.extraction_timeout_seconds:g}s"
                broken = True
            except Exception as exc:  # a worker process died (e.g. out of memory): fall back, replace the pool
                results[i] = f"extraction failed: {type(exc).__name__}: {exc}"
                broken = True
        if broken:
            self._replace_pool()
        return results

    def _replace_pool(self) -> None:
        starting, self._pool = self._pool, None
        if starting is not None and starting.done() and starting.exception() is None:
            pool = starting.result()
            for proc in list(getattr(pool, "_processes", {}).values()):
                proc.terminate()
            pool.shutdown(wait=False, cancel_futures=True)
        self._pool = self._fetchers.submit(_start_pool, self.workers)  # ready, if it can be, by the next batch
        log.warning("extraction pool replaced after a timeout or a dead worker")

    def _fetch_all(self, entries: list[Entry]) -> list[tuple[Fetched | None, str] | None]:
        """Each entry's page, or None for a page still loading after the patience (fetched on meanwhile).

        The patience runs for the pages of new entries, cut short for the last tenth of them once the rest
        are in; a batch made only of entries that came back waits for them up to :data:`COMEBACK_WAIT`, so
        that a slow page is asked for at that pace and holds back the entries behind it little."""
        now = time.monotonic()
        self._slow = {k: v for k, v in self._slow.items() if not v[0].done() or now - v[1] < FORGET_FETCH_SECONDS}
        futures, fresh = [], []
        for entry in entries:
            slow = self._slow.get((entry.article_id, entry.url))
            futures.append(slow[0] if slow else self._fetchers.submit(self._fetch, entry))
            if slow is None:
                fresh.append(futures[-1])
        waited_for = fresh or futures
        patience = now + (self.settings.page_patience_seconds if fresh else
                          min(self.settings.page_patience_seconds, COMEBACK_WAIT))
        stragglers, cut = max(1, len(waited_for) // 10), False
        while (left := patience - time.monotonic()) > 0:
            pending = [f for f in waited_for if not f.done()]
            if not pending:
                break
            if not cut and len(pending) <= stragglers < len(waited_for):  # the rest are in: a grace, not the patience
                cut, waited = True, time.monotonic() - now
                patience = min(patience, time.monotonic() + max(STRAGGLER_GRACE, waited))
                continue
            wait(pending, timeout=left, return_when=FIRST_COMPLETED)
        pages: list[tuple[Fetched | None, str] | None] = []
        for entry, future in zip(entries, futures, strict=True):
            key = (entry.article_id, entry.url)
            if future.done():
                self._slow.pop(key, None)
                pages.append(future.result())
            else:
                self._slow.setdefault(key, (future, now))
                pages.append(None)
        return pages

    def handle_batch(self, entries: list[Entry]) -> list[list[Output]]:
        pages = self._fetch_all(entries)
        fetched = [p if p is not None else (None, "") for p in pages]
        usable = [page if page is not None and not problem else None for page, problem in fetched]
        results = self._extract_all(entries, usable)
        outputs: list[list[Output]] = []
        for entry, loaded, (_page, problem), result in zip(entries, pages, fetched, results, strict=True):
            if loaded is None:
                log.info("extract %s: %s is slow to load; its entry goes back to the queue meanwhile",
                         entry.article_id, entry.url[:300], extra={"article_id": entry.article_id})
                outputs.append([Output(ENTRIES, entry.article_id, entry)])
                continue
            article = assemble(entry, result, problem, self.settings)
            if article.fetch_error:
                log.warning("extract %s: using the feed summary: %s", entry.article_id, article.fetch_error,
                            extra={"article_id": entry.article_id})
            outputs.append([Output(ARTICLES, entry.article_id, article)])
        return outputs

    def handle(self, entry: Entry) -> list[Output]:
        return self.handle_batch([entry])[0]
