"""deploy/docker/compose.yaml: valid for Compose (checked without a Docker daemon), every
worker twice behind healthchecks, a 3-broker KRaft cluster with topics replicated three
times, pinned images, Prometheus scraping every worker, and no secret written inline."""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from services.commands.workers import WORKERS
from services.kernel.errors import ConfigError
from services.kernel.settings import Settings
from tests.deploy.tools import DEPLOY, ROOT, run, tool

DOCKER = DEPLOY / "docker"
COMPOSE = DOCKER / "compose.yaml"
SECRETS_EXAMPLE = DOCKER / "secrets.example"
PROMETHEUS = DOCKER / "prometheus" / "prometheus.yml"
PINNED = re.compile(r"^[a-z0-9][a-z0-9._/-]*:v?\d+\.\d+(\.\d+)*([-.][A-Za-z0-9.]+)?$")
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|PII_KEY|API_KEYS|DATABASE_URL", re.I)
METRICS_PORT = "9100"


def service_name(worker: str) -> str:
    return worker.replace("_", "-")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())  # resolves anchors and merges
    return doc


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = compose["services"]
    return found


def test_compose_validates_without_a_daemon(tmp_path: Path) -> None:
    """What an operator does first: copy the example secrets, then Compose checks the file."""
    docker_compose = tool("docker-compose", "docker-compose")
    copy = tmp_path / "deploy"
    for part in ("docker", "prometheus", "grafana"):
        shutil.copytree(DEPLOY / part, copy / part, ignore=shutil.ignore_patterns("secrets"))
    shutil.copytree(SECRETS_EXAMPLE, copy / "docker" / "secrets")
    run(docker_compose, "-f", str(copy / "docker" / "compose.yaml"), "config", "-q")


