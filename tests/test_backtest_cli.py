"""`wirewatch backtest` and `wirewatch evaluate` on small files written here."""

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from wirewatch.app.cli import main
from wirewatch.devtools.corpus import DemoCorpus

pytestmark = pytest.mark.integration


def articles_file(tmp_path: Path) -> Path:
    corpus = DemoCorpus.load()
    path = tmp_path / "articles.jsonl"
    with path.open("w", encoding="utf-8") as fh:
        for art in corpus.articles:
            fh.write(json.dumps({"id": art["id"], "title": art["title"], "text": "\n".join(art["body"]),
                                 "labels": {k: v for k, v in art["labels"].items() if k != "doha_story"}}) + "\n")
    return path


def cli(tmp_path: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["--data-dir", str(tmp_path / "data"), *args], catch_exceptions=False)
    return result.exit_code, (result.stdout if result.exit_code == 0 else result.output)


def test_backtest_json_lines_explain_each_article_and_end_with_metrics(tmp_path: Path) -> None:
    code, out = cli(tmp_path, "backtest", str(articles_file(tmp_path)), "--json")
    assert code == 0
    lines = [json.loads(line) for line in out.strip().splitlines()]
    first, summary = lines[0], lines[-1]["summary"]
    assert first["id"] == "a01" and first["fired"] == ["ceasefire_talks", "energy_strikes"]
    hits = first["topics"]["energy_strikes"]["rules"]
    assert hits and {"pattern", "line", "weight", "matched"} <= set(hits[0]) and hits[0]["matched"]
    assert 0 <= first["topics"]["ceasefire_talks"]["model_probability"] <= 1
    assert summary["articles"] == 34
    assert summary["live"]["energy_strikes"]["f1"] >= 0.8


def test_a_candidate_rule_folder_is_compared_with_the_live_one(tmp_path: Path) -> None:
    candidate = tmp_path / "candidate"
    candidate.mkdir()
    (candidate / "ceasefire_talks.rules").write_text("threshold = 1\n1 doha\n")
    (candidate / "qatar.rules").write_text("threshold = 1\n1 qatar* OR doha\n")  # a new topic, without a model
    (candidate / "energy_strikes.rules").write_text("threshold = 100\n1 nothing-will-fire\n")
    code, out = cli(tmp_path, "backtest", str(articles_file(tmp_path)), "--rules", str(candidate), "--json")
    assert code == 0
    lines = [json.loads(line) for line in out.strip().splitlines()]
    by_id = {x["id"]: x for x in lines[:-1]}
    assert any("energy_strikes" in x["change"]["stopped"] for x in by_id.values())
    assert by_id["a12"]["change"]["newly"] == ["qatar"]  # a QatarEnergy gas deal
    summary = lines[-1]["summary"]
    assert summary["newly_firing"] >= 1 and summary["stopped_firing"] >= 1
    # without rules, energy_strikes fires only where the model alone is sure: recall drops
    assert summary["candidate"]["energy_strikes"]["recall"] < summary["live"]["energy_strikes"]["recall"]


def test_backtest_reports_bad_input_and_bad_rules_with_their_place(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "1", "text": "ok"}\n{"id": "2"}\nnot json at all\n{"id": "4", "text": "ceasefire"}\n')
    result = CliRunner().invoke(main, ["--data-dir", str(tmp_path / "data"), "backtest", str(bad), "--json"])
    assert result.exit_code == 0, result.output  # each bad line said with its place; the rest goes on
    assert f"skipped {bad}:2: missing text" in result.stderr
    assert f"skipped {bad}:3: not valid JSON" in result.stderr and "Traceback" not in result.output
    lines = [json.loads(line) for line in result.stdout.strip().splitlines()]
    assert [x["id"] for x in lines[:-1]] == ["1", "4"] and lines[-1]["summary"]["skipped_lines"] == 2
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "x.rules").write_text("threshold = 1\n1 (truce OR\n")
    code, out = cli(tmp_path, "backtest", str(articles_file(tmp_path)), "--rules", str(broken))
    assert code == 1 and "x.rules:2:" in out


def test_evaluate_cross_validates_and_draws_the_curve(tmp_path: Path) -> None:
    plot = tmp_path / "pr.png"
    code, out = cli(tmp_path, "evaluate", str(articles_file(tmp_path)), "--folds", "3", "--plot", str(plot))
    assert code == 0, out
    assert "ceasefire_talks: precision" in out and "3-fold cross-validation" in out
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_backtest_replays_a_watched_story(tmp_path: Path) -> None:
    corpus = DemoCorpus.load()
    path = tmp_path / "articles.jsonl"
    with path.open("w", encoding="utf-8") as fh:
        for art in corpus.articles:
            fh.write(json.dumps({"id": art["id"], "title": art["title"], "text": "\n".join(art["body"]),
                                 "url": f"https://news.test/{art['slug']}", "published": art["published"]}) + "\n")
    seed = f"https://news.test/{corpus.articles[0]['slug']}"
    code, out = cli(tmp_path, "backtest", str(path), "--watch", seed, "--json")
    assert code == 0
    lines = [json.loads(line) for line in out.strip().splitlines()]
    relation = {x["id"]: x["story"]["relation"] for x in lines[:-1]}
    expected = {"doha_report": "seed", "doha_rewrite": "same_report", "doha_followup": "follow_up"}
    for art in corpus.articles:
        assert relation[art["id"]] == expected.get(art["kind"], "unrelated"), art["id"]
    assert lines[-1]["summary"]["story"] == {"seed": 1, "same_report": 4, "follow_up": 4, "unrelated": 25}
    code, out = cli(tmp_path, "backtest", str(path), "--watch", "https://elsewhere.test/x")
    assert code == 2 and "no article with that url" in out
