from pathlib import Path

import pytest

from wirewatch.config import ConfigError, load_settings


def test_defaults_are_the_embedded_ones(tmp_path: Path) -> None:
    s = load_settings(None, env={}, overrides={"data_dir": str(tmp_path)})
    assert s.kafka.bootstrap_servers == ""
    assert s.database_url.startswith("sqlite:///")
    assert s.smtp.host == ""
    assert s.outbox_path == tmp_path / "outbox"


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    cfg = tmp_path / "w.toml"
    cfg.write_text('[kafka]\nbootstrap_servers = "file:9092"\n')
    s = load_settings(cfg, env={"KAFKA_BOOTSTRAP_SERVERS": "env:9092", "WIREWATCH_SMTP_HOST": "mail.test"})
    assert s.kafka.bootstrap_servers == "env:9092"
    assert s.smtp.host == "mail.test"


def test_a_typo_names_the_key_the_file_and_the_line(tmp_path: Path) -> None:
    cfg = tmp_path / "w.toml"
    cfg.write_text('data_dir = "x"\n\n[smtp]\nhots = "mail.test"\n')
    with pytest.raises(ConfigError) as err:
        load_settings(cfg, env={})
    assert f"{cfg}:4" in str(err.value)
    assert "unknown key 'smtp.hots'" in str(err.value)


def test_bad_values_and_references_are_reported(tmp_path: Path) -> None:
    cfg = tmp_path / "w.toml"
    cfg.write_text('[[feeds]]\nurl = "ftp://nope"\n[[subscribers]]\nemail = "a@example.org"\nwatches = ["ghost"]\n')
    with pytest.raises(ConfigError, match=r"feeds\.0\.url"):
        load_settings(cfg, env={})
    cfg.write_text('[[subscribers]]\nemail = "a@example.org"\nwatches = ["ghost"]\n')
    with pytest.raises(ConfigError, match="unknown watch"):
        load_settings(cfg, env={})
    cfg.write_text('[[subscribers]]\nemail = "not an address"\n')
    with pytest.raises(ConfigError, match=r"subscribers\.0\.email"):
        load_settings(cfg, env={})


def test_broken_toml_and_missing_file(tmp_path: Path) -> None:
    cfg = tmp_path / "w.toml"
    cfg.write_text("[kafka\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(cfg, env={})
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "missing.toml", env={})
