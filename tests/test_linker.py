"""The learned linker's cost cuts and its rivals in time: the vectors of an article and of a story are computed once
and give the same features as computed afresh; a story's vectors follow what it learns; a rival outside the story
counts only when published near the article (issue 10)."""

import json
import logging
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from wirewatch.alerts.linker import (
    BASE_FEATURES,
    KIND_FEATURES,
    LINK_FEATURES,
    KeySide,
    LinkModel,
    ModelFileError,
    StoryKeys,
    TermStats,
    pair_features,
)
from wirewatch.alerts.linker_rivals import Rivals
from wirewatch.alerts.linker_stage import WatchLinker, shipped_model
from wirewatch.alerts.linker_trees import Trees
from wirewatch.alerts.stories import TermStats as NameStats
from wirewatch.alerts.textkeys import Analyser

from wirewatch.devtools.corpus import DemoCorpus

CORPUS = DemoCorpus.load()
DAY = datetime(2025, 1, 15, tzinfo=UTC)


def _keys() -> list[Counter[str]]:
    analyse = Analyser.default().analyse
    return [analyse(a["title"] + "\n" + "\n".join(a["body"])).keys for a in CORPUS.articles]


def _fresh(article: Counter[str], story: StoryKeys, stats: TermStats) -> dict[str, float]:
    """The features as computed before the cache: every vector afresh (a story copied without its cached sides)."""
    copy = StoryKeys(Counter(story.seed), Counter(story.grown), [Counter(m) for m in story.members], set(story.known),
                     set(story.topics), story.first_seen, story.last_seen, story.earliest)
    return pair_features(article, copy, stats, DAY, ("ceasefire_talks",), (0.4, 0.3), (0.2, True))


def test_an_articles_side_gives_the_features_its_keys_give_against_several_stories() -> None:
    keys = _keys()
    stats = TermStats()
    for k in keys:
        stats.add_keys(k)
    stories = []
    for first in (0, 5):
        story = StoryKeys()
        story.add(keys[first], DAY, seed=True)
        story.add(keys[first + 1], DAY + timedelta(days=1))
        stories.append(story)
    for article in keys[10:16]:
        side = KeySide(article, stats)
        for story in stories:
            cached = pair_features(side, story, stats, DAY, ("ceasefire_talks",), (0.4, 0.3), (0.2, True))
            assert cached == _fresh(article, story, stats)
            assert min(cached.values()) >= 0.0 and max(cached.values()) <= 1.0


def test_a_storys_vectors_follow_what_it_learns_and_an_archive_that_grew() -> None:
    keys = _keys()
    stats = TermStats()
    for k in keys[:20]:
        stats.add_keys(k)
    story = StoryKeys()
    story.add(keys[0], DAY, seed=True)
    before = story.sides(stats)
    assert story.sides(stats) is before  # nothing changed: the same vectors
    story.add(keys[1], DAY)
    learned = story.sides(stats)
    assert learned is not before and len(learned[2]) == 1  # a member joined: recomputed, the member among them
    args = (DAY, ("ceasefire_talks",), (0.4, 0.3), (0.2, True))
    assert pair_features(keys[2], story, stats, *args) == _fresh(keys[2], story, stats)
    for k in keys[20:]:  # the archive grew by far more than a 500th of itself: recomputed with its frequencies
        stats.add_keys(k)
    assert story.sides(stats) is not learned
    assert story.sides(stats)[0].vector() == stats.vector(story.seed)


def test_a_rival_outside_the_story_counts_only_when_published_near_the_article() -> None:
    rivals = Rivals(days=30)
    rivals.add("seed", {"gaza": 0.6, "katar": 0.8}, DAY)
    rivals.add("deal-2023", {"gaza": 0.8, "katar": 0.6}, DAY - timedelta(days=420))  # an earlier deal
    assert rivals.closest({"gaza": 1.0}, {"seed"}, published=DAY)[:2] == (0.6, 0.0)
    assert rivals.closest({"gaza": 1.0}, {"seed"}, published=DAY - timedelta(days=400))[:2] == (0.6, 0.8)
    assert rivals.closest({"gaza": 1.0}, {"seed"})[:2] == (0.6, 0.8)  # the article's time unknown: it counts
    rivals.add("undated", {"gaza": 0.7})
    assert rivals.closest({"gaza": 1.0}, {"seed"}, published=DAY)[:2] == (0.6, 0.7)  # a rival's time unknown: it counts
    rivals.dated("undated", DAY - timedelta(days=200))  # its time, learned later
    assert rivals.closest({"gaza": 1.0}, {"seed"}, published=DAY)[:2] == (0.6, 0.0)
    rivals.dated("seed", DAY - timedelta(days=999))  # a known time is not overwritten
    assert rivals.closest({"gaza": 1.0}, {"seed"}, published=DAY)[:2] == (0.6, 0.0)


def test_a_look_up_reads_only_the_articles_heaviest_terms() -> None:
    rivals = Rivals(keep=2)
    rivals.add("other", {"rare": 1.0}, DAY)
    assert rivals.closest({"a": 0.7, "b": 0.6, "rare": 0.1}, set(), published=DAY)[:2] == (0.0, 0.0)
    assert rivals.closest({"a": 0.7, "rare": 0.6, "b": 0.1}, set(), published=DAY)[:2] == (0.0, 0.6)


