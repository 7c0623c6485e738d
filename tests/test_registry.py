"""The registry is the one list of stages: the CLI's stage commands and the pipeline's topology come from it."""

import pytest
from click.testing import CliRunner

from wirewatch.app import registry
from wirewatch.app.cli import main
from wirewatch.stage import ConsumingStage, SourceStage, StageError


def test_every_stage_has_its_command_and_its_declared_help() -> None:
    for stage in registry.STAGES:
        result = CliRunner().invoke(main, [stage.name, "--help"])
        assert result.exit_code == 0 and stage.help.split(":")[0] in result.output, result.output
        assert ("--once" in result.output) == isinstance(stage, SourceStage)


def test_the_stages_chain_topic_to_topic_and_names_are_unique() -> None:
    assert len(set(registry.NAMES)) == len(registry.NAMES)
    produced = {t for s in registry.STAGES for t in s.outputs}
    for stage in registry.STAGES:
        if isinstance(stage, ConsumingStage):
            assert stage.input in produced, f"{stage.name} reads {stage.input}, which no stage publishes"
            assert stage.message_type.kind != "message"
        assert len(stage.outputs) == len(stage.output_types)
    assert registry.is_source("poll") and not registry.is_source("alert")


def test_an_unknown_stage_is_an_error_naming_the_known_ones() -> None:
    with pytest.raises(StageError) as caught:
        registry.stage("extrcat")
    assert "extrcat" in str(caught.value) and all(name in str(caught.value) for name in registry.NAMES)
