"""Story relation on plain texts: retellings are the same report, developments are follow-ups,
the noise around a story (Gaza talks in Doha, battlefield and strike reports) is not part of it;
and bad input (no text, an unreadable script, 5 MB, a three-word seed, a weights file of another
version) gets a clear answer at a bounded cost."""

import json
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from alerts.linker import FORMAT, LinkModel, ModelFileError
from alerts.stories import StoryProfile, TermStats, names, relate
from alerts.textkeys import Analyser, spelling
from wirewatch.demo.corpus import DemoCorpus

CORPUS = DemoCorpus.load()
BOTH = {"ceasefire_talks", "energy_strikes"}


def body(art: dict) -> str:  # type: ignore[type-arg]
    return art["title"] + "\n" + "\n".join(art["body"])


def fired(art: dict) -> set[str]:  # type: ignore[type-arg]
    return {t for t in BOTH if art["labels"][t]}


def when(art: dict) -> datetime:  # type: ignore[type-arg]
    return datetime.fromisoformat(art["published"].replace("Z", "+00:00"))


def keys(text: str) -> set[str]:
    return set(Analyser.default().analyse(text).keys)


def test_names_meet_across_scripts_and_spellings() -> None:
    assert spelling("Курской")[:5] == spelling("Koursk")[:5] == spelling("Kursk")[:5] == "kursk"
    assert spelling("Катар") == spelling("Qatar") == "katar"
    assert {"@israel", "@lebano"} <= keys("وقف إطلاق النار بين إسرائيل ولبنان")  # Arabic: no capitals, a prefix
    assert {"@israel", "@lebano"} <= keys("Cessez-le-feu entre Israël et le Liban")
    assert "@pakist" in keys("भारत और पाकिस्तान के बीच संघर्ष विराम")  # Devanagari with its vowel signs
    assert "@kambod" in keys("การหยุดยิงระหว่างไทยและกัมพูชา")  # Thai, written without spaces
    assert "~bsnn" in keys("باشينيان") & keys("Pashinyan")  # a name without vowels meets its Latin spelling
    assert {"%08", "%08-17"} <= keys("Talks were due on 17 August") & keys("Переговоры 17 августа")


def test_places_named_in_other_languages_take_their_english_key() -> None:
    english = {k for k in keys("x Russia x Moscow x Qatar x Kyiv") if k[0] == "@"}
    assert len(english) == 4
    for text in ("x Russland x Moskau x Katar x Kiew", "x России x Москве x Катаре x Киеве",
                 "x Rusia x Moscú x Catar x Kiev"):
        assert {k for k in keys(text) if k[0] == "@"} == english, text
    assert not {k for k in keys("x Kazakov x Moskalenko") if k[0] == "@"}  # surnames are not places


def demo_relations() -> dict[str, tuple[str, str, str]]:
    stats = TermStats.with_background()
    for art in CORPUS.articles:
        stats.add(body(art))
    seed = next(a for a in CORPUS.articles if a["kind"] == "doha_report")
    story = StoryProfile("doha", "Doha talks")
    story.seed(body(seed), fired(seed), when(seed))
    kinds = {}
    for art in sorted(CORPUS.articles, key=when):
        if art is seed:
            continue
        relation = relate(body(art), story, stats, None, when(art), fired(art))
        kinds[art["id"]] = (art["kind"], relation.kind, relation.reason)
        if relation.related:
            story.learn(body(art), when(art))
    return kinds


def test_the_demo_story_its_retellings_and_its_developments() -> None:
    for art_id, (kind, found, reason) in demo_relations().items():
        if kind == "doha_rewrite":
            assert found != "unrelated", (art_id, kind, found, reason)
        elif kind == "doha_followup":
            assert found == "follow_up", (art_id, kind, found, reason)


@pytest.mark.xfail(strict=True, reason="known: the learned linker takes some of the demo's Kursk battle and energy-"
                   "strike reports into the Doha story (same places and actors, another event); see docs/benchmarks.md")
def test_the_demo_story_keeps_its_noise_out() -> None:
    for art_id, (kind, found, reason) in demo_relations().items():
        if kind not in ("doha_rewrite", "doha_followup"):
            assert found == "unrelated", (art_id, kind, found, reason)