def test_the_closest_rival_is_named_and_a_watch_keeps_how_close_each_article_came() -> None:
    rivals = Rivals()
    rivals.add("seed", {"gaza": 0.6}, DAY)
    rivals.add("other", {"gaza": 0.8}, DAY)
    assert rivals.closest({"gaza": 1.0}, {"seed"}, published=DAY) == (0.6, 0.8, "other")
    assert rivals.closest({"kyiv": 1.0}, {"seed"}, published=DAY) == (0.0, 0.0, "")
    link = {k: 0.0 for k in BASE_FEATURES} | {"cos_seed": 8.0, "anchors": 4.0}
    model = LinkModel(link, -2.5, {k: 0.0 for k in KIND_FEATURES}, 0.0, 0.5, 0.5)
    linker = WatchLinker(NameStats.with_background(), 0.14, 120.0, model=model)
    arts = CORPUS.articles
    text = [a["title"] + "\n" + "\n".join(a["body"]) for a in arts]
    for n, t in enumerate(text):
        linker.archived(f"a{n}", t)
    story = linker.story("w", "w", text[0], (), DAY)
    linker.relate(story, "a1", text[1], DAY, ())
    linker.relate(story, "a2", text[2], DAY, ())
    assert set(story.closeness) == {"a1", "a2"} and all(0.0 <= v <= 1.0 for v in story.closeness.values())


def _one_tree(value: float, baseline: float) -> Trees:
    """cos_seed <= 0.3 goes left (leaf -value), else right (leaf +value)."""
    tree = ((LINK_FEATURES.index("cos_seed"), 0.3, 1, 2, 0.0, False, False), (0, 0.0, 0, 0, -value, True, False),
            (0, 0.0, 0, 0, value, True, False))
    return Trees(LINK_FEATURES, baseline, (tree,))


def test_a_bag_of_trees_scores_the_mean_of_its_models_log_odds_and_reads_back_as_written(tmp_path: Path) -> None:
    a, b = _one_tree(2.0, 0.0), _one_tree(1.0, -1.0)
    bag = Trees.mean([a, b])
    assert bag.bag == 2 and len(bag.trees) == 2
    for cos in (0.1, 0.9):
        values = [cos if f == "cos_seed" else 0.0 for f in LINK_FEATURES]
        assert bag.raw(values) == pytest.approx((a.raw(values) + b.raw(values)) / 2)
    model = LinkModel({}, 0.0, {k: 0.0 for k in KIND_FEATURES}, 0.0, 0.6, 0.6, bag)
    path = tmp_path / "weights.json"
    path.write_text(json.dumps(model.as_json()), encoding="utf-8")
    assert LinkModel.load(path) == model
    with pytest.raises(ValueError, match="same features"):
        Trees.mean([a, Trees(LINK_FEATURES[:-1], 0.0, a.trees)])


def test_a_weights_file_of_the_unbagged_format_or_a_bad_bag_falls_back_to_the_hand_written_linker(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    model = LinkModel({}, 0.0, {k: 0.0 for k in KIND_FEATURES}, 0.0, 0.6, 0.6, Trees.mean([_one_tree(2.0, 0.0)] * 3))
    path = tmp_path / "weights.json"
    old = model.as_json() | {"format": "wirewatch-linker/3"}  # the single trees of before, fitted with news-dev
    path.write_text(json.dumps(old), encoding="utf-8")
    with pytest.raises(ModelFileError, match=r"wirewatch-linker/3.*rerun benchmarks/fit_linker.py"):
        LinkModel.load(path)
    for bag in (0, 4, "three"):  # more models than trees, none, not a number
        broken = model.as_json()
        broken["link"]["trees"]["bag"] = bag  # type: ignore[index]
        path.write_text(json.dumps(broken), encoding="utf-8")
        with pytest.raises(ModelFileError, match="malformed"):
            LinkModel.load(path)
    shipped_model.cache_clear()
    with caplog.at_level(logging.ERROR):
        assert shipped_model(path) is None
    assert "malformed" in caplog.text and "hand-written" in caplog.text
    linker = WatchLinker(NameStats.with_background(), 0.14, 120.0, model=shipped_model(path), use_shipped=False)
    assert linker.name == "hand-written"
    text = [a["title"] + "\n" + "\n".join(a["body"]) for a in CORPUS.articles]
    story = linker.story("w", "w", text[0], (), DAY)
    assert linker.relate(story, "a0", text[0], DAY, ()).kind == "same_report"  # the stage goes on, hand-written
    shipped_model.cache_clear()


def test_a_member_teaches_the_story_only_above_the_models_bar_for_teaching() -> None:
    from dataclasses import replace

    from wirewatch.alerts.linker_watch import LearnedStory

    link = {k: 0.0 for k in BASE_FEATURES} | {"cos_seed": 8.0, "anchors": 4.0}
    low = LinkModel(link, -2.5, {k: 0.0 for k in KIND_FEATURES}, 0.0, 0.5, 0.5)
    text = [a["title"] + "\n" + "\n".join(a["body"]) for a in CORPUS.articles]
    analyse = Analyser.default().analyse
    stats = TermStats()
    for t in text:
        stats.add_keys(analyse(t).keys)
    story = LearnedStory()
    story.seed(text[0], (), DAY)
    p = low.belongs(pair_features(analyse(text[0]).keys, story.anchor, stats, DAY))
    assert p > 0.5 and low.teaches == 0.5
    assert story.anchored(analyse(text[0]), stats, low, DAY, ())
    strict = replace(low, learn_threshold=min(1.0, p + 0.01))
    assert strict.teaches > p and not story.anchored(analyse(text[0]), stats, strict, DAY, ())
    assert replace(low, learn_threshold=0.1).teaches == 0.5  # never below the link's own threshold
