"""How far the fast feed reading reaches: which of ../shared's real feed snapshots (and, with ``--cases``,
feedparser's parser cases) it takes, and why it leaves each of the others to feedparser.

In: ../shared/data/feeds (and data/feed-cases). Out: one line per snapshot left to feedparser with
its reason (from :func:`~wirewatch.ingest.fast_feed.why_not_fast`, served as application/rss+xml), a
count per reason, and "N of 66 snapshots, N of 55 RSS/Atom/RDF" (JSON Feed is read by our own JSON
reader, never feedparser). Run:

    .venv/bin/python benchmarks/fast_path_reach.py [--cases] [--shared ../shared]
"""

from __future__ import annotations

import argparse
import os
import re
from collections import Counter
from pathlib import Path

from wirewatch.ingest.fast_feed import why_not_fast

RSS = {"Content-Type": "application/rss+xml"}


def snapshots(shared: Path) -> list[Path]:
    """The real snapshots, as the fast path's tests count them (licences and notes left out)."""
    return sorted(p for p in (shared / "data" / "feeds").rglob("*")
                  if p.is_file() and p.suffix != ".txt" and not p.name.startswith("LICENSE"))


def _kind(reason: str) -> str:
    """A reason with its particulars (an element's name, an encoding) kept, quoted values folded."""
    return re.sub(r"'[^']*'", "'…'", reason) if reason.startswith("encoding") else reason


def report(paths: list[Path], root: Path, verbose: bool) -> tuple[int, int, Counter[str]]:
    taken, json_feeds, reasons = 0, 0, Counter[str]()
    for path in paths:
        content = path.read_bytes()
        if path.suffix == ".json" or content.lstrip()[:1] == b"{":
            json_feeds += 1
            continue
        why = why_not_fast(content, RSS)
        if not why:
            taken += 1
            continue
        reasons[_kind(why)] += 1
        if verbose:
            print(f"  {path.relative_to(root)}: {why}")
    return taken, json_feeds, reasons


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    shared = os.environ.get("WIREWATCH_SHARED", Path(__file__).resolve().parents[2] / "shared")
    parser.add_argument("--shared", type=Path, default=Path(shared))
    parser.add_argument("--cases", action="store_true", help="also count feedparser's parser cases (reasons only)")
    args = parser.parse_args()
    feeds = snapshots(args.shared)
    print("real snapshots left to feedparser, and why:")
    taken, json_feeds, reasons = report(feeds, args.shared / "data" / "feeds", verbose=True)
    print("reasons:")
    for why, count in reasons.most_common():
        print(f"  {count:3d}  {why}")
    xml = len(feeds) - json_feeds
    print(f"fast path: {taken} of {len(feeds)} snapshots ({json_feeds} JSON Feed, read by our own reader); "
          f"{taken} of {xml} RSS/Atom/RDF; {xml - taken} left to feedparser")
    if args.cases:
        cases = sorted((args.shared / "data" / "feed-cases" / "tests").rglob("*.xml"))
        taken, _, reasons = report(cases, args.shared, verbose=False)
        print(f"parser cases (as application/rss+xml): {taken} of {len(cases)} taken; commonest reasons left:")
        for why, count in reasons.most_common(12):
            print(f"  {count:4d}  {why}")


if __name__ == "__main__":
    main()
