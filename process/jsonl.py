"""JSON Lines input for training, back-testing and evaluation.

In: a ``.jsonl`` file. Out: its objects with their line numbers; a line that is not a JSON object
raises :class:`JsonlError` naming the file and the line. Blank lines are skipped.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any


class JsonlError(ValueError):
    """A line of a JSONL file that cannot be used; the message names file and line."""


def read_objects(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except json.JSONDecodeError as exc:
                raise JsonlError(f"{path}:{lineno}: not valid JSON: {exc.msg}") from None
            if not isinstance(item, dict):
                raise JsonlError(f"{path}:{lineno}: expected a JSON object")
            yield lineno, item
