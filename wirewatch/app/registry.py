"""The registry of stages: the one place the app learns which stages exist, in pipeline order.

In: the stage packages' declarations (``ingest/stage.py``, ``process/stage.py``, ``alerts/stage.py``).
Out: :data:`STAGES` and look-ups by name, for pipeline assembly, the CLI's stage commands, status and
the web's operations page. Importing it imports no stage's heavy modules: each declaration builds its
stage only when it runs.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping

from wirewatch.alerts.stage import ALERT
from wirewatch.ingest.stage import POLL
from wirewatch.process.stage import CLASSIFY, EXTRACT
from wirewatch.stage import SourceStage, Stage, StageError

STAGES: tuple[Stage, ...] = (POLL, EXTRACT, CLASSIFY, ALERT)
NAMES: tuple[str, ...] = tuple(s.name for s in STAGES)


def stage(name: str) -> Stage:
    """The stage of that name; a :class:`StageError` naming the known ones otherwise."""
    found = find(name)
    if found is not None:
        return found
    raise StageError(f"unknown stage {name!r}; expected one of {', '.join(NAMES)}")


def find(name: str) -> Stage | None:
    """The stage of that name, or None (a worker row written by another version, say)."""
    return next((s for s in STAGES if s.name == name), None)


def is_source(name: str) -> bool:
    """Whether the stage of that name reads no topic (its workers report no lag)."""
    return isinstance(find(name), SourceStage)


def summary(name: str, events: Mapping[str, int]) -> str:
    """The stage's summary of its events for ``wirewatch status`` ('' if it has none)."""
    found = find(name)
    return found.summary.format_map(defaultdict(int, events)) if found is not None else ""
