"""deploy/docker/Dockerfile, parsed: multi-stage from a pinned base, our wheel installed
without the dev extras, an unprivileged user, `complaintflow` as the entrypoint and a
healthcheck on the fixed metrics port."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

import pytest

from tests.deploy.tools import DEPLOY, ROOT

DOCKERFILE = DEPLOY / "docker" / "Dockerfile"
PINNED_BASE = re.compile(r"^python:3\.11\.\d+-slim(-[a-z]+)?$")


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]


def parse(text: str) -> list[Stage]:
    """Instructions by stage: comments dropped, continuation lines joined."""
    lines: list[str] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        lines.append(pending + line)
        pending = ""
    assert not pending, "a continuation line ends the file"
    stages: list[Stage] = []
    for line in lines:
        keyword, _, args = line.partition(" ")
        keyword, args = keyword.upper(), args.strip()
        if keyword == "FROM":
            words = args.split()
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            stages.append(Stage(base=words[0], name=name))
        else:
            assert stages, f"{keyword} before the first FROM"
            stages[-1].instructions.append((keyword, args))
    return stages


@pytest.fixture(scope="module")
def stages() -> list[Stage]:
    return parse(DOCKERFILE.read_text())


def env_of(stage: Stage) -> dict[str, str]:
    out: dict[str, str] = {}
    for args in stage.all("ENV"):
        for pair in args.split():
            key, _, value = pair.partition("=")
            out[key] = value
    return out


def test_multi_stage_on_a_pinned_base(stages: list[Stage]) -> None:
    assert len(stages) >= 2
    for stage in stages:
        assert PINNED_BASE.match(stage.base), f"base image {stage.base!r} is not pinned"
        assert "latest" not in stage.base
    assert stages[0].name == "build"
    assert any("pip wheel" in args for args in stages[0].all("RUN"))
    runtime = stages[-1]
    assert any("from=build" in args for args in runtime.all("RUN") + runtime.all("COPY"))


def test_the_runtime_has_no_dev_extras(stages: list[Stage]) -> None:
    text = DOCKERFILE.read_text()
    assert "[dev]" not in text and "'.[dev" not in text
    installs = [a for a in stages[-1].all("RUN") if "pip install" in a]
    assert installs and all("--no-index" in a for a in installs)


def test_runs_as_an_unprivileged_user(stages: list[Stage]) -> None:
    runtime = stages[-1]
    users = runtime.all("USER")
    assert users, "the runtime stage sets no USER (it would run as root)"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0")
    assert user.isdigit(), "a numeric user lets Kubernetes check runAsNonRoot"
    order = [kw for kw, _ in runtime.instructions]
    assert order.index("USER") < order.index("ENTRYPOINT")
    assert "RUN" not in order[order.index("USER") :], "nothing runs as root after USER"


def test_entrypoint_is_complaintflow(stages: list[Stage]) -> None:
    (entrypoint,) = stages[-1].all("ENTRYPOINT")
    assert json.loads(entrypoint) == ["complaintflow"]


def test_healthcheck_asks_healthz_on_the_fixed_metrics_port(stages: list[Stage]) -> None:
    runtime = stages[-1]
    env = env_of(runtime)
    port = env["CF_METRICS_PORT"]
    assert port.isdigit() and port != "0"
    assert env["CF_METRICS_HOST"] == "0.0.0.0"
    (check,) = runtime.all("HEALTHCHECK")
    assert f"127.0.0.1:{port}/healthz" in check
    assert f"EXPOSE {port}" in [f"{kw} {a}" for kw, a in runtime.instructions]


def test_the_build_context_is_only_what_the_wheel_needs() -> None:
    rules = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert rules[0] == "*", "everything is excluded first"
    kept = {rule[1:].rstrip("/") for rule in rules if rule.startswith("!")}
    assert kept == {"pyproject.toml", "README.md", "schemas", "services"}
