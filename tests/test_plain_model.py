"""The topic model's plain arrays score as scikit-learn does, and a saved model loads without scikit-learn.

The features of ``process.plain_model`` are a second implementation of scikit-learn's: each text of the
bundled examples, news-dev and stories-dev (the dev sets read from ../shared when it is there) is scored
both ways, and the analyzers' terms are compared too.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from wirewatch.process.model import (
    MAX_MODEL_CHARS,
    ModelError,
    TopicModel,
    bundled_training_file,
    document,
    features_and_classifier,
    load,
    read_examples,
    save,
    train,
)
from wirewatch.process.plain_model import PlainModel


@pytest.fixture(scope="module")
def model() -> TopicModel:
    return train(read_examples(bundled_training_file()))


def texts_of(path: Path) -> list[str]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [document(str(r.get("title", "")), str(r.get("text", ""))) for r in rows]


def bundled_texts() -> list[str]:
    return [document(str(e.get("title", "")), e["text"]) for e in read_examples(bundled_training_file())]


def odd_texts() -> list[str]:
    return ["", " ", "a", "x y", "\t\n", "Ceasefire\u00a0talks  in\u2003Doha", "ÉNERGIE — frappe sur la raffinerie",
            "l'accord d'Istanbul - 'cessez-le-feu'", "हमले के बाद युद्धविराम", "ข้อตกลงหยุดยิง", "'' -- ''",
            "word " * 400, "Доха: переговоры о прекращении огня " * 50]


def assert_same_scores(model: TopicModel, docs: list[str]) -> None:
    assert model.plain is not None and model.pipeline is not None
    cut = [d[:MAX_MODEL_CHARS] for d in docs]
    plain, sk = model.plain.probabilities(cut), model.pipeline.predict_proba(cut)
    assert plain.shape == sk.shape == (len(docs), len(model.topics))
    assert np.max(np.abs(plain - sk)) < 1e-9
    decisions = np.column_stack([e.decision_function(model.pipeline[:-1].transform(cut))
                                 for e in model.pipeline.named_steps["classify"].estimators_])
    assert np.max(np.abs(model.plain.decisions(cut) - decisions)) < 1e-9


def test_the_bundled_examples_score_as_with_scikit_learn(model: TopicModel) -> None:
    assert_same_scores(model, bundled_texts() + odd_texts())


@pytest.mark.parametrize("name", ["news-dev.jsonl", "stories-dev/stories-dev.jsonl"])
def test_the_dev_sets_score_as_with_scikit_learn(model: TopicModel, shared: Path, name: str) -> None:
    docs = texts_of(shared / "data" / name)
    assert len(docs) > 100
    assert_same_scores(model, docs)
    assert_same_scores(model, [d[MAX_MODEL_CHARS:] for d in docs])  # the parts after the cut too


def test_the_terms_are_scikit_learns(model: TopicModel) -> None:
    assert model.plain is not None and model.pipeline is not None
    vectorizers = dict(model.pipeline.named_steps["features"].transformer_list)
    for block, (name, vectorizer) in zip(model.plain.blocks, vectorizers.items(), strict=True):
        analyze = vectorizer.build_analyzer()
        for doc in bundled_texts()[:200] + odd_texts():
            assert block.grams(doc) == analyze(doc), (name, doc[:80])


def test_a_saved_model_loads_and_scores_without_scikit_learn(model: TopicModel, tmp_path: Path) -> None:
    path = tmp_path / "model.joblib"
    save(model, path)
    probe = ("import sys, json; from wirewatch.process.model import load, document; m = load(sys.argv[1]); "
             "p = m.probabilities([document('Truce talks in Doha', 'Negotiators met to agree a ceasefire.')]); "
             "print(json.dumps([p.tolist(), sorted(k for k in sys.modules if k.split('.')[0] in "
             "('sklearn', 'scipy'))]))")
    out = subprocess.run([sys.executable, "-c", probe, str(path)], capture_output=True, text=True, check=True)
    probabilities, imported = json.loads(out.stdout)
    assert imported == []
    doc = document("Truce talks in Doha", "Negotiators met to agree a ceasefire.")
    assert np.allclose(probabilities, model.probabilities([doc]), rtol=0, atol=1e-12)
    assert load(path).probabilities([doc]).tolist() == model.probabilities([doc]).tolist()


def test_a_model_file_of_the_older_format_is_refused_with_a_reason(model: TopicModel, tmp_path: Path) -> None:
    import joblib

    path = tmp_path / "old.joblib"
    joblib.dump({"format": 1, "meta": model.meta, "topics": model.topics, "pipeline": model.pipeline}, path)
    with pytest.raises(ModelError, match=r"format 1 .*retrain with `wirewatch train`"):
        load(path)
    save(model, path)
    blob = joblib.load(path)
    blob["plain"]["features"] = "something-else"
    joblib.dump(blob, path)
    with pytest.raises(ModelError, match=r"arrays cannot be used.*something-else"):
        load(path)


def test_a_pipeline_the_arrays_do_not_compute_is_scored_by_scikit_learn_and_not_saved(tmp_path: Path) -> None:
    examples = read_examples(bundled_training_file())
    pipeline = features_and_classifier()
    pipeline.named_steps["features"].transformer_list[0][1].set_params(preprocessor=None, lowercase=True)
    trained = train(examples, pipeline=pipeline)
    assert trained.plain is None
    assert trained.probabilities(["a truce in Doha"]).shape == (1, 2)
    with pytest.raises(ValueError, match="cannot be saved"):
        save(trained, tmp_path / "m.joblib")
    with pytest.raises(ValueError, match="not computed"):
        PlainModel.from_pipeline(pipeline, trained.topics)
