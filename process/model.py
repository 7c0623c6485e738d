"""The topic model: a scikit-learn pipeline trained on labeled examples, saved with its provenance.

In: examples (``text``, optional ``title``, ``labels`` as {topic: bool}). Out: a fitted
:class:`TopicModel` giving each topic a probability, saved to and loaded from a joblib file that
records the scikit-learn version, the training data hash and the topics. The file holds the fitted
features and coefficients as plain arrays (:mod:`process.plain_model`), so loading and scoring a model
import neither scikit-learn nor scipy; training does. Loading a model saved by another scikit-learn version,
or by a wirewatch that saved models otherwise, fails with a :class:`ModelError` saying so. The one fallback
when no usable model is saved (or the bundled examples changed since this one was trained here) is
:func:`load_or_train`; the examples it and ``wirewatch train``/``evaluate`` use, :func:`training_examples`.
:func:`train_in_background` trains and saves in a thread and gives a future of the model at once,
so that a stage starting without a saved model does its other start-up meanwhile.

Pipeline: word 1–2-gram and character 3–5-gram TF-IDF on case- and accent-folded text (words keep
their vowel signs in the Indic scripts, :mod:`process.scripts`), into one balanced logistic
regression per topic.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as installed_version
from pathlib import Path
from typing import TYPE_CHECKING, Any, NotRequired, TypedDict, cast

import numpy as np
from wirewatch.process.jsonl import JsonlError, read_objects
from wirewatch.process.plain_model import PlainModel
from wirewatch.process.scripts import MARKS

from wirewatch.textnorm import fold

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

log = logging.getLogger(__name__)

TOPICS = ("ceasefire_talks", "energy_strikes")
MAX_MODEL_CHARS = 3_000  # the lead carries the topic; the rest costs time and adds noise
TOKEN = rf"[\w{MARKS}][\w{MARKS}'-]*[\w{MARKS}]"  # two characters or more, vowel signs inside
FORMAT = 2  # the file's layout: 1 held the scikit-learn pipeline itself
CHECKED_DOCS = 32  # training documents scored both ways after each fit (the plain arrays must agree)


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
    """Scored by its plain arrays when it has them (a saved model always does), else by its ``pipeline``
    (a pipeline built otherwise than :mod:`process.plain_model` computes, as benchmarks may train)."""

    plain: PlainModel | None
    topics: tuple[str, ...]
    meta: dict[str, Any] = field(default_factory=dict)
    pipeline: Pipeline | None = None  # the fitted scikit-learn pipeline, after training here

    @property
    def version(self) -> str:
        return str(self.meta.get("version", "unsaved"))

    def probabilities(self, docs: Sequence[str]) -> np.ndarray:
        """One row per document, one column per topic."""
        docs = [d[:MAX_MODEL_CHARS] for d in docs]
        if self.plain is not None:
            return self.plain.probabilities(docs)
        assert self.pipeline is not None, "a model has its plain arrays or its pipeline"
        return np.asarray(self.pipeline.predict_proba(docs))


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


def sklearn_version() -> str:
    """The installed scikit-learn's version, read without importing it."""
    try:
        return installed_version("scikit-learn")
    except PackageNotFoundError:
        return "none"


def features_and_classifier() -> Pipeline:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier
    from sklearn.pipeline import FeatureUnion, Pipeline

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


def check_trainable(examples: Sequence[Example], topics: Sequence[str] = TOPICS) -> np.ndarray:
    """The examples' label matrix (one column per topic), or ValueError naming a topic they cannot train."""
    rows = [[int(bool(e["labels"].get(t, False))) for t in topics] for e in examples]
    labels = np.array(rows).reshape(-1, len(topics))
    for i, topic in enumerate(topics):
        if not len(labels) or labels[:, i].min() == labels[:, i].max():
            raise ValueError(f"topic {topic!r} needs both positive and negative examples to train")
    return labels


