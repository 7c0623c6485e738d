"""The registry of stages: the one place the app learns which stages exist, in pipeline order.

In: the stage packages' declarations (``ingest/stage.py``, ``process/stage.py``, ``alerts/stage.py``).
Out: :data:`STAGES` and look-ups by name, for pipeline assembly, the CLI's stage commands, status and
the web's operations page; and :data:`ingest`, :data:`process`, :data:`alerts`, each stage package's
``tools`` module: what the app may use of a stage besides running it (its store, OPML, back-testing,
the rule language...). No other module of the app imports a stage. Importing the registry imports no
stage's heavy modules: each declaration builds its stage only when it runs, and each tool is imported
when first used.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping

from wirewatch.alerts import tools as alerts
from wirewatch.alerts.stage import ALERT
from wirewatch.ingest import tools as ingest
from wirewatch.ingest.stage import POLL
from wirewatch.process import tools as process
from wirewatch.process.stage import CLASSIFY, EXTRACT
from wirewatch.stage import SourceStage, Stage, StageError

STAGES: tuple[Stage, ...] = (POLL, EXTRACT, CLASSIFY, ALERT)
NAMES: tuple[str, ...] = tuple(s.name for s in STAGES)

__all__ = ["NAMES", "STAGES", "alerts", "find", "ingest", "is_source", "process", "stage", "summary"]


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
