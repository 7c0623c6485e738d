"""A watch's seed as an admin gives it: a thin seed is named as such, a seed file that is missing is a
configuration error naming the file and its line, and one that goes away later stops no worker."""

import logging
from pathlib import Path

import pytest
from click.testing import CliRunner

from wirewatch.app.cli import main
from wirewatch.config import ConfigError, WatchSettings, load_settings


def run(tmp_path: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["--data-dir", str(tmp_path / "data"), *args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_a_seed_of_three_words_is_added_with_a_warning_that_says_what_to_give_instead(tmp_path: Path) -> None:
    code, out, err = run(tmp_path, "watch", "add", "--id", "swap", "--name", "Prisoner swap",
                         "--text", "prisoner swap talks")
    assert code == 0 and out == "watching swap: Prisoner swap\n"
    assert "the seed of swap has only 3 words" in err and "--url" in err
    assert "(a thin seed of 3 words)" in run(tmp_path, "watch", "list")[1]


def test_a_seed_of_a_paragraph_or_of_a_url_gets_no_warning(tmp_path: Path) -> None:
    paragraph = ("Negotiators from both governments met in Geneva on Tuesday and agreed to exchange two hundred "
                 "prisoners each within a week, officials said, after months of talks mediated by Turkey.")
    code, _, err = run(tmp_path, "watch", "add", "--id", "swap", "--name", "Prisoner swap", "--text", paragraph)
    assert code == 0 and "warning:" not in err
    code, _, err = run(tmp_path, "watch", "add", "--id", "swap2", "--name", "Prisoner swap",
                         "--url", "https://news.example.org/swap")
    assert code == 0 and "warning:" not in err
    assert "thin seed" not in run(tmp_path, "watch", "list")[1]


def test_a_thai_seed_is_counted_by_its_letters_not_its_spaces(tmp_path: Path) -> None:
    thai = "การเจรจาหยุดยิงระหว่างสองประเทศเริ่มขึ้นอีกครั้งในวันอังคาร " * 4  # written without spaces between words
    code, _, err = run(tmp_path, "watch", "add", "--id", "truce", "--name", "Truce", "--text", thai)
    assert code == 0 and "warning:" not in err
    code, _, err = run(tmp_path, "watch", "add", "--id", "truce2", "--name", "Truce", "--text", "การเจรจาหยุดยิง")
    assert code == 0 and "has only 1 word:" in err


def test_a_missing_seed_file_is_a_configuration_error_naming_the_file_and_its_line(tmp_path: Path) -> None:
    config = tmp_path / "wirewatch.toml"
    present = tmp_path / "seed.txt"
    present.write_text("Talks on a truce resumed.")
    config.write_text(f'[[watches]]\nid = "kept"\nname = "Kept"\nseed_file = "{present}"\n\n'
                      f'[[watches]]\nid = "gone"\nname = "Gone"\nseed_file = "{tmp_path / "nope.txt"}"\n')
    with pytest.raises(ConfigError) as raised:
        load_settings(config, env={})
    assert str(raised.value) == f"{config}:9: watch 'gone': seed_file {tmp_path / 'nope.txt'}: no such file"


def test_a_seed_file_gone_after_the_start_gives_an_empty_seed_and_an_error_in_the_log(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    seed = tmp_path / "seed.txt"
    seed.write_text("Talks on a truce resumed in Doha.")
    watch = WatchSettings(id="truce", name="Truce", seed_file=str(seed))
    assert watch.seed() == "Talks on a truce resumed in Doha."
    seed.unlink()
    with caplog.at_level(logging.ERROR):
        assert watch.seed() == ""
    assert f"watch 'truce': its seed_file {seed} cannot be read (No such file or directory)" in caplog.text