def train(examples: Iterable[Example], topics: Sequence[str] = TOPICS,
          pipeline: Pipeline | None = None) -> TopicModel:
    """Fit the pipeline (:func:`features_and_classifier` unless given) on the examples, and take its plain
    arrays (checked against the pipeline's own probabilities on the first training documents)."""
    from threadpoolctl import threadpool_limits

    examples = list(examples)
    docs = [document(str(e.get("title", "")), e["text"]) for e in examples]
    labels = check_trainable(examples, topics)
    # one BLAS thread: the solver's vectors (~30,000 numbers) are too small for OpenBLAS's threads, which on
    # 2 busy cores cost many times the work (the same fit, a third of the time or less: docs/benchmarks.md,
    # issue 14). The limit is the process's while it lasts.
    with threadpool_limits(limits=1, user_api="blas"):
        pipeline = (pipeline or features_and_classifier()).fit(docs, labels)
    digest = training_digest(examples)
    meta = {"version": f"m-{digest}", "data_sha256": digest, "examples": len(examples),
            "sklearn": sklearn_version(), "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "topics": list(topics), "positives": {t: int(labels[:, i].sum()) for i, t in enumerate(topics)}}
    return TopicModel(plain_arrays(pipeline, topics, docs[:CHECKED_DOCS]), tuple(topics), meta, pipeline)


def plain_arrays(pipeline: Pipeline, topics: Sequence[str], docs: Sequence[str]) -> PlainModel | None:
    """The fitted pipeline as plain arrays, or None for a pipeline they do not compute. They must give the
    pipeline's probabilities on ``docs`` (RuntimeError otherwise: features computed unlike scikit-learn's)."""
    try:
        plain = PlainModel.from_pipeline(pipeline, topics)
    except ValueError as exc:
        log.info("the model is scored by scikit-learn and cannot be saved: %s", exc)
        return None
    docs = [d[:MAX_MODEL_CHARS] for d in docs]
    gap = float(np.max(np.abs(plain.probabilities(docs) - pipeline.predict_proba(docs)), initial=0.0))
    if gap > 1e-9:
        raise RuntimeError(f"the model's plain arrays score {gap:.2g} away from scikit-learn {sklearn_version()}")
    return plain


def save(model: TopicModel, path: str | Path) -> None:
    """Write the model's plain arrays (ValueError for a model that has none)."""
    import joblib

    if model.plain is None:
        raise ValueError("this model's features are not computed by process.plain_model: it cannot be saved")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    joblib.dump({"format": FORMAT, "meta": model.meta, "topics": model.topics, "plain": model.plain.arrays()}, tmp)
    tmp.replace(path)


def load(path: str | Path) -> TopicModel:
    import joblib

    path = Path(path)
    try:
        blob = joblib.load(path)
    except FileNotFoundError:
        raise ModelError(f"{path}: no model file (run `wirewatch train`)") from None
    except Exception as exc:
        raise ModelError(f"{path}: cannot be read as a wirewatch model: {type(exc).__name__}: {exc}") from None
    if not isinstance(blob, dict) or "format" not in blob:
        raise ModelError(f"{path}: not a wirewatch model file")
    if blob["format"] != FORMAT:
        raise ModelError(f"{path}: a model file of format {blob['format']} (an older wirewatch); this one reads "
                         f"format {FORMAT}: retrain with `wirewatch train`")
    saved, here = blob["meta"].get("sklearn"), sklearn_version()
    if saved != here:
        raise ModelError(f"{path}: model was built with scikit-learn {saved}, but scikit-learn "
                         f"{here} is installed; retrain with `wirewatch train`")
    try:
        plain = PlainModel.from_arrays(blob["plain"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelError(f"{path}: its arrays cannot be used ({type(exc).__name__}: {exc}); "
                         "retrain with `wirewatch train`") from None
    return TopicModel(plain, tuple(blob["topics"]), blob["meta"])


def load_or_train(path: str | Path, examples: list[Example],
                  named: bool = False) -> TopicModel | Future[TopicModel]:
    """The model saved at ``path`` — or, when there is none, it cannot be used here, or it was trained here
    on other examples (``auto_trained``: the bundled examples of another version), one trained on
    ``examples``, marked ``auto_trained`` and saved at ``path`` — in the background (:func:`train_in_background`):
    then the answer is the future of that model. A model the user trained (``wirewatch
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
    return train_in_background(examples, path)  # the first batch waits for it; the stages start meanwhile


def train_in_background(examples: Sequence[Example], path: str | Path) -> Future[TopicModel]:
    """Train on the examples (marked ``auto_trained``: retrained when they change) and save at ``path``, in a
    thread; the future's model is there once saved. What would fail at once fails here, before the thread:
    examples that cannot train (ValueError). A model that cannot be saved is logged and still given."""
    check_trainable(examples)

    def fit_and_save() -> TopicModel:
        model = train(examples)
        model.meta["auto_trained"] = True
        try:
            save(model, path)
        except OSError as exc:
            log.error("the trained model could not be saved at %s (%s); it is used, and trained again next time",
                      path, exc)
        return model

    trainer = ThreadPoolExecutor(1, thread_name_prefix="train")  # not a daemon: an exit waits for the save
    try:
        return trainer.submit(fit_and_save)
    finally:
        trainer.shutdown(wait=False)
