"""The classify stage's logic: rules + model on plain articles, rule reloading, model files."""

import time
from pathlib import Path

import pytest
import sklearn
from wirewatch.process.classifier import RuleSource, TopicClassifier
from wirewatch.process.model import ModelError, bundled_training_file, load, read_examples, save, train
from wirewatch.process.rules import bundled_rules_dir

from wirewatch.devtools.corpus import DemoCorpus
from wirewatch.schema import Article, Entry


@pytest.fixture(scope="module")
def model():  # type: ignore[no-untyped-def]
    return train(read_examples(bundled_training_file()))


def article(title: str, text: str) -> Article:
    e = Entry(article_id="t", url="https://x.test/t", canonical_url="https://x.test/t", feed_url="https://x.test/f")
    return Article(entry=e, title=title, text=text)


def test_the_bundled_training_set_is_large_and_multilingual() -> None:
    examples = read_examples(bundled_training_file())
    assert len(examples) >= 400
    assert {"en", "ru", "uk", "de", "fr", "es", "it", "pl", "ar", "tr", "az", "ur", "hi", "gu", "ta", "th", "hy"} <= {
        e["lang"] for e in examples}


def test_demo_corpus_labels_are_recovered(model) -> None:  # type: ignore[no-untyped-def]
    clf = TopicClassifier(RuleSource(bundled_rules_dir()), model)
    corpus = DemoCorpus.load()
    right = total = 0
    for art in corpus.articles:
        tagged = clf.tag(article(art["title"], "\n".join(art["body"])))
        for tag in tagged.topics:
            total += 1
            right += tag.fired == art["labels"][tag.topic]
    assert right / total >= 0.9, f"{right}/{total}"


def test_seeds_are_tagged_with_both_topics_and_explained(model, shared: Path) -> None:  # type: ignore[no-untyped-def]
    clf = TopicClassifier(RuleSource(bundled_rules_dir()), model)
    for seed in sorted((shared / "seeds").glob("*.txt")):
        text = seed.read_text(encoding="utf-8")
        tagged = clf.tag(article(text.splitlines()[0], text))
        fired = {t.topic for t in tagged.fired()}
        assert fired == {"ceasefire_talks", "energy_strikes"}, (seed.name, tagged.topics)
        for tag in tagged.fired():
            assert tag.rules and tag.rules[0].matched
            assert "rules" in tag.explanation and "model p=" in tag.explanation


def test_a_broken_rules_edit_keeps_the_last_good_rules(tmp_path: Path) -> None:
    (tmp_path / "peace.rules").write_text("threshold = 1\n1 truce\n")
    source = RuleSource(tmp_path, check_every=0)
    assert source.current().topics["peace"].patterns[0].text == "truce"
    (tmp_path / "peace.rules").write_text('threshold = 1\n1 "broken\n')
    time.sleep(0.01)
    assert source.current().topics["peace"].patterns[0].text == "truce"
    (tmp_path / "peace.rules").write_text("threshold = 1\n1 armistice\n")
    assert source.current().topics["peace"].patterns[0].text == "armistice"


def test_model_files_record_versions_and_refuse_another_sklearn(model, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "m.joblib"
    save(model, path)
    again = load(path)
    assert again.meta["sklearn"] == sklearn.__version__
    assert again.meta["examples"] >= 400
    import joblib

    blob = joblib.load(path)
    blob["meta"]["sklearn"] = "0.24.2"
    joblib.dump(blob, path)
    with pytest.raises(ModelError, match=r"scikit-learn 0\.24\.2.*" + sklearn.__version__.replace(".", r"\.")):
        load(path)


def test_a_model_trained_here_on_older_bundled_examples_is_retrained(model, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from wirewatch.process.stage import build_classifier

    from wirewatch.config import load_settings

    settings = load_settings(None, env={}, overrides={"data_dir": str(tmp_path)})
    stale = train([{"text": "a truce was agreed in the talks", "labels": {"ceasefire_talks": True}},
                   {"text": "a drone hit the refinery", "labels": {"energy_strikes": True}},
                   {"text": "the match ended in a draw", "labels": {}}])
    stale.meta["auto_trained"] = True
    save(stale, settings.model_file)
    assert build_classifier(settings).model.meta["examples"] == len(read_examples(bundled_training_file()))
    # a model the user trained (`wirewatch train`) is theirs: it is kept whatever its examples
    stale.meta.pop("auto_trained")
    save(stale, settings.model_file)
    assert build_classifier(settings).model.meta["examples"] == 3


def test_a_model_path_the_user_named_is_never_replaced_by_the_fallback(tmp_path: Path) -> None:
    from concurrent.futures import Future

    from wirewatch.process.model import load_or_train

    tiny = [{"text": "a truce was agreed in the talks", "labels": {"ceasefire_talks": True}},
            {"text": "a drone hit the refinery", "labels": {"energy_strikes": True}},
            {"text": "the match ended in a draw", "labels": {}}]
    path = tmp_path / "mine.joblib"
    with pytest.raises(ModelError, match="no model file"):
        load_or_train(path, tiny, named=True)
    assert not path.exists()
    stale = train(tiny[:2] + tiny[2:] * 2)
    stale.meta["auto_trained"] = True
    save(stale, path)
    with pytest.raises(ModelError, match="another version"):
        load_or_train(path, tiny, named=True)
    assert load(path).meta["data_sha256"] == stale.meta["data_sha256"]
    pending = load_or_train(path, tiny)  # not named: trained on the examples given (in the background), saved
    assert isinstance(pending, Future)
    fresh = pending.result()
    assert fresh.meta["auto_trained"] and load(path).meta["data_sha256"] == fresh.meta["data_sha256"]


def test_a_model_trained_in_the_background_is_waited_for_and_saved(model, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from concurrent.futures import Future

    from wirewatch.process.model import train_in_background

    path = tmp_path / "model.joblib"
    pending = train_in_background(read_examples(bundled_training_file()), path)
    assert isinstance(pending, Future)
    rules = RuleSource(bundled_rules_dir())
    texts = [article(a["title"], "\n".join(a["body"])) for a in DemoCorpus.load().articles[:6]]
    waited = TopicClassifier(rules, pending).tag_batch(texts)  # waits for the training
    assert path.is_file() and load(path).meta["auto_trained"] is True
    direct = TopicClassifier(rules, model).tag_batch(texts)
    assert [(t.model_version, t.topics) for t in waited] == [(t.model_version, t.topics) for t in direct]


def test_examples_that_cannot_train_fail_before_the_background_starts(tmp_path: Path) -> None:
    from wirewatch.process.model import train_in_background

    with pytest.raises(ValueError, match="energy_strikes"):
        train_in_background([{"text": "a truce", "labels": {"ceasefire_talks": True}},
                             {"text": "a match", "labels": {}}], tmp_path / "model.joblib")
    assert not (tmp_path / "model.joblib").exists()


def test_a_training_that_failed_leaves_the_rules_alone_and_says_so(caplog: pytest.LogCaptureFixture) -> None:
    from concurrent.futures import Future

    failed: Future = Future()  # type: ignore[type-arg]
    failed.set_exception(MemoryError("no room"))
    clf = TopicClassifier(RuleSource(bundled_rules_dir()), failed)
    tagged = clf.tag(article("Truce talks in Doha", "Negotiators met in Doha to agree a ceasefire."))
    assert clf.model is None and tagged.model_version == ""
    assert all("no model" in t.explanation for t in tagged.topics)
    assert "training the model failed" in caplog.text
