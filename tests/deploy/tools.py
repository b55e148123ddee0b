"""What the deployment tests share: the tools they run and the metrics the workers export."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from prometheus_client import CollectorRegistry

from services.commands.workers import WORKERS, handler_class
from services.kernel.metrics import Metrics, ProblemMetrics

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
PROMETHEUS = DEPLOY / "prometheus"
RULE_FILES = (PROMETHEUS / "rules" / "recording.yml", PROMETHEUS / "rules" / "alerts.yml")
_SUFFIXES = {"counter": ("_total",), "gauge": ("",), "histogram": ("_bucket", "_sum", "_count")}
_NAME = re.compile(r"\bcomplaintflow[_:][a-zA-Z0-9_:]*")
_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"' + r"|'(?:[^'\\]|\\.)*'")


def tool(name: str, package: str) -> str:
    """The path of a command-line tool; the test fails (never skips) when it is missing."""
    found = shutil.which(name)
    if found is None:
        pytest.fail(
            f"`{name}` is not installed: install Debian's `{package}` package"
            f" (apt-get install {package}; .ci/run installs it)",
            pytrace=False,
        )
    return found


def run(*argv: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run a tool; fail the test with its output when it exits non-zero."""
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        pytest.fail(
            f"{' '.join(argv)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}",
            pytrace=False,
        )
    return done


def exported_metrics() -> set[str]:
    """Every series name a worker serves: the kernel's metrics and each worker's own."""
    registry = CollectorRegistry()
    Metrics.create(registry)
    ProblemMetrics.create(registry)
    for name in WORKERS:
        handler_class(name).metrics_class.create(registry)
    names = set()
    for family in registry.collect():
        names.update(family.name + suffix for suffix in _SUFFIXES[family.type])
    return names


def recorded_metrics() -> set[str]:
    """The names the recording rules write."""
    doc = yaml.safe_load(RULE_FILES[0].read_text())
    return {rule["record"] for group in doc["groups"] for rule in group["rules"]}


def metric_names(expr: str) -> set[str]:
    """The complaintflow series an expression reads (label values are not names)."""
    return set(_NAME.findall(_QUOTED.sub('""', expr)))


def alert_rules() -> list[dict[str, object]]:
    doc = yaml.safe_load(RULE_FILES[1].read_text())
    return [rule for group in doc["groups"] for rule in group["rules"]]
