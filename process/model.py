"""The topic model: a scikit-learn pipeline trained on labeled examples, saved with its provenance.

In: examples (``text``, optional ``title``, ``labels`` as {topic: bool}). Out: a fitted
:class:`TopicModel` giving each topic a probability, saved to and loaded from a joblib file that
records the scikit-learn version, the training data hash and the topics. Loading a model saved by
another scikit-learn version fails with a :class:`ModelError` naming both versions. The one fallback
when no usable model is saved (or the bundled examples changed since this one was trained here) is
:func:`load_or_train`; the examples it and ``wirewatch train``/``evaluate`` use, :func:`training_examples`.

Pipeline: word 1–2-gram and character 3–5-gram TF-IDF on case- and accent-folded text (words keep
their vowel signs in the Indic scripts, :mod:`process.scripts`), into one balanced logistic
regression per topic.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NotRequired, TypedDict, cast

import joblib
import numpy as np
import sklearn
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import FeatureUnion, Pipeline
from wirewatch.process.jsonl import JsonlError, read_objects
from wirewatch.process.scripts import MARKS

from wirewatch.textnorm import fold

log = logging.getLogger(__name__)

TOPICS = ("ceasefire_talks", "energy_strikes")
MAX_MODEL_CHARS = 3_000  # the lead carries the topic; the rest costs time and adds noise
TOKEN = rf"[\w{MARKS}][\w{MARKS}'-]*[\w{MARKS}]"  # two characters or more, vowel signs inside


class Example(TypedDict):
    """One labeled example to train on: its text, optional title, and {topic: whether it is about it}
    (a line of a training file may carry more fields, such as ``lang``: they are kept, and not used here)."""

    text: str
    labels: dict[str, bool]
    title: NotRequired[str]


class ModelError(RuntimeError):
    """A model file that cannot be used here; the message says why."""


@dataclass
class TopicModel:
    pipeline: Pipeline
    topics: tuple[str, ...]
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def version(self) -> str:
        return str(self.meta.get("version", "unsaved"))

    def probabilities(self, docs: Sequence[str]) -> np.ndarray:
        """One row per document, one column per topic."""
        return np.asarray(self.pipeline.predict_proba([d[:MAX_MODEL_CHARS] for d in docs]))


def document(title: str, text: str) -> str:
    return f"{title}\n{title}\n{text}"


def read_examples(path: str | Path) -> list[Example]:
    """Read a JSONL file of examples; a bad line is reported with file and line number."""
    examples: list[Example] = []
    for lineno, item in read_objects(path):
        text, labels = item.get("text"), item.get("labels")
        if not isinstance(text, str) or not isinstance(labels, dict):
            raise JsonlError(f"{path}:{lineno}: expected an object with 'text' and 'labels'")
        # the line's other fields (lang, source, ...) stay, for whoever reads them; labels become booleans
        examples.append(cast(Example, {**item, "labels": {str(t): bool(v) for t, v in labels.items()}}))
    return examples


def bundled_training_file() -> Path:
    return Path(__file__).parent / "training" / "bootstrap.jsonl"


def training_examples(extra: Iterable[str | Path] = (), bundled: bool = True) -> list[Example]:
    """The bundled examples (unless ``bundled`` is false), then those of each ``extra`` JSONL file."""
    examples = read_examples(bundled_training_file()) if bundled else []
    for path in extra:
        examples += read_examples(path)
    return examples


def features_and_classifier() -> Pipeline:
    features = FeatureUnion([
        ("words", TfidfVectorizer(preprocessor=fold, ngram_range=(1, 2), sublinear_tf=True, min_df=2,
                                  token_pattern=TOKEN)),
        ("chars", TfidfVectorizer(preprocessor=fold, analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True,
                                  min_df=2, max_features=200_000)),
    ])
    classifier = OneVsRestClassifier(LogisticRegression(C=8.0, class_weight="balanced", max_iter=3000))
    return Pipeline([("features", features), ("classify", classifier)])


def training_digest(examples: Iterable[Example]) -> str:
    """A short hash of the examples' documents, as recorded in a model's ``data_sha256``."""
    docs = [document(str(e.get("title", "")), e["text"]) for e in examples]
    return hashlib.sha256("\n".join(sorted(docs)).encode()).hexdigest()[:12]


def train(examples: Iterable[Example], topics: Sequence[str] = TOPICS,
          pipeline: Pipeline | None = None) -> TopicModel:
    """Fit the pipeline (:func:`features_and_classifier` unless given) on the examples."""
    examples = list(examples)
    docs = [document(str(e.get("title", "")), e["text"]) for e in examples]
    labels = np.array([[int(bool(e["labels"].get(t, False))) for t in topics] for e in examples])
    for i, topic in enumerate(topics):
        if labels[:, i].min() == labels[:, i].max():
            raise ValueError(f"topic {topic!r} needs both positive and negative examples to train")
    pipeline = (pipeline or features_and_classifier()).fit(docs, labels)
    digest = training_digest(examples)
    meta = {"version": f"m-{digest}", "data_sha256": digest, "examples": len(examples),
            "sklearn": sklearn.__version__, "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "topics": list(topics), "positives": {t: int(labels[:, i].sum()) for i, t in enumerate(topics)}}
    return TopicModel(pipeline, tuple(topics), meta)


def save(model: TopicModel, path: str | Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    joblib.dump({"format": 1, "meta": model.meta, "topics": model.topics, "pipeline": model.pipeline}, tmp)
    tmp.replace(path)


def load(path: str | Path) -> TopicModel:
    path = Path(path)
    try:
        blob = joblib.load(path)
    except FileNotFoundError:
        raise ModelError(f"{path}: no model file (run `wirewatch train`)") from None
    except Exception as exc:
        raise ModelError(f"{path}: cannot be read as a wirewatch model: {type(exc).__name__}: {exc}") from None
    if not isinstance(blob, dict) or blob.get("format") != 1:
        raise ModelError(f"{path}: not a wirewatch model file")
    saved = blob["meta"].get("sklearn")
    if saved != sklearn.__version__:
        raise ModelError(f"{path}: model was built with scikit-learn {saved}, but scikit-learn "
                         f"{sklearn.__version__} is installed; retrain with `wirewatch train`")
    return TopicModel(blob["pipeline"], tuple(blob["topics"]), blob["meta"])


def load_or_train(path: str | Path, examples: list[Example], named: bool = False) -> TopicModel:
    """The model saved at ``path`` — or, when there is none, it cannot be used here, or it was trained here
    on other examples (``auto_trained``: the bundled examples of another version), one trained on
    ``examples``, marked ``auto_trained`` and saved at ``path``. A model the user trained (``wirewatch
    train``) is theirs and kept whatever its examples; a ``named`` path (configured by the user) is
    never replaced: what is wrong with it is raised as :class:`ModelError`."""
    try:
        model = load(path)
        if model.meta.get("auto_trained") and model.meta.get("data_sha256") != training_digest(examples):
            raise ModelError(f"{path}: trained on the bundled examples of another version")
        return model
    except ModelError as exc:
        if named:
            raise
        log.info("no usable model at %s (%s); training one on the bundled examples", path, exc)
    model = train(examples)
    model.meta["auto_trained"] = True  # retrained when the bundled examples change
    save(model, path)
    return model