def test_compose_refuses_to_run_without_the_secrets(tmp_path: Path) -> None:
    docker_compose = tool("docker-compose", "docker-compose")
    copy = tmp_path / "docker"
    shutil.copytree(DOCKER, copy, ignore=shutil.ignore_patterns("secrets"))
    done = subprocess.run(
        [docker_compose, "-f", str(copy / "compose.yaml"), "config", "-q"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    assert "secrets/" in done.stderr


@pytest.mark.parametrize("worker", list(WORKERS))
def test_every_worker_runs_twice_with_a_healthcheck(
    services: dict[str, dict[str, Any]], worker: str
) -> None:
    svc = services.get(service_name(worker))
    assert svc is not None, f"no Compose service for worker {worker}"
    assert svc["command"] == ["worker", worker]
    assert svc["deploy"]["replicas"] == 2
    assert any("/healthz" in part and METRICS_PORT in part for part in svc["healthcheck"]["test"])
    assert svc["environment"]["CF_METRICS_PORT"] == METRICS_PORT
    assert svc["environment"]["CF_METRICS_HOST"] == "0.0.0.0"
    assert svc["environment"]["CF_TOPIC_REPLICATION"] == "3"
    depends = svc["depends_on"]
    assert depends["topics"]["condition"] == "service_completed_successfully"
    assert depends["postgres"]["condition"] == "service_healthy"
    assert svc["env_file"] == "secrets/complaintflow.env"


def test_every_image_is_pinned(services: dict[str, dict[str, Any]]) -> None:
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    for name, svc in services.items():
        image = svc["image"]
        assert PINNED.match(image), f"{name}: image {image!r} is not pinned to a version"
        assert ":latest" not in image
        if "build" in svc:
            assert image == f"complaintflow:{version}", name


def test_three_kraft_brokers_replicate_everything_three_times(
    services: dict[str, dict[str, Any]],
) -> None:
    brokers = {n: s for n, s in services.items() if s["image"].startswith("apache/kafka:")}
    assert sorted(brokers) == ["kafka-1", "kafka-2", "kafka-3"]
    voters = {f"{i}@kafka-{i}:9093" for i in (1, 2, 3)}
    for name, svc in brokers.items():
        assert re.match(r"apache/kafka:4\.\d+\.\d+$", svc["image"])
        env = svc["environment"]
        assert env["KAFKA_NODE_ID"] == name.rsplit("-", 1)[1]
        assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
        assert set(env["KAFKA_CONTROLLER_QUORUM_VOTERS"].split(",")) == voters
        assert env["KAFKA_ADVERTISED_LISTENERS"] == f"PLAINTEXT://{name}:9092"
        assert env["KAFKA_DEFAULT_REPLICATION_FACTOR"] == "3"
        assert env["KAFKA_MIN_INSYNC_REPLICAS"] == "2"
        assert env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == "3"
        assert env["KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR"] == "3"
        assert env["KAFKA_TRANSACTION_STATE_LOG_MIN_ISR"] == "2"
        assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
        assert "healthcheck" in svc
    topics = services["topics"]
    assert topics["command"] == ["topics", "--create"]
    assert topics["environment"]["CF_TOPIC_REPLICATION"] == "3"
    assert topics["environment"]["KAFKA_BOOTSTRAP_SERVERS"].split(",") == [
        f"{b}:9092" for b in sorted(brokers)
    ]
    assert {n: d["condition"] for n, d in topics["depends_on"].items()} == {
        b: "service_healthy" for b in brokers
    }


def test_every_service_that_runs_has_a_healthcheck(services: dict[str, dict[str, Any]]) -> None:
    for name, svc in services.items():
        if name == "topics":  # one-shot: it exits
            assert svc["healthcheck"] == {"disable": True}
            continue
        assert svc["healthcheck"]["test"], name


def test_prometheus_scrapes_every_replica_of_every_worker(
    services: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    (job,) = yaml.safe_load(PROMETHEUS.read_text())["scrape_configs"]
    (dns,) = job["dns_sd_configs"]
    # Compose's DNS gives every replica's address for a service name: one target each
    assert dns["type"] == "A" and str(dns["port"]) == METRICS_PORT
    assert sorted(dns["names"]) == sorted(service_name(w) for w in WORKERS)
    workers = {
        r["regex"]: r["replacement"]
        for r in job["relabel_configs"]
        if r["source_labels"] == ["__meta_dns_name"] and r["target_label"] == "worker"
    }
    assert workers == {service_name(w): w for w in WORKERS}
    assert all(name in services for name in dns["names"])
    mounts = services["prometheus"]["volumes"]
    assert "./prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro" in mounts
    assert "../prometheus/rules:/etc/prometheus/rules:ro" in mounts
    # and the file is one Prometheus accepts, with the rules where Compose mounts them
    shutil.copy(PROMETHEUS, tmp_path / "prometheus.yml")
    shutil.copytree(DEPLOY / "prometheus" / "rules", tmp_path / "rules")
    run(tool("promtool", "prometheus"), "check", "config", str(tmp_path / "prometheus.yml"))


def test_mounted_folders_exist_and_grafana_finds_its_dashboards(
    services: dict[str, dict[str, Any]],
) -> None:
    for name, svc in services.items():
        for volume in svc.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("."):
                assert (DOCKER / source).exists(), f"{name} mounts missing {source}"
    provider = yaml.safe_load(
        (DEPLOY / "grafana" / "provisioning" / "dashboards" / "complaintflow.yml").read_text()
    )["providers"][0]["options"]["path"]
    assert f"../grafana/dashboards:{provider}:ro" in services["grafana"]["volumes"]


def test_notices_go_to_the_mail_catcher(services: dict[str, dict[str, Any]]) -> None:
    env = services["notification"]["environment"]
    assert env["CF_SMTP_HOST"] == "mailpit"
    assert services["mailpit"]["image"].startswith("axllent/mailpit:")
    assert env["CF_SMTP_PORT"] == "1025"
    assert services["notification"]["depends_on"]["mailpit"]["condition"] == "service_healthy"


def test_no_secret_is_written_inline(services: dict[str, dict[str, Any]]) -> None:
    for name, svc in services.items():
        for key in svc.get("environment", {}):
            assert not SECRET_NAME.search(key), f"{name}: {key} belongs in secrets/, not inline"
        env_file = svc.get("env_file")
        if env_file is not None:
            example = SECRETS_EXAMPLE / Path(env_file).name
            assert env_file.startswith("secrets/") and example.is_file(), name
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", "deploy/docker/secrets/complaintflow.env"], cwd=ROOT
    )
    assert ignored.returncode == 0, "deploy/docker/secrets/ must be ignored by git"


def test_the_example_pii_key_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """Deploying the example unchanged stops at the first worker, not with a weak key."""
    values = dict(
        line.split("=", 1)
        for line in (SECRETS_EXAMPLE / "complaintflow.env").read_text().splitlines()
        if line and not line.startswith("#")
    )
    monkeypatch.setenv("CF_PII_KEY", values["CF_PII_KEY"])
    with pytest.raises(ConfigError):
        Settings(_env_file=None).pii_secret()  # type: ignore[call-arg]


def test_ci_installs_docker_compose() -> None:
    assert "missing+=(docker-compose)" in (ROOT / ".ci" / "run").read_text()
