"""The worker registry: every worker by name, and what the topic catalog learns from them.

The one place (with the CLI) that knows every worker; the kernel knows none.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from services.kernel.handler import Handler
from services.kernel.settings import Settings

WORKERS: dict[str, str] = {
    "intake": "services.intake.app:Intake",
    "routing": "services.routing.app:Routing",
    "sla_timer": "services.sla_timer.app:SlaTimer",
    "notification": "services.notification.app:Notification",
    "analytics": "services.analytics.app:Analytics",
    "early_warning": "services.early_warning.worker:EarlyWarning",
}
"""Name → handler class, in the order the pipeline runs them."""


def handler_class(name: str) -> type[Handler]:
    if name not in WORKERS:
        raise ValueError(f"unknown worker {name!r}: expected one of {', '.join(WORKERS)}")
    module, _, cls = WORKERS[name].partition(":")
    found: type[Handler] = getattr(importlib.import_module(module), cls)
    return found


def run_worker(name: str, settings: Settings) -> None:
    """Run one worker until it is stopped: on the kernel's loop, or on its own runtime (the
    early-warning detector is a faust app)."""
    from services.kernel.loop import WorkerRunner

    handler = handler_class(name)
    own: Callable[[Settings], None] | None = getattr(handler, "runtime", None)
    if own is not None:
        own(settings)
    else:
        WorkerRunner(handler, settings).run()


def readers_by_topic() -> dict[str, list[str]]:
    """Topic name → the workers whose handlers declare it as an input."""
    out: dict[str, list[str]] = {}
    for name in WORKERS:
        for spec in handler_class(name).inputs:
            out.setdefault(spec.name, []).append(name)
    return out


def asyncapi_yaml() -> str:
    """The AsyncAPI document of the topics, with who reads and writes each."""
    from importlib.metadata import version

    from schemas.asyncapi import rendered

    return rendered(readers_by_topic(), list(WORKERS), version=version("complaintflow"))
