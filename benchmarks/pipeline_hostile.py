"""The bad-input mix of ``bench_pipeline.py --hostile``, and what it did to the normal articles' timing.

In: the gold texts of the real pages (for paragraphs) and one real page. Out: :func:`hostile_pages`, four
resources: a slow-loris page, for a server of its own (:data:`ON_ITS_OWN_SERVER`: the extract stage fetches
at most two pages of a host at once, so a slow page holds back its own host's, as a polite crawler must), and
for the site of the normal pages a gzip bomb, a page over the extract stage's size limit and a 4.5 MB page
under it; :func:`hostile_report`, lines comparing when the normal articles of two runs were
archived, one with the mix in the feed and one without, and what became of each hostile page.
"""

from __future__ import annotations

import gzip
from pathlib import Path

from wirewatch.devtools.site import Resource

ON_ITS_OWN_SERVER = frozenset({"/hostile/slow.html"})  # a slow server is another host: the others share the site
Archived = dict[str, dict]  # type: ignore[type-arg]  # archived articles by URL path, as bench_pipeline reads them


def hostile_pages(golds: list[str], real_page: bytes) -> dict[str, Resource]:
    """A real page trickled 16 bytes every half second, a gzip bomb (a few hundred kB inflating to 200 MB),
    a 20 MB page and a 4.5 MB page of real paragraphs (the costliest page the stage accepts), by path."""
    paragraphs = b"".join(b"<p>" + line.strip().encode() + b"</p>\n" for gold in golds[:20]
                          for line in gold.splitlines() if line.strip())

    def long_page(size: int) -> bytes:
        body = (paragraphs * (size // len(paragraphs) + 1))[:size]
        return b"<html><head><title>A very long page</title></head><body><article>" + body + \
            b"</article></body></html>"

    bomb = gzip.compress(b"<html><body><p>" + b" " * 200_000_000 + b"</p></body></html>", compresslevel=9)
    return {"/hostile/slow.html": Resource(real_page, trickle=0.5),
            "/hostile/bomb.html": Resource(bomb, headers={"Content-Encoding": "gzip"}),
            "/hostile/huge.html": Resource(long_page(20_000_000)),
            "/hostile/large.html": Resource(long_page(4_500_000))}


def hostile_path(rnd: int, path: str) -> str:
    """Where round ``rnd`` of the feed lists the hostile page of ``path``."""
    return path.replace("/hostile/", f"/hostile/r{rnd}/")


def _middle_rate(times: list[float]) -> float:
    """Articles per second between the 10th and the 90th percentile of their archive times."""
    lo, hi = len(times) // 10, len(times) * 9 // 10
    return (hi - lo) / max(times[hi] - times[lo], 1e-9)


def hostile_report(runs: dict[str, tuple[float, Archived]], normal: list[str], hostile: list[str]) -> list[str]:
    """``runs``: ``"without"`` and ``"with"`` the mix, each (run seconds, archived articles by path, each
    with ``archived_after`` seconds from its run's start); ``normal`` and ``hostile``: the paths listed."""
    times = {k: sorted(texts[u.lstrip("/")]["archived_after"] for u in normal if u.lstrip("/") in texts)
             for k, (_, texts) in runs.items()}
    kinds = sorted({Path(h).stem for h in hostile})
    lines = [f"hostile mix: {len(hostile)} pages among the {len(normal)} ({', '.join(kinds)} in each round); "
             "one full run with it beside the fastest full run without:"]
    for k, ts in times.items():
        lines.append(f"  {k:7s} the mix: normal articles archived {len(ts)} of {len(normal)}, half by "
                     f"{ts[len(ts) // 2]:.1f} s, the last at {ts[-1]:.1f} s after the start; "
                     f"{_middle_rate(ts):.1f} articles/s from the 10th to the 90th percentile; "
                     f"the run {runs[k][0]:.1f} s")
    lines.append(f"  normal articles' rate with the mix / without: "
                 f"{_middle_rate(times['with']) / _middle_rate(times['without']):.2f}x; the last normal "
                 f"article {times['with'][-1] / times['without'][-1]:.2f}x as late")
    texts = runs["with"][1]
    for path in hostile:
        article = texts.get(path.lstrip("/"))
        fate = (f"archived at {article['archived_after']:.1f} s, text from the {article['text_source']} "
                f"({len(article.get('text') or '')} chars)") if article else "not archived"
        lines.append(f"  {path}: {fate}")
    return lines
