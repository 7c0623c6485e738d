"""The type-check runner names the stage folders' files as they are installed (wirewatch.ingest, ...)."""

from pathlib import Path

from mypy.modulefinder import BuildSource

from wirewatch.devtools.typecheck import installed_name, package_dirs

ROOT = Path(__file__).resolve().parent.parent


def test_stage_files_get_their_installed_names_and_kernel_files_keep_theirs() -> None:
    mapping = package_dirs(ROOT / "pyproject.toml")
    assert mapping == {"wirewatch.ingest": "ingest", "wirewatch.process": "process", "wirewatch.alerts": "alerts"}
    named = {path: installed_name(BuildSource(path, module), ROOT, mapping).module for path, module in (
        ("ingest/poller.py", "ingest.poller"), ("ingest/__init__.py", "ingest"),
        (str(ROOT / "alerts" / "alerter.py"), "alerts.alerter"), ("wirewatch/http.py", "wirewatch.http"))}
    assert named == {"ingest/poller.py": "wirewatch.ingest.poller", "ingest/__init__.py": "wirewatch.ingest",
                     str(ROOT / "alerts" / "alerter.py"): "wirewatch.alerts.alerter",
                     "wirewatch/http.py": "wirewatch.http"}
