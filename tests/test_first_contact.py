"""A new user's first session from a fresh clone (issue 11, "First contact"), on the real CLI.

Each test runs ``wirewatch`` as a process, the way the user met each problem: the demo beside an
existing data folder, a start-up error with the bundled broker running, a broken rules folder, a
configuration with several mistakes, a mistyped database path, and a rule edited while a worker runs.
"""

import json
import logging
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from wirewatch.process.rules import bundled_rules_dir

from wirewatch.app.cli.root import topic_names
from wirewatch.config import ConfigError, load_settings

pytestmark = pytest.mark.integration


def wirewatch(*args: str, cwd: Path, env: dict[str, str] | None = None,
              timeout: float = 180) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("KAFKA_", "WIREWATCH_"))}
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "wirewatch.app.cli", *args], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=timeout)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "Z" not in Path(f"/proc/{pid}/stat").read_text().split()[2]


def test_the_demo_never_deletes_an_existing_data_folder(tmp_path: Path) -> None:
    mine = tmp_path / "wirewatch-data"
    (mine / "outbox").mkdir(parents=True)
    (mine / "wirewatch.db").write_bytes(b"my real feeds and subscribers")
    (mine / "outbox" / "unsent.eml").write_text("an alert not yet read")
    done = wirewatch("--data-dir", str(mine), "demo", cwd=tmp_path)  # pointed at it explicitly: refused
    assert done.returncode == 2 and "holds data that is not the demo's" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    done = wirewatch("demo", cwd=tmp_path)  # by default: the demo's own folder
    assert done.returncode == 0, done.stderr
    assert (mine / "wirewatch.db").read_bytes() == b"my real feeds and subscribers"
    assert (mine / "outbox" / "unsent.eml").exists()
    assert list((tmp_path / "wirewatch-demo" / "outbox").glob("*.eml")) and "wirewatch-demo" in done.stdout
    again = wirewatch("demo", cwd=tmp_path)  # its own folder it resets, run after run
    assert again.returncode == 0, again.stderr


def test_a_start_up_error_leaves_no_bundled_broker_behind(tmp_path: Path) -> None:
    done = wirewatch("--data-dir", str(tmp_path), "run", "--once", cwd=tmp_path,
                     env={"WIREWATCH_DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none"})
    assert done.returncode == 2 and done.stderr.strip().splitlines()[-1].startswith("wirewatch: database")
    pids = [int(json.loads(line)["message"].split("(pid ")[1].split(",")[0]) for line in done.stderr.splitlines()
            if line.startswith("{") and "embedded broker started" in line]
    assert len(pids) == 1
    time.sleep(0.5)
    assert not alive(pids[0]), "the bundled broker outlived `run`"


def test_a_broken_or_missing_rules_folder_is_one_line_and_exit_2(tmp_path: Path) -> None:
    broken = tmp_path / "rules"
    broken.mkdir()
    (broken / "x.rules").write_text("threshold = 1\n1 (truce OR\n")
    for folder in (broken, tmp_path / "nowhere"):
        cfg = tmp_path / "w.toml"
        cfg.write_text(f'[classify]\nrules_dir = "{folder}"\n')
        done = wirewatch("--config", str(cfg), "--data-dir", str(tmp_path / "d"), "run", "--once", cwd=tmp_path)
        last = done.stderr.strip().splitlines()[-1]
        assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr[-2000:]
        assert last.startswith("wirewatch: rules: ") and str(folder) in last


def test_every_configuration_mistake_is_reported_at_once_naming_where(tmp_path: Path) -> None:
    cfg = tmp_path / "w.toml"
    cfg.write_text('[poll]\nmin_interval_seconds = 7200\nmax_interval_seconds = 600\n\n'
                   '[[subscribers]]\nemail = "a@example.org"\nwatches = ["doha-talks"]\n'
                   '[subscribers.topics]\nceasefire_talk = 0.5\nenergy_strikes = 1.5\n')
    with pytest.raises(ConfigError) as caught:
        load_settings(cfg, env={"WIREWATCH_SMTP_PORT": "twenty-five"}, topics=topic_names)
    lines = str(caught.value).splitlines()
    assert any(line.startswith("environment variable WIREWATCH_SMTP_PORT='twenty-five'") for line in lines)
    assert any("min_interval_seconds (7200) is above max_interval_seconds (600)" in line for line in lines)
    assert any("energy_strikes = 1.5" in line and "between 0 and 1" in line for line in lines)
    assert any("unknown watch(es): doha-talks" in line for line in lines)
    assert any(f"{cfg}:9: subscriber a@example.org subscribes to unknown topic(s) ceasefire_talk" in line
               for line in lines)
    assert len(lines) == 5
    done = wirewatch("--config", str(cfg), "feeds", "list", cwd=tmp_path, env={"WIREWATCH_SMTP_PORT": "x"})
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 5
    added = wirewatch("--data-dir", str(tmp_path / "d"), "subscribers", "add", "b@example.org",
                      "--topic", "ceasefire_talk", "--topic", "energy_strikes:1.5", cwd=tmp_path)
    assert added.returncode == 2 and "unknown topic 'ceasefire_talk'" in added.stderr
    assert "minimum score of energy_strikes is 1.5" in added.stderr


def test_read_only_commands_never_create_a_database(tmp_path: Path) -> None:
    typo = tmp_path / "wirewatch.bd"
    for args in (("status",), ("feeds", "list"), ("subscribers", "list"), ("watch", "list"), ("db", "current")):
        done = wirewatch(*args, cwd=tmp_path, env={"WIREWATCH_DATABASE_URL": f"sqlite:///{typo}"})
        assert done.returncode == 2 and f"no database at {typo}" in done.stderr, (args, done.stderr)
        done = wirewatch("--data-dir", str(tmp_path / "fresh"), *args, cwd=tmp_path)
        assert done.returncode == 2 and "no database at" in done.stderr
    assert not typo.exists() and not (tmp_path / "fresh" / "wirewatch.db").exists()


def test_a_rule_edit_is_loaded_or_reported_when_the_file_changes(tmp_path: Path, broker: str,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    from wirewatch.app.pipeline import Pipeline

    rules = tmp_path / "rules"
    shutil.copytree(bundled_rules_dir(), rules)
    settings = load_settings(None, env={}, overrides={
        "data_dir": str(tmp_path / "d"), "kafka.bootstrap_servers": broker, "kafka.topic_prefix": "edit-",
        "classify.rules_dir": str(rules)})
    stop = threading.Event()
    caplog.set_level(logging.INFO, logger="wirewatch.process.classifier")
    with Pipeline(settings, allow_embedded=False) as pipeline:
        runner = pipeline.runner("classify")
        worker = threading.Thread(target=runner.run, args=(stop,))
        worker.start()
        try:
            time.sleep(1.0)
            path = rules / "ceasefire_talks.rules"
            path.write_text(path.read_text() + "\n1 armistice\n")  # no article comes meanwhile
            assert wait_for(caplog, "rules reloaded from"), "a good edit was not loaded"
            path.write_text(path.read_text() + "\n1 (truce OR\n")
            assert wait_for(caplog, "have errors"), "a broken edit was not reported"
        finally:
            stop.set()
            worker.join(timeout=30)
    broken = next(r for r in caplog.records if "have errors" in r.getMessage())
    assert "ceasefire_talks.rules:" in broken.getMessage()


def wait_for(caplog: pytest.LogCaptureFixture, text: str, seconds: float = 10.0) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if any(text in r.getMessage() for r in caplog.records):
            return True
        time.sleep(0.1)
    return False
