"""Boosted trees of the learned linker as plain numbers: read from the weights file, scored without scikit-learn.

In: the ``"trees"`` object of a weights file (written by ``benchmarks/fit_linker.py`` from a fitted
``HistGradientBoostingClassifier``): the feature names, a baseline and a list of trees, each a list of nodes
``[feature, threshold, left, right, value, leaf, missing_left]``, and ``bag``, how many fitted models they
average (their leaves already divided by it, so the sum of all trees is the mean of the models' log-odds). Out:
the probability that an article belongs to the story (:meth:`Trees.probability`): for one model, the number
scikit-learn's ``predict_proba`` gives; for a bag, the logistic of the models' mean log-odds.
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
    bag: int = 1  # the number of fitted models whose trees these are

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
        bag = int(data["bag"])  # type: ignore[call-overload]
        if not 1 <= bag <= len(trees):
            raise ValueError(f"a bag of {bag} models in {len(trees)} trees")
        return cls(features, float(data["baseline"]), tuple(trees), bag)  # type: ignore[arg-type]

    @classmethod
    def mean(cls, parts: Sequence[Trees]) -> Trees:
        """One set of trees whose log-odds are the mean of the parts' (a bag of fitted models): every leaf divided
        by the number of parts, the baselines averaged."""
        if not parts or any(p.features != parts[0].features for p in parts):
            raise ValueError("a bag needs models over the same features")
        share = 1.0 / len(parts)
        trees = tuple(tuple((f, t, left, right, v * share, leaf, miss) for f, t, left, right, v, leaf, miss in tree)
                      for part in parts for tree in part.trees)
        return cls(parts[0].features, sum(p.baseline for p in parts) * share, trees, sum(p.bag for p in parts))

    def as_json(self) -> dict[str, object]:
        return {"features": list(self.features), "baseline": self.baseline, "bag": self.bag,
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
