"""Boosted trees of the learned linker as plain numbers: read from the weights file, scored without scikit-learn.

In: the ``"trees"`` object of a weights file (written by ``benchmarks/fit_linker.py`` from a fitted
``HistGradientBoostingClassifier``): the feature names, a baseline and a list of trees, each a list of nodes
``[feature, threshold, left, right, value, leaf, missing_left]``. Out: the probability that an article belongs
to the story (:meth:`Trees.probability`), the same number scikit-learn's ``predict_proba`` gives.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

Node = tuple[int, float, int, int, float, bool, bool]


@dataclass(frozen=True)
class Trees:
    features: tuple[str, ...]
    baseline: float
    trees: tuple[tuple[Node, ...], ...]

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> Trees:
        """Raises ``KeyError``, ``TypeError``, ``ValueError`` or ``IndexError`` on a malformed object."""
        features = tuple(str(f) for f in data["features"])  # type: ignore[attr-defined]
        trees = []
        for tree in data["trees"]:  # type: ignore[attr-defined]
            nodes = tuple((int(n[0]), float(n[1]), int(n[2]), int(n[3]), float(n[4]), bool(n[5]), bool(n[6]))
                          for n in tree)
            for feature, _t, left, right, _v, leaf, _m in nodes:
                if not leaf and not (0 <= feature < len(features) and 0 < left < len(nodes) and
                                     0 < right < len(nodes)):
                    raise ValueError("a tree node points outside its tree or its features")
            if not nodes:
                raise ValueError("an empty tree")
            trees.append(nodes)
        return cls(features, float(data["baseline"]), tuple(trees))  # type: ignore[arg-type]

    def as_json(self) -> dict[str, object]:
        return {"features": list(self.features), "baseline": self.baseline,
                "trees": [[list(n) for n in tree] for tree in self.trees]}

    def raw(self, values: Sequence[float]) -> float:
        total = self.baseline
        for tree in self.trees:
            node = tree[0]
            while not node[5]:
                x = values[node[0]]
                node = tree[node[2]] if (node[6] if math.isnan(x) else x <= node[1]) else tree[node[3]]
            total += node[4]
        return total

    def probability(self, features: Mapping[str, float]) -> float:
        z = self.raw([features[f] for f in self.features])
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))
