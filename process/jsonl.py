"""JSON Lines input for training, back-testing and evaluation.

In: a ``.jsonl`` file. Out: its objects with their line numbers; a line that is not a JSON object
raises :class:`JsonlError` naming the file and the line — or, when the caller passes an ``errors``
list, is recorded there and skipped, so that the rest goes on. Blank lines are skipped.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any


class JsonlError(ValueError):
    """A line of a JSONL file that cannot be used; the message names file and line."""


def read_objects(path: str | Path, errors: list[str] | None = None) -> Iterator[tuple[int, dict[str, Any]]]:
    with open(path, encoding="utf-8", errors="replace") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            problem = ""
            try:
                item = json.loads(line)
            except json.JSONDecodeError as exc:
                problem = f"{path}:{lineno}: not valid JSON: {exc.msg} (column {exc.colno})"
            except (ValueError, RecursionError) as exc:
                problem = f"{path}:{lineno}: not valid JSON: {exc}"
            else:
                if not isinstance(item, dict):
                    problem = f"{path}:{lineno}: expected a JSON object"
            if problem:
                if errors is None:
                    raise JsonlError(problem)
                errors.append(problem)
                continue
            yield lineno, item
