"""The place and name keys of every row of stories-dev and news-dev, and the place keys whose match is implausible.

In: ../shared/data/stories-dev/stories-dev.jsonl and ../shared/data/news-dev.jsonl. Out, printed: with
``--rows``, for each row its place keys (``@``, each with the word it was found in and the stem that word met)
and its name keys (``^``); then, per language, the rows, the place keys found and how many of them are flagged:

- ``short``: the stem met is under five letters and the word runs two letters or more past the whole name;
- ``ending``: the word runs past the whole name by more letters than the name has beyond three (one at least);
- ``prefix``: letters before the stem, in a script that does not write clitics onto the next word (not
  Arabic, Hebrew or Syriac);
- ``lower``: a word in lower case, in a script that writes names with a capital (Latin, Cyrillic, Greek, Armenian);
- ``script``: no name of that stem (in any of the gazetteer's languages) is written in the word's script;
- ``respell``: the word's own letters (ASCII, not respelled) do not begin as any such name's do, only its rough
  respelling does (*Kılıç* → *kilik* meets *Çili* → *kili*);
- ``inside``: a place found inside a run of a script without spaces, from fewer than five letters of it or from
  its transliteration.

The reference for the flags (which names give which stem, in which script and letters) is built here from the
CLDR data babel ships, the same way for any version of the gazetteer, so that a checkout before a change and
one after are judged alike: run by another checkout's Python (``/tmp/base/.venv/bin/python
benchmarks/key_audit.py``), it audits that checkout's key functions. Run:

    .venv/bin/python benchmarks/key_audit.py [--shared ../shared] [--rows] [--json]
"""

from __future__ import annotations

import argparse
import json
import unicodedata
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

FLAGS = ("short", "ending", "prefix", "lower", "script", "respell", "inside")
CASED = frozenset({"LATIN", "CYRILLIC", "GREEK", "ARMENIAN"})
CLITICS = frozenset({"ARABIC", "HEBREW", "SYRIAC"})


def script_of(word: str) -> str:
    for ch in word:
        if ch.isalpha():
            return unicodedata.name(ch, "LATIN").split(" ", 1)[0]
    return "LATIN"


def plain(word: str) -> str:
    from anyascii import anyascii

    return "".join(ch for ch in anyascii(word).lower() if ch.isalnum())


def sources(textkeys: Any, gazetteer: Any) -> dict[str, dict[str, set[str]]]:
    """Each rough stem -> the scripts its names are written in, and their plain letters ("plain:" entries)."""
    from babel import Locale

    out: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    english = Locale("en")

    def add(local: str) -> None:
        if not local or " " in local or "-" in local or len(local) < 4:
            return
        rough = textkeys.spelling(local)
        stem = rough.rstrip("aeiouy")
        stem = stem if len(stem) >= 4 else rough
        out[stem]["scripts"].add(script_of(local))
        out[stem]["full"].add(rough)
        letters = plain(local)
        bare = letters.rstrip("aeiouy")
        out[stem]["plain"].add(bare if len(bare) >= 3 else letters)

    zones: set[str] = set()
    for lang in gazetteer.ALL_LANGUAGES:
        loc = Locale(lang)
        for code in english.territories:
            if code.isalpha() and len(code) == 2:
                add(loc.territories.get(code, ""))
        for zone in loc.time_zones:
            zones.add(zone)
            add(loc.time_zones.get(zone, {}).get("city") or "")
    for zone in zones:
        add(english.time_zones.get(zone, {}).get("city") or zone.rsplit("/", 1)[-1].replace("_", " "))
    return out


def explain(places: Any, latin: str, word: str) -> tuple[str, int, int] | None:
    """The stem ``word`` met, and the letters before and after it (either version of the gazetteer)."""
    if hasattr(places, "match"):
        found = places.match(latin, word)
        return None if found is None else (found.stem, found.prefix, found.ending)
    latin_script = word.isascii() or word[0] < "\u0250"
    for start in range(1 + (0 if latin_script else max(0, min(2, len(latin) - 4)))):
        rest = latin[start:]
        for cut in range(min(3, len(rest) - 4) + 1):
            if rest[:len(rest) - cut] in places.stems:
                return rest[:len(rest) - cut], start, cut
    return None


