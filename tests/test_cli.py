"""The command line as ops and editors use it: clear one-line failures, rule checking, training."""

import os
import subprocess
import sys
from pathlib import Path

import pytest


def wirewatch(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("KAFKA_", "WIREWATCH_"))}
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "wirewatch.app.cli", *args], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=120)


def test_a_config_typo_is_one_line_with_file_and_line(tmp_path: Path) -> None:
    cfg = tmp_path / "w.toml"
    cfg.write_text('[poll]\ninterval_secnds = 5\n')
    done = wirewatch("--config", str(cfg), "run", "--once", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip() == (f"wirewatch: {cfg}:2: unknown key 'poll.interval_secnds' "
                                   "(check its spelling; see README 'Configuration')")


def test_a_worker_without_a_reachable_broker_says_so(tmp_path: Path) -> None:
    done = wirewatch("--data-dir", str(tmp_path), "extract", cwd=tmp_path,
                     env={"KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1"})
    assert done.returncode == 2
    assert done.stderr.startswith("wirewatch: no Kafka broker answers at 127.0.0.1:1")
    assert "Traceback" not in done.stderr
    done = wirewatch("--data-dir", str(tmp_path), "classify", cwd=tmp_path, env={"KAFKA_BOOTSTRAP_SERVERS": ""})
    assert done.returncode == 2 and "no Kafka bootstrap servers configured" in done.stderr


def test_rules_check_reports_file_line_and_column(tmp_path: Path) -> None:
    (tmp_path / "peace.rules").write_text('threshold = 2\n2 truce\n2 "peace talks\n')
    done = wirewatch("rules", "check", str(tmp_path), cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.strip() == f"{tmp_path / 'peace.rules'}:3:3: unterminated phrase: expected a closing '\"'"
    ok = wirewatch("rules", "check", cwd=tmp_path)
    assert ok.returncode == 0 and "ceasefire_talks" in ok.stdout


@pytest.mark.integration
def test_train_saves_a_versioned_model(tmp_path: Path) -> None:
    extra = tmp_path / "feedback.jsonl"
    extra.write_text('{"text": "Envoys agreed a truce to halt strikes on power plants.", '
                     '"labels": {"ceasefire_talks": true, "energy_strikes": true}}\n')
    done = wirewatch("--data-dir", str(tmp_path), "train", str(extra), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "model.joblib").exists()
    assert '"sklearn"' in done.stdout and '"data_sha256"' in done.stdout
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "x", "labels": {}}\nnot json\n')
    done = wirewatch("--data-dir", str(tmp_path), "train", str(bad), cwd=tmp_path)
    assert done.returncode == 2 and f"{bad}:2: not valid JSON" in done.stderr
