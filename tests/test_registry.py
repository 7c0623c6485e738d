"""The registry is the one list of stages: the CLI's stage commands and the pipeline's topology come from it."""

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from wirewatch.app import registry
from wirewatch.app.cli import main
from wirewatch.stage import ConsumingStage, SourceStage, StageError


def test_every_stage_has_its_command_and_its_declared_help() -> None:
    for stage in registry.stages():
        result = CliRunner().invoke(main, [stage.name, "--help"])
        assert result.exit_code == 0 and stage.help.split(":")[0] in result.output, result.output
        assert ("--once" in result.output) == isinstance(stage, SourceStage)


def test_the_stages_chain_topic_to_topic_and_names_are_unique() -> None:
    assert len(set(registry.NAMES)) == len(registry.NAMES)
    produced = {t for s in registry.stages() for t in s.outputs}
    for stage in registry.stages():
        if isinstance(stage, ConsumingStage):
            assert stage.input in produced, f"{stage.name} reads {stage.input}, which no stage publishes"
            assert stage.message_type.kind != "message"
        assert len(stage.outputs) == len(stage.output_types)
    assert registry.is_source("poll") and not registry.is_source("alert")


def test_an_unknown_stage_is_an_error_naming_the_known_ones() -> None:
    with pytest.raises(StageError) as caught:
        registry.stage("extrcat")
    assert "extrcat" in str(caught.value) and all(name in str(caught.value) for name in registry.NAMES)


def test_every_command_is_found_by_its_family_and_the_families_name_them_all() -> None:
    from wirewatch.app.cli.root import FAMILIES

    main.load_all()  # type: ignore[attr-defined]
    assert set(main.commands) == set(FAMILIES)
    assert set(registry.NAMES) <= set(FAMILIES)
    assert [s.name for s in registry.stages()] == list(registry.NAMES)


def test_the_feeds_commands_import_neither_the_pipeline_nor_a_stage(tmp_path: Path) -> None:
    """``wirewatch feeds`` reaches the feed store through the registry's tools: no stage declaration,
    no pipeline, no kafka-python (each command imports only what it needs)."""
    probe = ("import sys; from wirewatch.app.cli import main\n"
             "try:\n    main(['--data-dir', sys.argv[1], 'feeds', 'list'])\nexcept SystemExit:\n    pass\n"
             "print(sorted(m for m in sys.modules if m in ('kafka', 'wirewatch.app.pipeline', 'wirewatch.ingest.stage',"
             " 'wirewatch.process.stage', 'wirewatch.alerts.stage', 'sklearn', 'trafilatura')))")
    done = subprocess.run([sys.executable, "-c", probe, str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"
