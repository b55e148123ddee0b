"""Routing rules as pure functions: category → department, queue and priority, with reasons."""

from __future__ import annotations

from dataclasses import dataclass

from schemas.common import Priority

SAFETY_WORDS = (
    "injur",
    "fire",
    "burn",
    "poison",
    "explod",
    "smoke",
    "受伤",
    "起火",
    "中毒",
    "爆炸",
    "冒烟",
    "烧伤",
)
SENSITIVE_WORDS = (
    "lawyer",
    "attorney",
    "sue ",
    "lawsuit",
    "regulator",
    "news",
    "journalist",
    "media",
    "记者",
    "曝光",
    "12315",
    "消协",
    "市场监管",
    "律师",
    "起诉",
    "微博",
    "投诉到",
    "媒体",
)


@dataclass(frozen=True)
class Route:
    department: str
    queue: str
    priority: Priority


CATEGORY_ROUTES: dict[str, Route] = {
    "billing": Route("finance", "billing", Priority.P3),
    "payment": Route("finance", "payments", Priority.P3),
    "refund": Route("finance", "refunds", Priority.P3),
    "network": Route("technical", "network", Priority.P2),
    "outage": Route("technical", "network", Priority.P2),
    "device": Route("technical", "devices", Priority.P3),
    "delivery": Route("logistics", "delivery", Priority.P3),
    "product_quality": Route("quality", "product", Priority.P2),
    "safety": Route("quality", "safety", Priority.P1),
    "service_attitude": Route("customer_service", "conduct", Priority.P3),
    "privacy": Route("compliance", "privacy", Priority.P2),
    "fraud": Route("compliance", "fraud", Priority.P1),
    "contract": Route("customer_service", "contracts", Priority.P4),
}
TRIAGE = Route("customer_service", "triage", Priority.P3)


@dataclass(frozen=True)
class Decision:
    category: str
    department: str
    queue: str
    priority: Priority
    sensitive: bool
    tags: tuple[str, ...]
    reasons: tuple[str, ...]

    @property
    def sla_policy(self) -> str:
        return f"standard-{self.priority.value}"


def _raise(priority: Priority) -> Priority:
    order = list(Priority)
    return order[max(0, order.index(priority) - 1)]


def decide(*, category: str | None, text: str, repeat_count: int) -> Decision:
    """The routing decision of a complaint, with every reason an auditor needs."""
    reasons: list[str] = []
    tags: list[str] = []
    cat = (category or "").strip().lower()
    route = CATEGORY_ROUTES.get(cat)
    if route is None:
        reasons.append(f"category {cat or '(none)'!r} has no route: sent to triage")
        route, cat = TRIAGE, cat or "uncategorised"
    else:
        reasons.append(f"category {cat!r} → {route.department}/{route.queue} at {route.priority}")
    priority = route.priority
    lowered = text.lower()
    if any(w in lowered for w in SAFETY_WORDS):
        priority = Priority.P1
        tags.append("safety")
        reasons.append("safety words in the text: priority P1")
    sensitive = any(w in lowered for w in SENSITIVE_WORDS)
    if sensitive:
        tags.append("sensitive")
        if priority != Priority.P1:
            priority = _raise(priority)
        reasons.append(f"threat to go to media/regulator/court: sensitive, priority {priority}")
    if repeat_count > 0:
        tags.append("repeat")
        if priority != Priority.P1:
            priority = _raise(priority)
        reasons.append(f"repeat complaint (#{repeat_count + 1}): priority {priority}")
    return Decision(
        cat, route.department, route.queue, priority, sensitive, tuple(tags), tuple(reasons)
    )
