"""deploy/ cannot run here (no container engine), so it is validated: the files parse, every stage has
a service with probes and limits, and the image's entrypoint — the CLI — answers."""

import subprocess
import sys
from pathlib import Path

import yaml

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
STAGES = {"poll", "extract", "classify", "alert"}


def test_compose_has_kafka_in_kraft_mode_postgres_smtp_and_one_service_per_stage() -> None:
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    services = compose["services"]
    assert set(services) >= STAGES
    assert services["kafka"]["image"].startswith("apache/kafka:")
    assert "controller" in services["kafka"]["environment"]["KAFKA_PROCESS_ROLES"]
    assert services["postgres"]["image"].startswith("postgres:") and "mailpit" in services
    for stage in STAGES:
        assert services[stage]["command"] == [stage]
        assert services[stage]["environment"]["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"
        assert services[stage]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
    assert services["migrate"]["command"] == ["db", "upgrade"]


def test_kubernetes_deployments_have_probes_and_limits(tmp_path: Path) -> None:
    docs = list(yaml.safe_load_all((DEPLOY / "kubernetes" / "wirewatch.yaml").read_text()))
    deployments = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Deployment"}
    assert {f"wirewatch-{s}" for s in STAGES} == set(deployments)
    assert deployments["wirewatch-poll"]["spec"]["strategy"] == {"type": "Recreate"}
    [job] = [d for d in docs if d["kind"] == "Job"]
    assert job["spec"]["template"]["spec"]["containers"][0]["args"] == ["db", "upgrade"]
    config = next(d for d in docs if d["kind"] == "ConfigMap")["data"]["wirewatch.toml"]
    from wirewatch.config import load_settings

    (tmp_path / "w.toml").write_text(config)
    assert load_settings(tmp_path / "w.toml", env={}).database.auto_migrate is False
    for dep in deployments.values():
        [container] = dep["spec"]["template"]["spec"]["containers"]
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert container["resources"]["limits"]["memory"] and container["resources"]["requests"]["cpu"]


def test_systemd_unit_and_the_example_config() -> None:
    unit = (DEPLOY / "systemd" / "wirewatch@.service").read_text()
    assert "ExecStart=/opt/wirewatch/.venv/bin/wirewatch %i" in unit and "KillSignal=SIGTERM" in unit
    assert "ExecReload=/bin/kill -HUP $MAINPID" in unit
    assert "ExecStartPre=/opt/wirewatch/.venv/bin/wirewatch db upgrade" in unit
    from wirewatch.config import load_settings

    settings = load_settings(DEPLOY / "wirewatch.example.toml", env={})
    assert settings.watches[0].topics == ["ceasefire_talks", "energy_strikes"]


def test_the_image_entrypoint_runs_the_cli() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert 'ENTRYPOINT ["wirewatch"]' in dockerfile
    done = subprocess.run([sys.executable, "-m", "wirewatch.app.cli", "--help"], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0 and all(stage in done.stdout for stage in STAGES)
