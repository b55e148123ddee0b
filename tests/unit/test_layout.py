"""The layout holds: the kernel knows no worker, no worker reaches into another, and only the
commands know every worker."""

from __future__ import annotations

import ast
from pathlib import Path

SERVICES = Path(__file__).resolve().parents[2] / "services"
WORKERS = {"intake", "routing", "sla_timer", "notification", "analytics", "early_warning"}


def imports_of(package: str) -> dict[str, set[str]]:
    """Module file → the `services.<package>` packages it imports."""
    out: dict[str, set[str]] = {}
    for path in (SERVICES / package).rglob("*.py"):
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            for name in names:
                parts = name.split(".")
                if parts[0] == "services" and len(parts) > 1:
                    found.add(parts[1])
        out[str(path.relative_to(SERVICES))] = found
    return out


def test_the_kernel_imports_no_worker_nor_the_stack_nor_the_commands():
    for module, found in imports_of("kernel").items():
        assert found <= {"kernel"}, f"{module} imports {sorted(found - {'kernel'})}"


def test_the_developer_stack_knows_no_worker():
    for module, found in imports_of("devstack").items():
        assert not found & WORKERS, f"{module} imports {sorted(found & WORKERS)}"


SANCTIONED = {
    "notification/contacts.py": {"intake"},
    "analytics/business_time.py": {"sla_timer"},
}
"""The reads across workers: notification opens a customer's contact from intake's PII vault
at send time (so contacts never travel on a topic); analytics counts business time on the SLA
timer's own policies and calendars (pure modules, read-only), so the figures and the SLA clock
never disagree on what a business hour is."""


def test_no_worker_imports_another_worker_or_the_commands():
    for worker in WORKERS:
        for module, found in imports_of(worker).items():
            others = found & (WORKERS - {worker}) | found & {"commands", "devstack"}
            others -= SANCTIONED.get(module, set())
            assert not others, f"{module} imports {sorted(others)}"
