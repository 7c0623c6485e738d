"""The wheel as users install it: one ``wirewatch`` namespace in site-packages, every data file inside.

In: this checkout, built with pip into a wheel. Out: checks on the wheel's names, and on the command line
run from the unpacked wheel alone (not from the checkout).
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = {"wirewatch": "wirewatch", "ingest": "wirewatch/ingest", "process": "wirewatch/process",
           "alerts": "wirewatch/alerts"}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out), str(ROOT)],
                          capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        pytest.skip(f"pip could not build the wheel here (no build backend from the registry?): {done.stderr[-400:]}")
    return next(out.glob("wirewatch-*.whl"))


def test_the_wheel_installs_one_namespace(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/")[0] for n in names}
    assert {t for t in top if not t.endswith(".dist-info")} == {"wirewatch"}
    assert not {"ingest", "process", "alerts"} & top


def test_every_file_of_the_checkouts_packages_is_in_the_wheel(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for folder, installed in FOLDERS.items():
        for path in (ROOT / folder).rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts:
                assert f"{installed}/{path.relative_to(ROOT / folder).as_posix()}" in names, path


def test_the_command_line_runs_from_the_unpacked_wheel(wheel: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    env = {**os.environ, "PYTHONPATH": str(site)}
    code = ("import wirewatch.alerts.compose as c, wirewatch.process.rules as r; "
            "print(c.__file__); print(r.bundled_rules_dir())")
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    compose_file, rules_dir = done.stdout.split()
    assert Path(compose_file).is_relative_to(site) and Path(rules_dir).is_relative_to(site)
    assert any(Path(rules_dir).glob("*.rules"))
    rules = subprocess.run([sys.executable, "-m", "wirewatch", "rules", "check"], cwd=tmp_path, env=env,
                           capture_output=True, text=True, timeout=120)
    assert rules.returncode == 0 and "ok (rules version" in rules.stdout, rules.stderr
