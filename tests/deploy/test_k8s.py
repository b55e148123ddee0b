"""deploy/k8s: what `complaintflow k8s export` makes from the registries (a drift test), and
what the manifests promise: every worker with probes, a non-root pod, a disruption budget
and KEDA scaling on its lag capped at its partitions; every topic as a Strimzi KafkaTopic
replicated three times with two in sync."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from schemas.registry import TOPICS
from services.commands.cli import main
from services.commands.k8s import resource_name
from services.commands.workers import WORKERS, handler_class
from tests.deploy.tools import DEPLOY, ROOT

K8S = DEPLOY / "k8s"


def tree(directory: Path) -> dict[str, str]:
    return {p.relative_to(directory).as_posix(): p.read_text() for p in directory.rglob("*.yaml")}


def docs(rel: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((K8S / rel).read_text()) if d]


def by_kind(rel: str) -> dict[str, dict[str, Any]]:
    found = {d["kind"]: d for d in docs(rel)}
    assert len(found) == len(docs(rel)), f"{rel}: one resource of each kind"
    return found


def test_committed_manifests_match_the_registries(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["k8s", "export", "--dir", str(tmp_path)]) == 0
    capsys.readouterr()
    made, committed = tree(tmp_path), tree(K8S)
    assert sorted(made) == sorted(committed), "run `complaintflow k8s export`"
    for rel, text in made.items():
        assert committed[rel] == text, f"deploy/k8s/{rel} drifted: run `complaintflow k8s export`"


def test_kustomization_lists_every_file() -> None:
    (kustomization,) = docs("kustomization.yaml")
    assert sorted(kustomization["resources"]) == sorted(set(tree(K8S)) - {"kustomization.yaml"})


@pytest.mark.parametrize("worker", list(WORKERS))
def test_every_worker_is_deployed_safely(worker: str) -> None:
    name = resource_name(worker)
    kinds = by_kind(f"workers/{name}.yaml")
    assert set(kinds) == {"Deployment", "Service", "PodDisruptionBudget", "ScaledObject"}
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    deployment = kinds["Deployment"]["spec"]
    pod = deployment["template"]["spec"]
    (container,) = pod["containers"]
    assert container["image"] == f"complaintflow:{version}"
    assert container["args"] == ["worker", worker]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["resources"]["requests"] and container["resources"]["limits"]["memory"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    refs = container["envFrom"]
    assert {"configMapRef": {"name": "complaintflow"}} in refs
    assert {"secretRef": {"name": "complaintflow-secrets"}} in refs
    labels = deployment["selector"]["matchLabels"]
    assert deployment["template"]["metadata"]["labels"] == labels
    assert kinds["Service"]["spec"]["selector"] == labels
    pdb = kinds["PodDisruptionBudget"]["spec"]
    assert pdb["selector"]["matchLabels"] == labels and pdb["minAvailable"] == 1
    assert deployment["replicas"] >= 2


@pytest.mark.parametrize("worker", list(WORKERS))
def test_keda_scales_on_lag_up_to_the_partition_count(worker: str) -> None:
    scaled = by_kind(f"workers/{resource_name(worker)}.yaml")["ScaledObject"]["spec"]
    inputs = handler_class(worker).inputs
    assert scaled["scaleTargetRef"]["name"] == resource_name(worker)
    assert scaled["maxReplicaCount"] == max(spec.partitions for spec in inputs)
    assert 2 <= scaled["minReplicaCount"] <= scaled["maxReplicaCount"]
    triggers = scaled["triggers"]
    assert {t["metadata"]["topic"] for t in triggers} == {spec.name for spec in inputs}
    for trigger in triggers:
        assert trigger["type"] == "kafka"
        assert trigger["metadata"]["consumerGroup"] == f"complaintflow.{worker}"
        assert trigger["metadata"]["allowIdleConsumers"] == "false"


def test_every_registry_topic_is_a_replicated_kafka_topic() -> None:
    topics = {d["spec"]["topicName"]: d for d in docs("topics.yaml")}
    assert set(topics) == set(TOPICS)
    for name, doc in topics.items():
        spec = TOPICS[name]
        assert doc["apiVersion"] == "kafka.strimzi.io/v1"
        assert doc["metadata"]["labels"]["strimzi.io/cluster"]
        assert doc["spec"]["partitions"] == spec.partitions
        assert doc["spec"]["replicas"] == 3
        assert doc["spec"]["config"]["min.insync.replicas"] == "2"
        for key, value in spec.topic_config().items():
            assert doc["spec"]["config"][key] == value


def test_config_map_replicates_topics_three_times() -> None:
    (config,) = docs("configmap.yaml")
    assert config["data"]["CF_TOPIC_REPLICATION"] == "3"
    assert config["data"]["CF_METRICS_PORT"] == "9100"
    assert not any("PASSWORD" in k or "PII" in k or "DATABASE" in k for k in config["data"])
