"""deploy/k8s validated offline: Kubernetes resources against the Kubernetes OpenAPI schemas
bundled by `kubernetes-validate` (strict: an unknown field is an error), custom resources
against the CRDs of the operators they need (KEDA's ScaledObject, Strimzi's KafkaTopic),
vendored in deploy/crds, and the kustomization against what kustomize reads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from tests.deploy.tools import DEPLOY

K8S = DEPLOY / "k8s"
CRDS = DEPLOY / "crds"
KUBERNETES = ("1.31.0", "1.37.0")
"""The oldest Kubernetes release still maintained when the manifests were written, and the
newest whose schemas `kubernetes-validate` bundles."""
KUSTOMIZATION = {
    "type": "object",
    "required": ["apiVersion", "kind", "resources"],
    "additionalProperties": False,
    "properties": {
        "apiVersion": {"const": "kustomize.config.k8s.io/v1beta1"},
        "kind": {"const": "Kustomization"},
        "namespace": {"type": "string"},
        "labels": {"type": "array"},
        "resources": {"type": "array", "items": {"type": "string"}, "minItems": 1},
    },
}
"""The part of kustomize's Kustomization our file uses (kustomize has no published schema)."""


def resources() -> list[tuple[str, dict[str, Any]]]:
    out = []
    for path in sorted(K8S.rglob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                rel = path.relative_to(K8S).as_posix()
                out.append((f"{rel}:{doc['kind']}/{doc.get('metadata', {}).get('name', '')}", doc))
    return out


def crd_schemas() -> dict[tuple[str, str], dict[str, Any]]:
    """(apiVersion, kind) → the OpenAPI schema of that version of each vendored CRD."""
    found = {}
    for path in sorted(CRDS.glob("*.yaml")):
        crd = yaml.safe_load(path.read_text())
        spec = crd["spec"]
        for version in spec["versions"]:
            api = f"{spec['group']}/{version['name']}"
            found[(api, spec["names"]["kind"])] = version["schema"]["openAPIV3Schema"]
    return found


def unknown_fields(doc: Any, schema: dict[str, Any], path: str = "") -> list[str]:
    """Fields the schema does not declare: the API server would drop them without a word."""
    if schema.get("x-kubernetes-preserve-unknown-fields"):
        return []
    out = []
    if isinstance(doc, dict) and "properties" in schema:
        for key, value in doc.items():
            if key in schema["properties"]:
                out += unknown_fields(value, schema["properties"][key], f"{path}.{key}")
            elif not schema.get("additionalProperties"):
                out.append(f"{path}.{key}")
    elif isinstance(doc, dict) and isinstance(schema.get("additionalProperties"), dict):
        for key, value in doc.items():
            out += unknown_fields(value, schema["additionalProperties"], f"{path}.{key}")
    elif isinstance(doc, list) and "items" in schema:
        for i, value in enumerate(doc):
            out += unknown_fields(value, schema["items"], f"{path}[{i}]")
    return out


def crd_problems(doc: dict[str, Any], schema: dict[str, Any]) -> list[str]:
    validator = jsonschema.Draft7Validator(schema)
    found = [
        f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(doc)
    ]
    return found + [f"{field}: unknown field" for field in unknown_fields(doc, schema)]


RESOURCES = resources()
CUSTOM = crd_schemas()


@pytest.mark.parametrize("version", KUBERNETES)
@pytest.mark.parametrize("doc", [d for _, d in RESOURCES], ids=[n for n, _ in RESOURCES])
def test_every_manifest_is_valid(doc: dict[str, Any], version: str) -> None:
    custom = CUSTOM.get((doc["apiVersion"], doc["kind"]))
    if doc["kind"] == "Kustomization":
        assert list(jsonschema.Draft7Validator(KUSTOMIZATION).iter_errors(doc)) == []
    elif custom is not None:
        assert crd_problems(doc, custom) == []
    else:
        kubernetes_validate.validate(doc, version, strict=True)


def test_every_custom_resource_has_its_crd() -> None:
    builtin = ("v1", "apps/v1", "policy/v1", "kustomize.config.k8s.io/v1beta1")
    kinds = {(d["apiVersion"], d["kind"]) for _, d in RESOURCES}
    assert {k for k in kinds if k[0] not in builtin} <= set(CUSTOM)
    assert ("kafka.strimzi.io/v1", "KafkaTopic") in kinds
    assert ("keda.sh/v1alpha1", "ScaledObject") in kinds


def _scaled_object() -> dict[str, Any]:
    return next(d for _, d in RESOURCES if d["kind"] == "ScaledObject")


def test_the_validation_refuses_what_a_cluster_would_refuse_or_drop() -> None:
    # Given manifests spoiled as a hand edit might: a typo'd field, a wrong type
    deployment = next(d for _, d in RESOURCES if d["kind"] == "Deployment")
    typo = {**deployment, "spec": {**deployment["spec"], "replica": 2}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(typo, KUBERNETES[-1], strict=True)
    scaled = _scaled_object()
    schema = CUSTOM[("keda.sh/v1alpha1", "ScaledObject")]
    wrong = {**scaled, "spec": {**scaled["spec"], "maxReplicaCount": "six", "pollingIntervall": 5}}
    # Then each is refused, naming the field
    problems = crd_problems(wrong, schema)
    assert any(p.startswith("spec.maxReplicaCount:") for p in problems), problems
    assert ".spec.pollingIntervall: unknown field" in problems


def test_the_vendored_crds_say_where_they_come_from() -> None:
    sources = (CRDS / "SOURCES").read_text()
    for path in CRDS.glob("*.yaml"):
        assert path.name in sources, f"{path.name}: add its origin to deploy/crds/SOURCES"


def test_paths_in_deploy_crds_are_not_deployed() -> None:
    # The CRDs are the operators' to install; deploy/k8s does not list them
    (kustomization,) = [d for _, d in RESOURCES if d["kind"] == "Kustomization"]
    assert not any("crds" in Path(r).parts for r in kustomization["resources"])
