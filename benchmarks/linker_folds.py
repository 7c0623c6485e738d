"""The learned story linker as eval_watch.py scores it: each fold's weights fitted by benchmarks/fit_linker.py.

In: ../shared (through :func:`fit_linker.corpus`) and eval_watch.py's :class:`~eval_watch.Data`. Out: a
:class:`~eval_watch.Linker` whose fold for a stories-dev story replays the alert stage's own code
(:func:`alerts.replay.replay_story`) with weights fitted without that story, and whose fold for news-dev (never
used in a fit) replays it with the weights fitted on everything, those ``fit_linker.py`` writes.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path

from eval_watch import Data, Replayer
from fit_linker import HAND_THRESHOLD, TREES_FP_TARGET, WATCH_FP_TARGET, corpus, fit, fit_boosted
from wirewatch.alerts.linker import LinkModel
from wirewatch.alerts.replay import replay_story, term_stats
from wirewatch.alerts.stories import Relation
from wirewatch.alerts.textkeys import Analyser, Analysis


class Learned:
    """The learned linker for eval_watch.py: each stories-dev story is scored by a bag fitted without it, news-dev
    (never used in a fit) by the bag fitted on everything, the one ``main`` writes."""

    fitted = True

    def __init__(self, shared: Path, data: Data, trees: bool = True, fp_target: float | None = None,
                 bag: bool = True, stack: bool = False) -> None:
        self.corpus = corpus(shared, data)
        self.trees = trees
        self.bag = bag
        self.stack = stack
        self.fp_target = fp_target if fp_target is not None else TREES_FP_TARGET if trees else WATCH_FP_TARGET
        model = f"{'a bag of' if bag else 'one model of'} boosted trees" if trees else "logistic regression"
        what = f"{model}{' stacked with the hand-written decision' if stack else ''}, threshold at {self.fp_target:.1%}"
        self.name = f"learned (alerts/linker.py features; {what} of the held-out negatives; anchored learning)"
        self._models: dict[str, LinkModel] = {}
        self._analyses: dict[str, Analysis] = {}

    def analyse(self, text: str) -> Analysis:
        """The analysis of a text, once per text for all the folds."""
        found = self._analyses.get(text)
        if found is None:
            found = self._analyses[text] = Analyser.default().analyse(text)
        return found

    def model(self, story: str | None) -> LinkModel:
        key = story or ""
        if key not in self._models:
            start = time.process_time()
            self._models[key] = fit_boosted(self.corpus, key, self.fp_target, self.bag, stack=self.stack) \
                if self.trees else \
                fit(self.corpus, key, self.fp_target)
            print(f"  fitted without {story or 'nothing (the shipped fit)'}: threshold "
                  f"{self._models[key].threshold} ({time.process_time() - start:.0f} s CPU)", file=sys.stderr)
        return self._models[key]

    def fold(self, story: str | None, held_out: frozenset[str]) -> Replayer:
        model = self.model(story)  # held_out (news-dev rows) needs no fold: no fit reads news-dev

        def replay(seed: str, topics: frozenset[str], start: datetime | None, past: Sequence[object],
                   archive: list[str]) -> Mapping[str, Relation]:
            # the alert stage's own replay (alerts/replay.py), with this fold's weights; the archive is the past
            return replay_story(seed, topics, start, past, term_stats(archive), HAND_THRESHOLD,  # type: ignore[arg-type]
                                model=model, analyse=self.analyse)
        return replay  # type: ignore[return-value]
