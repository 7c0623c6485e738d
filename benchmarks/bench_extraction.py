"""Benchmark: what each change to the extraction bought, on the 181 real gold pages, in one process.

In: ../shared/data/pages (gzipped HTML, gold text in ``ground-truth.json``). Out: for each variant,
CPU milliseconds per page, the token F1 of its text against the gold bodies, the pages left under
200 characters (they would fall back to the feed summary), and how often its date and language agree
with the previous code's; baseline in the same run: bare ``trafilatura.extract(html)`` (defaults).
The variants add one change at a time, from the extraction as it was before issue 14 to
``process.page_text.extract_page`` as it runs now (and as it ran with
trafilatura's whole metadata). Each variant runs ``--repeat`` times and its
fastest run counts (machines are noisy; the other runs only slow it down), each run in a fresh
process, so that no cache of trafilatura or htmldate has seen the pages before. Run:

    .venv/bin/python benchmarks/bench_extraction.py [--shared ../shared] [--repeat 2]
"""

from __future__ import annotations

import argparse
import multiprocessing
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import htmldate
import py3langid
import trafilatura
from bench_pipeline import Page, load_pages
from trafilatura.settings import set_date_params
from wirewatch.process.extraction_quality import token_f1
from wirewatch.process.page_text import FIELDS, detect_language, extract_page, lighten

Variant = Callable[[Page], dict[str, Any]]


def _fields(doc: Any) -> dict[str, Any]:
    if doc is None:
        return {"text": "", "title": "", "date": None}
    return {"text": doc.text or "", "title": doc.title, "date": doc.date}


def before(langid_chars: int = 2000, second_date_pass: bool = True, **options: Any) -> Variant:
    """The extraction before issue 14 (metadata, a second htmldate pass when no date, py3langid), with options."""
    def run(page: Page) -> dict[str, Any]:
        doc = trafilatura.bare_extraction(page.html, url=page.url, with_metadata=True, include_comments=False,
                                          include_tables=False, **options)
        found = _fields(doc)
        if second_date_pass and not found["date"]:
            found["date"] = htmldate.find_date(page.html, extensive_search=True, original_date=True)
            found["second_pass"] = True
        text = f"{found['title'] or ''}\n{found['text'].strip()}"
        found["language"] = py3langid.classify(text[:langid_chars])[0] if len(text.strip()) >= 20 else ""
        return found
    return run


def whole_metadata(need_date: bool) -> Variant:
    """extract_page as it was before it skipped the metadata wirewatch never reads (trafilatura's whole
    ``extract_metadata``: categories, tags, licence too), the rest as now."""
    def run(page: Page) -> dict[str, Any]:
        doc = trafilatura.bare_extraction(lighten(page.html), url=page.url, fast=True, with_metadata=True,
                                          include_comments=False, include_tables=False,
                                          date_extraction_params=set_date_params(need_date))
        found = {k: getattr(doc, k, None) for k in FIELDS} if doc is not None else {"text": "", "date": None}
        text = (found["text"] or "").strip()
        found["language"] = detect_language(f"{found.get('title') or ''}\n{text}") if text else ""
        return found
    return run


def now(need_date: bool) -> Variant:
    def run(page: Page) -> dict[str, Any]:
        found = extract_page(page.html, page.url, need_date)
        return found if isinstance(found, dict) and found else {"text": "", "date": None, "language": ""}
    return run


def bare(page: Page) -> dict[str, Any]:
    return {"text": trafilatura.extract(page.html) or "", "date": None, "language": None}


VARIANTS: list[tuple[str, Variant]] = [
    ("bare trafilatura.extract (baseline)", bare),
    ("before: metadata, 2nd htmldate pass, langid 2000", before()),
    ("  - the 2nd htmldate pass", before(second_date_pass=False)),
    ("  + fast=True", before(second_date_pass=False, fast=True)),
    ("  + language from the text's first 600 chars", before(600, second_date_pass=False, fast=True)),
    ("whole metadata, the feed has no date", whole_metadata(need_date=True)),
    ("whole metadata, the feed dates the entry", whole_metadata(need_date=False)),
    ("now, the feed has no date (extract_page)", now(need_date=True)),
    ("now, the feed dates the entry (no date search)", now(need_date=False)),
]


WARM_UP = Page("warm-up", ("<html><head><title>Warm-up</title></head><body><article>"
                           + "<p>A paragraph of words written for warming up the extractor, nothing else.</p>" * 20
                           + "</article></body></html>").encode(), "", "https://warm.test/up")


def _timed(index: int, shared: Path) -> tuple[float, list[dict[str, Any]]]:
    """One pass of a variant over the pages in a fresh process: htmldate and trafilatura cache what
    they saw, and a page seen before is cheaper the second time, which a new article never is."""
    pages = load_pages(shared)
    variant = VARIANTS[index][1]
    variant(WARM_UP)  # imports and lazy tables
    start = time.process_time()
    results = [variant(p) for p in pages]
    return (time.process_time() - start) / len(pages) * 1000, results


def measure(index: int, shared: Path, repeat: int) -> tuple[float, list[dict[str, Any]]]:
    best, results = float("inf"), []
    for _ in range(repeat):
        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
            ms, results = pool.submit(_timed, index, shared).result()
        best = min(best, ms)
    return best, results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[2] / "shared")
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    pages = load_pages(args.shared)
    reference: list[dict[str, Any]] = []
    print(f"{len(pages)} real pages; CPU ms per page (fastest of {args.repeat} runs), token F1 against the gold bodies")
    for index, (name, variant) in enumerate(VARIANTS):
        ms, results = measure(index, args.shared, args.repeat)
        reference = reference or ([] if variant is bare else results)
        f1 = sum(token_f1(r["text"], p.gold) for r, p in zip(results, pages, strict=True)) / len(pages)
        short = sum(len(r["text"].strip()) < 200 for r in results)
        line = f"{name:52s} {ms:6.1f} ms/page  F1 {f1:.4f}  under 200 chars {short}"
        if reference and variant is not bare:
            dates = sum(str(r["date"]) == str(b["date"]) for r, b in zip(results, reference, strict=True))
            langs = sum(r["language"] == b["language"] for r, b in zip(results, reference, strict=True))
            line += f"  date as before {dates}/{len(pages)}, language as before {langs}/{len(pages)}"
        if any(r.get("second_pass") for r in results):
            line += f"  (2nd pass ran on {sum(bool(r.get('second_pass')) for r in results)} pages)"
        print(line, flush=True)


if __name__ == "__main__":
    main()
