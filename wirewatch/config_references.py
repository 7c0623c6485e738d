"""What a configuration refers to that does not exist, read from its raw data before validation.

In: the TOML data as parsed, the file's text (for line numbers) and, optionally, a way to name the topics
of a rules folder. Out: one line per problem — a watch defined twice, a watch with no seed or a seed file
that cannot be read, a subscriber following an unknown watch or topic — for :func:`wirewatch.config.
load_settings` to report together with every other error.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from typing import Any

TopicNames = Callable[[str], "set[str] | None"]  # the topic names of a rules folder ('' = the bundled one)


def line_of(text: str, key: str) -> int | None:
    """The line of the file where ``key`` is set (or opens a table), or None."""
    pattern = re.compile(rf"^\s*(\[+\s*)?\"?{re.escape(key)}\"?\s*(=|\]|\.)", re.MULTILINE)
    match = pattern.search(text)
    return text.count("\n", 0, match.start()) + 1 if match else None


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def reference_problems(data: dict[str, Any], source: str, text: str, topics: TopicNames | None) -> list[str]:
    """What refers to something that does not exist, read from the raw data (so that it is reported
    together with every other error)."""
    problems = []
    watches = _dicts(data.get("watches"))
    watch_ids = [str(w.get("id")) for w in watches]
    dupes = sorted({w for w in watch_ids if watch_ids.count(w) > 1})
    if dupes:
        problems.append(f"{source}: watch id(s) defined twice: {', '.join(dupes)}")
    for watch in watches:
        if not (watch.get("seed_url") or watch.get("seed_text") or watch.get("seed_file")):
            problems.append(f"{source}: watch '{watch.get('id')}' needs seed_url, seed_text or seed_file")
        seed_file = watch.get("seed_file")
        if isinstance(seed_file, str) and seed_file and not os.access(seed_file, os.R_OK):
            line = next((n for n, row in enumerate(text.splitlines(), 1) if seed_file in row), None)
            reason = "no such file" if not os.path.exists(seed_file) else "not readable"
            problems.append(f"{source}{f':{line}' if line else ''}: watch '{watch.get('id')}': seed_file "
                            f"{seed_file}: {reason}")
    known: set[str] | None = None
    if topics is not None:
        section = data.get("classify")
        classify = section if isinstance(section, dict) else {}
        try:
            known = topics(str(classify.get("rules_dir") or ""))
        except (OSError, ValueError):
            known = None  # the rules folder itself is reported when the classifier starts
    for sub in _dicts(data.get("subscribers")):
        listed = sub.get("watches")
        followed = listed if isinstance(listed, list) else []
        unknown = [str(w) for w in followed if str(w) not in watch_ids]
        if unknown:
            problems.append(f"{source}: subscriber {sub.get('email')} follows unknown watch(es): {', '.join(unknown)}")
        asked = sub.get("topics")
        wanted = asked if isinstance(asked, dict) else {}
        strange = [str(t) for t in wanted if known is not None and str(t) not in known]
        if strange:
            line = line_of(text, strange[0]) if text else None
            problems.append(f"{source}{f':{line}' if line else ''}: subscriber {sub.get('email')} subscribes to "
                            f"unknown topic(s) {', '.join(strange)} (the topics are: {', '.join(sorted(known or ()))})")
    return problems
