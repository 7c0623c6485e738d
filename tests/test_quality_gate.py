"""Quality gate: the classify and alert stages on real labeled news must not drop below their pinned floors.

Floors (raise them when quality rises; never lower them to make a change pass): F1 ≥ 0.90 for each
topic on ../shared/data/news-dev.jsonl, and a false-positive rate under 0.5 % per topic on the
2,225 BBC articles of ../shared/data/bbc, none of which is about these topics; the Doha watch on news-dev;
and watching the six stories of ../shared/data/stories-dev leave one story out (benchmarks/eval_watch.py).
"""

from pathlib import Path

import pytest

from process.backtest import InputArticle, metrics, read_articles, run
from process.classifier import RuleSource, TopicClassifier
from process.model import bundled_training_file, read_examples, train
from process.rules import bundled_rules_dir

pytestmark = pytest.mark.integration

TOPICS = ("ceasefire_talks", "energy_strikes")
F1_FLOOR = 0.90
BBC_FP_CEILING = 0.005


@pytest.fixture(scope="module")
def classifier() -> TopicClassifier:
    return TopicClassifier(RuleSource(bundled_rules_dir()), train(read_examples(bundled_training_file())))


def test_f1_on_the_labeled_dev_set(classifier: TopicClassifier, shared: Path) -> None:
    verdicts = run(classifier, read_articles(shared / "data" / "news-dev.jsonl"))
    scores = metrics(verdicts, TOPICS)
    for topic, s in scores.items():
        assert s.f1 >= F1_FLOOR, f"{topic}: F1 {s.f1:.3f} < {F1_FLOOR} ({s.as_json()})"


def test_false_positive_rate_on_bbc(classifier: TopicClassifier, shared: Path) -> None:
    items = []
    for path in sorted((shared / "data" / "bbc" / "bbc").glob("*/*.txt")):
        lines = path.read_bytes().decode("utf-8", errors="replace").strip().splitlines()
        items.append(InputArticle(path.stem, lines[0], "\n".join(lines[1:])))
    assert len(items) > 2000
    verdicts = run(classifier, items)
    for topic in TOPICS:
        rate = sum(topic in v.fired() for v in verdicts) / len(items)
        assert rate < BBC_FP_CEILING, f"{topic}: {rate:.2%} of BBC articles fired"


DOHA_RECALL_FLOOR = 0.90
DOHA_OTHERS_CEILING = 0.02


def test_the_doha_story_on_the_labeled_dev_set(shared: Path) -> None:
    """Watching the first seed: the other seeds are the same report; on news-dev, recall on the Doha
    story's excerpts ≥ 0.90 with at most 2 % of the other excerpts (Gaza talks in Doha, Qatar gas,
    strike reports, other mediations) linked. The figures come from the story benchmark itself."""
    import json
    import subprocess
    import sys

    script = Path(__file__).resolve().parents[1] / "benchmarks" / "eval_stories.py"
    out = subprocess.run([sys.executable, str(script), "--shared", str(shared), "--json"], capture_output=True,
                         text=True, check=True, timeout=240)
    result = json.loads(out.stdout)
    assert {r["relation"] for r in result["seeds"].values()} == {"same_report"}, result["seeds"]
    assert result["recall"] >= DOHA_RECALL_FLOOR, result["missed"]
    assert result["others_linked_share"] <= DOHA_OTHERS_CEILING, result["wrongly_linked"]


# benchmarks/eval_watch.py, leave one story out (issue #10 asks for 0.90 per story, 1 % false flags, 90 % right kind)
WATCH_STORY_RECALL_FLOOR = 0.80
WATCH_POOLED_RECALL_FLOOR = 0.87
WATCH_FALSE_FLAG_CEILING = 0.03
WATCH_RIGHT_KIND_FLOOR = 0.91
WATCH_DOHA_RECALL_FLOOR = 0.95  # five folds of news-dev, each scored with weights fitted without it
WATCH_DOHA_FALSE_FLAG_CEILING = 0.025


def test_watching_six_real_stories_leave_one_story_out(shared: Path) -> None:
    """Each stories-dev story watched from its seed, with linker weights fitted on the five others; the
    figures come from the evaluation script itself."""
    import json
    import subprocess
    import sys

    script = Path(__file__).resolve().parents[1] / "benchmarks" / "eval_watch.py"
    out = subprocess.run([sys.executable, str(script), "--shared", str(shared), "--json"], capture_output=True,
                         text=True, check=True, timeout=900)
    result = json.loads(out.stdout)
    for story, s in result["stories"].items():
        assert s["recall"] >= WATCH_STORY_RECALL_FLOOR, (story, s["missed"])
    pooled = result["pooled"]
    assert pooled["recall"] >= WATCH_POOLED_RECALL_FLOOR, pooled
    assert pooled["false_flag_share"] <= WATCH_FALSE_FLAG_CEILING, pooled
    assert pooled["right_kind_share"] >= WATCH_RIGHT_KIND_FLOOR, pooled
    doha = result["doha"]
    assert doha["recall"] >= WATCH_DOHA_RECALL_FLOOR, doha["missed"]
    assert doha["false_flag_share"] <= WATCH_DOHA_FALSE_FLAG_CEILING, doha["flagged_wrongly"]
    assert set(doha["seeds"].values()) <= {"same_report", "follow_up"}, doha["seeds"]
