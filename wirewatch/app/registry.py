"""The registry of stages: the one place the app learns which stages exist, in pipeline order.

In: the stage packages' declarations (``ingest/stage.py``, ``process/stage.py``, ``alerts/stage.py``).
Out: :data:`NAMES`, :func:`stage` and :func:`stages` (the declarations, for pipeline assembly, the CLI's
stage commands, status and the web's operations page); and :data:`ingest`, :data:`process`, :data:`alerts`,
each stage package's ``tools`` module: what the app may use of a stage besides running it (its store, OPML,
back-testing, the rule language...). No other module of the app imports a stage. Importing the registry
imports no stage: a declaration's module is imported when that stage is first asked for (``wirewatch
extract`` imports the process stage's declarations only; ``wirewatch feeds`` none), each declaration builds
its stage only when it runs, and each tool is imported when first used.
"""

from __future__ import annotations

import importlib
from collections import defaultdict
from collections.abc import Mapping

from wirewatch.alerts import tools as alerts
from wirewatch.ingest import tools as ingest
from wirewatch.process import tools as process
from wirewatch.stage import SourceStage, Stage, StageError

#: each stage's name -> the module and name of its declaration, in pipeline order
DECLARED: Mapping[str, tuple[str, str]] = {
    "poll": ("wirewatch.ingest.stage", "POLL"),
    "extract": ("wirewatch.process.stage", "EXTRACT"),
    "classify": ("wirewatch.process.stage", "CLASSIFY"),
    "alert": ("wirewatch.alerts.stage", "ALERT"),
}
NAMES: tuple[str, ...] = tuple(DECLARED)

__all__ = ["NAMES", "alerts", "find", "ingest", "is_source", "process", "stage", "stages", "summary"]


def stages() -> tuple[Stage, ...]:
    """Every stage's declaration, in pipeline order (importing each stage's declarations)."""
    return tuple(stage(name) for name in NAMES)


def stage(name: str) -> Stage:
    """The stage of that name; a :class:`StageError` naming the known ones otherwise."""
    found = find(name)
    if found is not None:
        return found
    raise StageError(f"unknown stage {name!r}; expected one of {', '.join(NAMES)}")


def find(name: str) -> Stage | None:
    """The stage of that name, or None (a worker row written by another version, say)."""
    if name not in DECLARED:
        return None
    module, attribute = DECLARED[name]
    declared = getattr(importlib.import_module(module), attribute)
    if not isinstance(declared, Stage) or declared.name != name:
        raise StageError(f"{module}.{attribute} does not declare the stage {name!r}")
    return declared


def is_source(name: str) -> bool:
    """Whether the stage of that name reads no topic (its workers report no lag)."""
    return isinstance(find(name), SourceStage)


def summary(name: str, events: Mapping[str, int]) -> str:
    """The stage's summary of its events for ``wirewatch status`` ('' if it has none)."""
    found = find(name)
    return found.summary.format_map(defaultdict(int, events)) if found is not None else ""