def test_a_relation_carries_what_an_email_needs() -> None:
    stats = TermStats.with_background()
    seed = next(a for a in CORPUS.articles if a["kind"] == "doha_report")
    follow = next(a for a in CORPUS.articles if a["kind"] == "doha_followup")
    story = StoryProfile("doha", "Doha talks")
    story.seed(body(seed), BOTH, when(seed))
    relation = relate(body(follow), story, stats, None, when(follow), BOTH)
    assert relation.kind == "follow_up", relation.reason
    assert relation.shared_names and all(n in body(follow) for n in relation.shared_names)  # as the article writes them
    assert all(f in body(follow) for f in relation.new_facts)
    assert relation.reason and dict(relation.features)["cos_seed"] > 0


def test_time_window_bounds_a_story_and_topics_are_a_signal_not_a_gate() -> None:
    stats = TermStats.with_background()
    seed = next(a for a in CORPUS.articles if a["kind"] == "doha_report")
    story = StoryProfile("doha", "Doha talks")
    story.seed(body(seed), BOTH, when(seed))
    follow = next(a for a in CORPUS.articles if a["kind"] == "doha_followup")
    late = when(follow).replace(year=2026)
    assert relate(body(follow), story, stats, None, late, BOTH).reason.startswith("more than 120 days")
    with_topics = relate(body(follow), story, stats, None, when(follow), BOTH)
    without = relate(body(follow), story, stats, None, when(follow), {"sport"})
    assert dict(with_topics.features)["topics"] == 1.0 and dict(without.features)["topics"] == 0.0
    moved = without.similarity != with_topics.similarity
    assert moved == (LinkModel.load().link_weights["topics"] != 0)  # topics weigh as fitted; they never decide alone


def test_bad_input_gets_a_clear_answer_at_a_bounded_cost() -> None:
    stats = TermStats.with_background()
    seed = next(a for a in CORPUS.articles if a["kind"] == "doha_report")
    story = StoryProfile("doha", "Doha talks")
    story.seed(body(seed), BOTH, when(seed))
    assert relate("", story, stats).reason.startswith("no words to compare")
    assert relate("\u2063\u2063 ... !!! ---", story, stats).kind == "unrelated"
    assert relate("ꦱꦸꦫꦏꦂꦠ ꦲꦶꦁ ꦠꦤꦃ ꦗꦮ", story, stats).kind == "unrelated"  # Javanese script: read, unrelated
    huge = "Doha talks on energy strikes. " * 180_000  # 5 MB
    start = time.process_time()
    relation = relate(huge, story, stats, None, when(seed), BOTH)
    assert time.process_time() - start < 2.0 and relation.kind in ("same_report", "follow_up", "unrelated")
    tiny = StoryProfile("tiny", "tiny")
    tiny.seed("Doha energy talks", BOTH, when(seed))  # a seed of three words
    assert relate(body(seed), tiny, stats, None, when(seed), BOTH).kind in ("same_report", "follow_up", "unrelated")
    empty = StoryProfile("empty", "empty")
    empty.seed("", BOTH, when(seed))
    assert relate(body(seed), empty, stats).reason.startswith("the story's seed has no words")
    assert len(names(huge)) < 2_000


def test_a_weights_file_of_another_version_is_named_with_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "weights.json"
    path.write_text(json.dumps({"format": "wirewatch-linker/0", "link": {}}), encoding="utf-8")
    with pytest.raises(ModelFileError, match=r"weights.json.*wirewatch-linker/0.*fit_linker"):
        LinkModel.load(path)
    shipped = LinkModel.load()
    data = shipped.as_json()
    data["link"]["weights"].pop("cos_seed")  # type: ignore[index]
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ModelFileError, match="features differ"):
        LinkModel.load(path)
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(ModelFileError, match="cannot read"):
        LinkModel.load(path)
    assert data["format"] == FORMAT


def test_watching_the_first_seed_the_other_four_are_linked(shared: Path) -> None:
    seeds = [p.read_text(encoding="utf-8") for p in sorted((shared / "seeds").glob("*.txt"))]
    stats = TermStats.with_background()
    for text in seeds:
        stats.add(text)
    story = StoryProfile("doha", "Doha talks")
    story.seed(seeds[0], BOTH, datetime(2024, 8, 17, tzinfo=UTC))
    for text in seeds[1:]:
        relation = relate(text, story, stats, None, datetime(2024, 8, 17, 12, tzinfo=UTC), BOTH)
        assert relation.related, relation
