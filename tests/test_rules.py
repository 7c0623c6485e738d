from pathlib import Path

import pytest

from process.rules import RuleError, bundled_rules_dir, load_rules, parse_rules


def pack_of(text: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    (tmp_path / "t.rules").write_text(text, encoding="utf-8")
    return load_rules(tmp_path)


def test_weights_add_up_to_the_threshold(tmp_path: Path) -> None:
    pack = pack_of('threshold = 4\n3 ceasefire*\n2 negotiat*\n1 title:truce\n', tmp_path)
    weight, hits = pack.score("t", "Truce hopes", "Both sides were negotiating a ceasefire and more ceasefires.")
    assert weight == 6
    assert {h.pattern.text: h.matched for h in hits} == {
        "ceasefire*": ("ceasefire", "ceasefires"), "negotiat*": ("negotiating",), "truce": ("truce",)}


def test_phrases_case_accents_and_scripts(tmp_path: Path) -> None:
    pack = pack_of('threshold = 1\n1 "cessez-le-feu"\n1 trêve\n1 перемири*\n1 "прекращение огня"\n', tmp_path)
    w, hits = pack.score("t", "", "Une TREVE, un Cessez-le-feu; ПЕРЕМИРИЕ и прекращение  огня.")
    assert w == 4
    assert len(hits) == 4


def test_word_boundaries_are_respected(tmp_path: Path) -> None:
    pack = pack_of("threshold = 1\n1 talks\n1 refiner*\n", tmp_path)
    assert pack.score("t", "", "The stalks of wheat")[0] == 0
    assert pack.score("t", "", "Refinery hit; talks.")[0] == 2


def test_title_scope(tmp_path: Path) -> None:
    pack = pack_of("threshold = 1\n1 title:truce\n", tmp_path)
    assert pack.score("t", "Nothing here", "a truce in the body")[0] == 0
    assert pack.score("t", "A truce", "")[0] == 1


@pytest.mark.parametrize(("text", "needle"), [
    ('threshold = 2\n2 "unterminated\n', ':2:3: unterminated phrase'),
    ("threshold = 2\n2 two words\n", ":2:3: several words need quotes"),
    ("threshold = 2\n2 a*\n", ":2:3: wildcard 'a*' would match almost everything"),
    ("threshold = 2\n2 ""\n", ":2:1: expected 'WEIGHT PATTERN'"),
    ("threshold = 2\n2 (peace\n", ":2:3: unexpected characters"),
    ("2 peace\n", ":1:1: missing 'threshold"),
    ("threshold = x\n2 peace\n", ":1:1: expected 'threshold = NUMBER'"),
])
def test_errors_name_file_line_and_column(text: str, needle: str) -> None:
    with pytest.raises(RuleError) as err:
        parse_rules(text, "topic.rules", "topic")
    assert any(needle in p for p in err.value.problems), err.value.problems
    assert all(p.startswith("topic.rules:") for p in err.value.problems)


def test_every_error_of_every_file_is_reported(tmp_path: Path) -> None:
    (tmp_path / "a.rules").write_text("threshold = 1\n1 x*\n1 \"y\n")
    (tmp_path / "b.rules").write_text("1 ok\n")
    with pytest.raises(RuleError) as err:
        load_rules(tmp_path)
    assert len(err.value.problems) == 3


def test_the_bundled_pack_loads() -> None:
    pack = load_rules(bundled_rules_dir())
    assert {"ceasefire_talks", "energy_strikes"} <= set(pack.topics)


def test_the_word_pre_check_never_hides_a_regex_match(tmp_path: Path) -> None:
    pack = pack_of("threshold = 1\n1 kyiv\n1 \"cessez-le-feu\"\n1 перемир'я\n1 sous-station*\n1 title:doha\n", tmp_path)
    text = "Kyiv's envoy: cessez-le-feu, перемир’я and sous-stations."
    weight, hits = pack.score("t", "Doha's talks", text)
    assert weight == 5, [h.pattern.text for h in hits]
