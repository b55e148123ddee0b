"""End to end: a real Prometheus server scrapes running workers and evaluates the shipped rules.

Prometheus is Debian's `prometheus` package, on a free port, with the shipped scrape job
(its file_sd pointed at this test's workers), a 1 s scrape and evaluation interval, the
real recording rules and the real alert rules — only the dead-letter alert's `for:` is cut
to zero so the test need not wait five minutes.
"""

from __future__ import annotations

import json
import subprocess
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from services.devstack.ports import free_port, stop_process
from services.sla_timer.settings import SlaSettings
from tests.conftest import WorkerProcess, wait_for, wait_ready
from tests.deploy.tools import PROMETHEUS, RULE_FILES, tool
from tests.e2e.test_pipeline import raw, submit

pytestmark = pytest.mark.e2e
SLA_SCALE = 8 / (72 * 3600)  # a P3 complaint has 8 s to be resolved (none is resolved here)

WORKERS = ("intake", "routing", "sla_timer")
PROVOKED = "ComplaintFlowDeadLettersGrowing"
Vector = dict[frozenset[tuple[str, str]], float]


class Prometheus:
    """A Prometheus server of this test, and its HTTP query API."""

    def __init__(self, url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
        self.url, self.proc, self.log = url, proc, log

    def get(self, path: str, **params: str) -> dict[str, object]:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        with urllib.request.urlopen(f"{self.url}{path}{query}", timeout=5) as resp:
            body: dict[str, object] = json.load(resp)
        assert body["status"] == "success", body
        return body

    def query(self, expr: str) -> Vector:
        """An instant query: each series' labels (without the name) → value."""
        data = self.get("/api/v1/query", query=expr)["data"]
        assert isinstance(data, dict) and data["resultType"] == "vector", data
        return {
            frozenset((k, v) for k, v in s["metric"].items() if k != "__name__"): float(
                s["value"][1]
            )
            for s in data["result"]
        }

    def value(self, expr: str) -> float | None:
        """The value of a query that yields one series, or None while it yields none."""
        found = self.query(expr)
        assert len(found) <= 1, f"{expr} gave {found}"
        return next(iter(found.values()), None)

    def wait(self, expr: str, expected: Vector | float, timeout: float = 60) -> None:
        """Wait until a query gives `expected` (one value, or every series); fail with the last."""
        seen: list[Vector] = []

        def matches() -> bool:
            found = self.query(expr)
            seen[:] = [found]
            return (
                found == expected if isinstance(expected, dict) else [*found.values()] == [expected]
            )

        wait_for(
            matches, timeout=timeout, what=lambda: f"{expr} to give {expected}, last saw {seen}"
        )

    def firing(self) -> set[tuple[str, frozenset[tuple[str, str]]]]:
        data = self.get("/api/v1/alerts")["data"]
        assert isinstance(data, dict)
        return {
            (a["labels"]["alertname"], frozenset(a["labels"].items()))
            for a in data["alerts"]
            if a["state"] == "firing"
        }

    def ready(self) -> bool:
        if self.proc.poll() is not None:
            pytest.fail(f"prometheus exited {self.proc.returncode}: {self.log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as resp:
                return resp.status == 200
        except OSError:
            return False


def rules_for_test(tmp_path: Path) -> Path:
    """The shipped alert rules, with the provoked alert's `for:` cut to zero."""
    doc = yaml.safe_load(RULE_FILES[1].read_text())
    rules = [r for group in doc["groups"] for r in group["rules"]]
    provoked = next(r for r in rules if r.get("alert") == PROVOKED)
    provoked["for"] = "0s"
    path = tmp_path / "alerts.yml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True))
    return path


@pytest.fixture
def prometheus(tmp_path: Path) -> Iterator[Callable[[list[WorkerProcess]], Prometheus]]:
    """Starts Prometheus scraping the given workers through the shipped scrape job."""
    binary = tool("prometheus", "prometheus")
    started: list[Prometheus] = []

    def start(workers: list[WorkerProcess]) -> Prometheus:
        targets = tmp_path / "targets"
        targets.mkdir()
        groups = [
            {"targets": [w.metrics_url.removeprefix("http://")], "labels": {"worker": w.name}}
            for w in workers
        ]
        (targets / "workers.json").write_text(json.dumps(groups))
        config = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())
        config["global"] = {"scrape_interval": "1s", "evaluation_interval": "1s"}
        config["rule_files"] = [str(RULE_FILES[0]), str(rules_for_test(tmp_path))]
        (job,) = config["scrape_configs"]
        job["file_sd_configs"] = [{"files": [str(targets / "*.json")]}]
        (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
        port = free_port()
        log = tmp_path / "prometheus.log"
        proc = subprocess.Popen(
            [
                binary,
                f"--config.file={tmp_path / 'prometheus.yml'}",
                f"--storage.tsdb.path={tmp_path / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--storage.tsdb.retention.time=1h",
            ],
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
        )
        server = Prometheus(f"http://127.0.0.1:{port}", proc, log)
        started.append(server)
        wait_for(server.ready, timeout=60, what="prometheus ready")
        return server

    yield start
    for server in started:
        stop_process(server.proc.pid, timeout=20)


def series(**labels: str) -> frozenset[tuple[str, str]]:
    return frozenset(labels.items())


def test_prometheus_sees_the_flow_breaches_and_dead_letters_and_fires_the_alert(
    cf, worker_factory, prometheus
):
    # Given intake, routing and the SLA timer (a P3 complaint breaches after 8 s), scraped
    # every second by a real Prometheus with the shipped rules
    cf = SlaSettings.of(cf).model_copy(update={"sla_scale": SLA_SCALE})
    workers = [worker_factory(name, cf) for name in WORKERS]
    wait_ready(workers)
    prom = prometheus(workers)
    prom.wait('sum(up{job="complaintflow"})', len(WORKERS))
    prom.wait('sum(complaintflow_ready{job="complaintflow"})', len(WORKERS))

    # When three billing complaints of three customers (left open) and ten malformed lines
    # are submitted
    good = [
        raw(
            "complaint.new",
            f"PROM-{i}",
            f"ev-p{i}",
            category="billing",
            description="账单多扣了200元",
            customer={"name": f"客户{i}", "phone": f"+86 139 0000 000{i}"},
        )
        for i in range(3)
    ]
    malformed = [f'{{"type": "complaint.new", "event_id": "bad-{i}", ' for i in range(10)]
    result = submit(cf, good + malformed)
    assert "read 13, sent 13, failed 0" in result.stdout

    # Then Prometheus sees each stage's flow as sent: 13 raw events into intake, 3
    # complaints registered, processed by routing and routed to finance
    prom.wait(
        "sum by (worker, topic) (complaintflow_events_processed_total)",
        {
            series(worker="intake", topic="complaints.raw.v1"): 13.0,
            series(worker="routing", topic="complaints.registered.v1"): 3.0,
            series(worker="sla_timer", topic="complaints.routed.v1"): 3.0,
        },
    )
    prom.wait(
        "sum by (channel) (complaintflow_complaints_received_total)", {series(channel="phone"): 3.0}
    )
    prom.wait(
        "sum by (department, priority) (complaintflow_complaints_routed_total)",
        {series(department="finance", priority="P3"): 3.0},
    )

    # And the ten malformed lines are ten dead letters of intake, and nothing else is
    prom.wait(
        "sum by (worker, reason) (complaintflow_dead_letters_total)",
        {series(worker="intake", reason="invalid_json"): 10.0},
    )
    prom.wait(
        "sum by (reason) (complaintflow_complaints_rejected_total)",
        {series(reason="invalid_json"): 10.0},
    )
    # the recording rule counts a counter born within its window with its whole value
    prom.wait(
        "complaintflow:dead_letters:increase15m",
        {series(worker="intake", reason="invalid_json"): 10.0},
    )

    # And the dead-letter alert fires for intake (10 of its 13 events), for no other worker
    wait_for(lambda: PROVOKED in {name for name, _ in prom.firing()}, what=f"{PROVOKED} firing")
    fired = {dict(labels)["worker"] for name, labels in prom.firing() if name == PROVOKED}
    assert fired == {"intake"}

    # And each open complaint breaches its resolve target once, in finance, P3
    prom.wait(
        'sum by (department, priority) (complaintflow_sla_breaches_total{target="resolve"})',
        {series(department="finance", priority="P3"): 3.0},
        timeout=90,
    )
    for w in workers:
        assert w.proc.poll() is None, f"{w.name} stopped: {w.log.read_text()[-2000:]}"
