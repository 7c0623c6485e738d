"""`wirewatch subscribers …` and `wirewatch watch …` as analysts' admins use them."""

from pathlib import Path

from click.testing import CliRunner

from wirewatch.app.cli import main


def run(tmp_path: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["--data-dir", str(tmp_path / "data"), *args], catch_exceptions=False)
    return result.exit_code, (result.stdout if result.exit_code == 0 else result.output)


def test_watches_and_subscribers_round_trip(tmp_path: Path) -> None:
    seed = tmp_path / "report.txt"
    seed.write_text("Ukraine and Russia were to send delegations to Doha for talks on energy strikes.")
    assert run(tmp_path, "watch", "add", "--id", "doha", "--name", "Doha talks", "--file", str(seed),
               "--topic", "ceasefire_talks") == (0, "watching doha: Doha talks\n")
    code, out = run(tmp_path, "watch", "add", "--id", "doha", "--name", "again", "--text", "x")
    assert code == 2 and "exists already" in out
    code, out = run(tmp_path, "watch", "add", "--id", "Bad Id", "--name", "n", "--text", "x")
    assert code == 2 and "watch 'Bad Id': id" in out
    code, out = run(tmp_path, "subscribers", "add", "Analyst@Example.org", "--mode", "hourly", "--topic",
                    "energy_strikes:0.7", "--watch", "doha")
    assert code == 0, out
    code, out = run(tmp_path, "subscribers", "list")
    assert out == "Analyst@example.org  hourly  topics: energy_strikes≥0.7  watches: doha\n"
    code, out = run(tmp_path, "watch", "list")
    assert out.startswith("doha  Doha talks  seed: text (") and "follow-ups: 0, same report: 0" in out
    assert run(tmp_path, "watch", "remove", "doha")[0] == 0
    assert "watches: -" in run(tmp_path, "subscribers", "list")[1]
    assert run(tmp_path, "subscribers", "remove", "Analyst@example.org")[0] == 0
    assert run(tmp_path, "subscribers", "remove", "Analyst@example.org")[0] == 2


def test_invalid_addresses_topics_and_watches_are_refused_when_added(tmp_path: Path) -> None:
    for bad in ("not-an-address", "a@b", "x@example.org\r\nBcc: evil@example.org"):
        code, out = run(tmp_path, "subscribers", "add", bad)
        assert code == 2 and "is not a valid email address" in out, out
    code, out = run(tmp_path, "subscribers", "add", "a@example.org", "--topic", "energy:high")
    assert code == 2 and "expected TOPIC or TOPIC:MIN_SCORE" in out
    code, out = run(tmp_path, "subscribers", "add", "a@example.org", "--watch", "ghost")
    assert code == 2 and "unknown watch(es): ghost" in out


def test_a_watch_whose_seed_article_has_not_arrived_says_so(tmp_path: Path) -> None:
    url = "https://news.example.org/2026/12/01/talks-resume"
    assert run(tmp_path, "watch", "add", "--id", "talks", "--name", "Talks resume", "--url", url)[0] == 0
    code, out = run(tmp_path, "watch", "list")
    assert code == 0
    assert f"seed: {url} (not archived yet: the watch links nothing until a feed brings this article)" in out