def flags(word: str, latin: str, place: tuple[str, int, int], known: dict[str, dict[str, set[str]]]) -> list[str]:
    stem, prefix, ending = place
    written = script_of(word)
    name = known.get(stem, {})
    found = []
    # letters the word has beyond the whole name (the stem is the name less its final vowels)
    full = max((len(f) for f in name.get("full", ()) if f.startswith(stem)), default=len(stem))
    beyond = max(0, ending - (full - len(stem)))
    if len(stem) < 5 and beyond >= 2:
        found.append("short")
    if beyond > max(1, full - 3):
        found.append("ending")
    if prefix and written not in CLITICS:
        found.append("prefix")
    if written in CASED and word[:1].islower():
        found.append("lower")
    if name and written not in name["scripts"]:
        found.append("script")
    letters = plain(word)
    if name and not any(letters.startswith(p, at) for p in name["plain"] for at in range(prefix + 1)):
        found.append("respell")
    return found


def audit(shared: Path, rows_out: bool) -> dict[str, Any]:
    from wirewatch.alerts import gazetteer, textkeys

    analyser = textkeys.Analyser.default()
    known = sources(textkeys, gazetteer)
    rows: list[dict[str, Any]] = []
    for path in (shared / "data" / "stories-dev" / "stories-dev.jsonl", shared / "data" / "news-dev.jsonl"):
        with open(path, encoding="utf-8") as fh:
            rows.extend(json.loads(line) for line in fh if line.strip())
    per_lang: dict[str, Counter[str]] = defaultdict(Counter)
    for row in rows:
        text = f"{row['title']}\n{row['text']}"
        found = analyser.analyse(text)
        lang = row.get("lang") or "?"
        tally = per_lang[lang]
        tally["rows"] += 1
        shown = []
        for key in found.keys:
            if key[0] == "^":
                tally["names"] += 1
            if key[0] != "@":
                continue
            tally["places"] += 1
            word = found.surface[key]
            latin = textkeys.spelling(word)
            if textkeys.unspaced(word) or script_of(word) in textkeys.UNSPACED:
                marks = ["inside"] if len(word) < 5 or word.isascii() else []
                stem = word
            else:
                place = explain(analyser.places, latin, word)
                marks = flags(word, latin, place, known) if place is not None else ["inside"]
                stem = place[0] if place is not None else latin
            for mark in marks:
                tally[mark] += 1
            tally["flagged"] += bool(marks)
            shown.append(f"{key}={word}<{stem}>{'!' + ','.join(marks) if marks else ''}")
        if rows_out:
            names = " ".join(sorted(k for k in found.keys if k[0] == "^"))
            print(f"{row['id']} {lang} {row.get('story', '')}: {' '.join(shown)} | {names}")
    return {lang: dict(tally) for lang, tally in sorted(per_lang.items())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[2] / "shared")
    parser.add_argument("--rows", action="store_true", help="every row's place and name keys")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = audit(args.shared, args.rows)
    if args.json:
        print(json.dumps(result, indent=1))
        return
    total: Counter[str] = Counter()
    print(f"{'lang':5} {'rows':>5} {'names':>6} {'places':>6} {'flagged':>7} " + " ".join(f"{f:>7}" for f in FLAGS))
    for lang, tally in result.items():
        total.update(tally)
        print(f"{lang:5} {tally['rows']:5} {tally.get('names', 0):6} {tally.get('places', 0):6} "
              f"{tally.get('flagged', 0):7} " + " ".join(f"{tally.get(f, 0):7}" for f in FLAGS))
    print(f"{'all':5} {total['rows']:5} {total['names']:6} {total['places']:6} {total['flagged']:7} "
          + " ".join(f"{total[f]:7}" for f in FLAGS))


if __name__ == "__main__":
    main()
