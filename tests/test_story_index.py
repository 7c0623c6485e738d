"""The every-article story index: what joins a story and what does not, its bounds (candidates,
eviction of stale stories, vocabulary), B-cubed with distractors, and the clustering quality gate on
WikiRef220 and the development stories at the configured threshold."""

from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import wirewatch.alerts.story_index as story_index
from wirewatch.alerts.story_index import KeyStats, StoryIndex, bcubed, story_keys

from wirewatch.config import AlertSettings

SHARED = Path(__file__).resolve().parents[2] / "shared"
DAY = datetime(2025, 3, 1, 9)

# invented reports (written for this test): one event told three ways, and an unrelated story
FLOOD = [
    "Floods cut off Valdoria after the Rimon dam fails\nThe Rimon dam above Valdoria failed on Tuesday and floods "
    "cut the town off; the governor Elsa Marquand said 4,200 people were moved to shelters.",
    "Valdoria: 4,200 evacuated as Rimon dam breaks\nGovernor Elsa Marquand ordered shelters opened in Valdoria "
    "when the Rimon dam broke and water covered the lower town.",
    "Inondations à Valdoria après la rupture du barrage de Rimon\nLa gouverneure Elsa Marquand a fait évacuer "
    "4 200 personnes à Valdoria, coupée du monde par l'eau du barrage de Rimon.",
]
CHESS = ("Teodora Balk wins the Harwick chess open\nThe grandmaster Teodora Balk took the Harwick open with a round "
         "to spare, beating the defending champion in a long endgame.")


def test_one_event_told_three_ways_is_one_story_and_other_news_is_another() -> None:
    index = StoryIndex(AlertSettings().story_threshold)
    for text in ["Markets calm as central bank holds rates\nThe central bank kept its rate unchanged.",
                 "Storm season forecast\nForecasters expect an average season of storms."]:
        index.link(story_keys(text), DAY - timedelta(days=1))
    ids = [index.link(story_keys(text), DAY + timedelta(hours=i)) for i, text in enumerate(FLOOD)]
    assert ids[0][1] and not ids[1][1] and not ids[2][1]  # the first starts the story, the others join it
    assert {story_id for story_id, _ in ids} == {ids[0][0]}
    other, new = index.link(story_keys(CHESS), DAY + timedelta(hours=5))
    assert new and other != ids[0][0]
    assert index.stories[ids[0][0]].size == 3


def test_a_story_quiet_for_longer_than_the_window_is_evicted_with_its_postings() -> None:
    index = StoryIndex(0.07, window_days=7)
    first, _ = index.link(story_keys(FLOOD[0]), DAY)
    keys = set(index.stories[first].centroid)
    index.link(story_keys(CHESS), DAY + timedelta(days=9))
    assert index.evict() == 1
    assert first not in index.stories
    assert all(first not in index.postings.get(k, ()) for k in keys)
    again, new = index.link(story_keys(FLOOD[1]), DAY + timedelta(days=9, hours=1))
    assert new and again != first  # a story past its window takes no new article, evicted or not


def test_stories_without_dates_are_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(story_index, "MAX_STORIES", 50)
    index = StoryIndex(0.9)
    for i in range(200):
        index.link(Counter({f"only{i}": 1, f"also{i}": 2}))
    assert len(index.stories) <= 50 and index.evicted >= 150
    assert min(index.stories) > 100  # the least recently joined went first


def test_the_work_per_article_is_bounded_however_many_stories_share_its_keys() -> None:
    index = StoryIndex(0.99)
    for i in range(2_000):
        index.link(Counter({"common": 1, "shared": 1, f"own{i}": 1}))
    assert len(index.postings["common"]) <= 2 * story_index.POSTING_DEPTH
    vectors = index.stats.vectors(Counter({"common": 1, "shared": 1}))
    assert len(index.candidates(vectors[0])) <= story_index.SCORED


def test_cross_script_keys_link_when_words_differ() -> None:
    index = StoryIndex(0.07)
    story, _ = index.link(Counter({"@kairo": 2, "^marqu": 2, "~mrqnt": 1, "#4200": 1, "flood": 3, "shelte": 1}), DAY)
    joined, new = index.link(Counter({"@kairo": 1, "^marqu": 1, "~mrqnt": 1, "#4200": 1, "fadan": 2, "malaja": 2,
                                      "iklaa": 1, "mudun": 1}), DAY)
    assert not new and joined == story  # the places, names and figures meet though no word does


