"""Quality gate: the classify and alert stages on real labeled news must not drop below their pinned floors.

Floors (raise them when quality rises; never lower them to make a change pass), from
benchmarks/eval_classifier.py: F1 per topic on ../shared/data/news-dev.jsonl and on the topic labels of
../shared/data/stories-dev (six stories of other conflicts, 17 languages), also with each story scored
by a model trained without the bundled examples about its conflict (leave one story out); and the
share of the 2,225 BBC articles of ../shared/data/bbc (none about these topics) that fire; the Doha watch
(benchmarks/eval_stories.py); and watching the six stories of stories-dev and the Doha watch through the
evaluation of issue #10 (benchmarks/eval_watch.py).
"""

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.integration

TOPICS = ("ceasefire_talks", "energy_strikes")
NEWS_DEV_F1 = {"ceasefire_talks": 0.96, "energy_strikes": 0.96}  # reached 0.966 and 0.967
STORIES_DEV_F1 = {"ceasefire_talks": 0.97, "energy_strikes": 0.95}  # reached 0.972 and 0.951
STORIES_DEV_LOSO_F1 = {"ceasefire_talks": 0.95, "energy_strikes": 0.91}  # reached 0.953 and 0.915
BBC_FP_CEILING = {"ceasefire_talks": 0.003, "energy_strikes": 0.001}  # reached 0.27 % and 0.09 % (goal 0.5 %)
SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "eval_classifier.py"


@pytest.fixture(scope="module")
def figures(shared: Path) -> dict[str, Any]:
    out = subprocess.run([sys.executable, str(SCRIPT), "--shared", str(shared), "--json", "--loso", "--no-speed"],
                         capture_output=True, text=True, check=True, timeout=600)
    return json.loads(out.stdout)


@pytest.mark.parametrize(("corpus", "floors"), [("news_dev", NEWS_DEV_F1), ("stories_dev", STORIES_DEV_F1),
                                                 ("stories_dev_loso", STORIES_DEV_LOSO_F1)])
def test_f1_on_the_labeled_dev_sets(figures: dict[str, Any], corpus: str, floors: dict[str, float]) -> None:
    errors = figures.get(f"{corpus}_errors", figures.get("stories_dev_errors"))
    for topic in TOPICS:
        s = figures[corpus][topic]
        assert s["f1"] >= floors[topic], f"{corpus} {topic}: F1 {s['f1']:.3f} < {floors[topic]} ({s}; {errors[topic]})"


def test_false_positive_rate_on_bbc(figures: dict[str, Any]) -> None:
    for topic in TOPICS:
        rate = figures["bbc_fp_rate"][topic]
        assert rate <= BBC_FP_CEILING[topic], f"{topic}: {rate:.2%} of BBC articles fired: {figures['bbc_fp'][topic]}"


def test_the_figures_cover_every_bbc_article_and_story_row(figures: dict[str, Any]) -> None:
    stories = figures["stories_dev"]["ceasefire_talks"]
    assert stories["tp"] + stories["fp"] + stories["fn"] + stories["tn"] > 150
    assert figures["bbc_articles"] > 2000


DOHA_RECALL_FLOOR = 0.90
DOHA_OTHERS_CEILING = 0.02


def test_the_doha_story_on_the_labeled_dev_set(shared: Path) -> None:
    """Watching the first seed: the other seeds are the same report; on news-dev, recall on the Doha
    story's excerpts ≥ 0.90 with at most 2 % of the other excerpts (Gaza talks in Doha, Qatar gas,
    strike reports, other mediations) linked. The figures come from the story benchmark itself."""
    script = Path(__file__).resolve().parents[1] / "benchmarks" / "eval_stories.py"
    out = subprocess.run([sys.executable, str(script), "--shared", str(shared), "--json"], capture_output=True,
                         text=True, check=True, timeout=240)
    result = json.loads(out.stdout)
    assert {r["relation"] for r in result["seeds"].values()} == {"same_report"}, result["seeds"]
    assert result["recall"] >= DOHA_RECALL_FLOOR, result["missed"]
    assert result["others_linked_share"] <= DOHA_OTHERS_CEILING, result["wrongly_linked"]


# benchmarks/eval_watch.py: watching each of the six stories of stories-dev from its seed (issue #10 asks for
# recall >= 0.90 per story, pooled false flags <= 1 %, right kind >= 90 %). The floors are the hand-written
# linker's figures (nothing fitted on stories-dev, so no fold is needed); a fitted linker is scored leave one
# story out by the same script.
WATCH_STORY_RECALL_FLOOR = {"armaz": 0.52, "gazadeal": 0.85, "hezbollah": 0.65, "indopak": 0.43, "thaicam": 0.60,
                            "znpp": 0.35}  # reached 9/17, 18/21, 15/23, 10/23, 12/20, 7/20 (place keys across scripts)
WATCH_POOLED_RECALL_FLOOR = 0.57  # reached 71/124 = 0.573
WATCH_FALSE_FLAG_CEILING = 0.01  # reached 8/986 = 0.81 % (goal 1 %)
WATCH_RIGHT_KIND_FLOOR = 0.90  # reached 64/71 = 90.1 % (goal 90 %)
WATCH_DOHA_RECALL_FLOOR = 0.95  # reached 27/28 = 0.964
WATCH_DOHA_FALSE_FLAG_CEILING = 0.01  # reached 1/124 = 0.81 %


@pytest.fixture(scope="module")
def watching(shared: Path) -> dict[str, Any]:
    script = Path(__file__).resolve().parents[1] / "benchmarks" / "eval_watch.py"
    out = subprocess.run([sys.executable, str(script), "--shared", str(shared), "--linker", "hand", "--json"],
                         capture_output=True, text=True, check=True, timeout=600)
    return json.loads(out.stdout)


def test_watching_each_story_of_stories_dev(watching: dict[str, Any]) -> None:
    assert set(watching["stories"]) == set(WATCH_STORY_RECALL_FLOOR)
    for story, floor in WATCH_STORY_RECALL_FLOOR.items():
        s = watching["stories"][story]
        assert s["recall"] >= floor, f"{story}: recall {s['recall']:.2f} < {floor}; missed {s['missed']}"
    pooled = watching["pooled"]
    assert pooled["recall"] >= WATCH_POOLED_RECALL_FLOOR, pooled
    assert pooled["false_flag_share"] <= WATCH_FALSE_FLAG_CEILING, \
        [s["flagged_wrongly"] for s in watching["stories"].values()]
    assert pooled["right_kind_share"] >= WATCH_RIGHT_KIND_FLOOR, \
        [s["wrong_kind"] for s in watching["stories"].values()]


def test_watching_doha_on_news_dev(watching: dict[str, Any]) -> None:
    d = watching["doha"]
    assert set(d["seeds"].values()) == {"same_report"}, d["seeds"]
    assert d["recall"] >= WATCH_DOHA_RECALL_FLOOR, d["missed"]
    assert d["false_flag_share"] <= WATCH_DOHA_FALSE_FLAG_CEILING, d["flagged_wrongly"]
