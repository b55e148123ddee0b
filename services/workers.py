"""The worker registry: name → handler class."""

from __future__ import annotations

from services.runtime.handler import Handler


def handler_class(name: str) -> type[Handler]:
    if name == "intake":
        from services.intake.app import Intake

        return Intake
    if name == "routing":
        from services.routing.app import Routing

        return Routing
    if name == "sla_timer":
        from services.sla_timer.app import SlaTimer

        return SlaTimer
    if name == "notification":
        from services.notification.app import Notification

        return Notification
    if name == "analytics":
        from services.analytics.app import Analytics

        return Analytics
    raise ValueError(f"unknown worker {name!r}")