def test_key_frequencies_forget_keys_seen_once_past_the_vocabulary_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(story_index, "MAX_VOCABULARY", 100)
    stats = KeyStats()
    for i in range(60):
        stats.add([f"k{i}", f"k{i}x", "everywhere"])
    assert len(stats.df) <= 100 and stats.df["everywhere"] == 60


def test_bcubed_counts_distractors_in_stories_but_does_not_score_them() -> None:
    truth = {"a1": "a", "a2": "a", "x": "other:x", "y": "other:y"}
    p, r, f = bcubed({"a1": 1, "a2": 1, "x": 2, "y": 2}, truth, scored={"a1", "a2"})
    assert (p, r, f) == (1.0, 1.0, 1.0)  # x and y joined each other: unlabeled, not scored
    p, r, _ = bcubed({"a1": 1, "a2": 1, "x": 1, "y": 2}, truth, scored={"a1", "a2"})
    assert p == pytest.approx(2 / 3) and r == 1.0  # x joined the story: its precision pays


@pytest.mark.skipif(not (SHARED / "data" / "event-clusters").is_dir() or not (SHARED / "data" / "stories-dev").is_dir(),
                    reason="../shared/data (WikiRef220 and stories-dev) is not here")
def test_clustering_quality_gate_at_the_configured_threshold() -> None:
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from bench_stories import archive_stats, development, wikiref

    threshold = AlertSettings().story_threshold
    for data, floor in ((wikiref(SHARED), 0.90), (development(SHARED), 0.62)):
        keyed = [(i, story_keys(text), when) for i, text, when in data.items]
        index = StoryIndex(threshold, stats=archive_stats(k for _, k, _ in keyed))
        assigned = {i: index.link(k, when)[0] for i, k, when in keyed}
        _, _, f1 = bcubed(assigned, data.labels, data.scored)
        assert f1 >= floor, f"{data.name}: B-cubed F1 {f1:.3f} under the floor {floor}"


def test_the_vocabulary_cap_holds_when_keys_seen_twice_fill_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keys seen more than once are not forgotten by the first rule: past the cap the rarest go, down to 3/4 of
    it, so that the next articles do not each sweep the whole vocabulary again."""
    monkeypatch.setattr(story_index, "MAX_VOCABULARY", 100)
    stats = KeyStats()
    for i in range(80):
        stats.add([f"k{i}", f"k{i}b", "everywhere"] + (["often"] if i % 2 else []))
        stats.add([f"k{i}", f"k{i}b", "everywhere"])
        assert len(stats.df) <= 100
    assert stats.df["everywhere"] == 160 and stats.df["often"] == 40
    sweeps, size = 0, len(stats.df)
    for i in range(100):  # 200 more articles, each bringing two keys seen twice
        stats.add([f"new{i}", f"new{i}b"])
        stats.add([f"new{i}", f"new{i}b"])
        sweeps += len(stats.df) < size
        size = len(stats.df)
        assert size <= 100
    assert 1 <= sweeps <= 200 // 12  # each sweep leaves room for at least a quarter of the cap


def test_a_gone_story_leaves_the_postings_of_keys_its_profile_had_dropped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(story_index, "PROFILE_KEYS", 3)
    index = StoryIndex(0.01, window_days=1)
    story, _ = index.link(Counter({"a": 5, "b": 5, "c": 5, "d": 1}), DAY)
    for i in range(3):  # the story grows: its profile keeps its 3 heaviest keys, dropping lighter ones
        assert index.link(Counter({"a": 5, "b": 5, "c": 5, f"x{i}": 1, f"y{i}": 1}), DAY)[0] == story
    dropped = {k for k, p in index.postings.items() if story in p} - set(index.stories[story].centroid)
    assert dropped  # still posted under keys it no longer carries
    index.link(Counter({"other": 1}), DAY + timedelta(days=3))
    assert index.evict() == 1
    assert all(story not in p for p in index.postings.values())
    assert not dropped & set(index.postings)  # keys no live story carries are gone
