"""What a customer may learn of their own complaint: stage, team, and what was promised by
when, in their language — nothing else (no staff names, no other customer's data)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

LANGUAGES = ("zh-Hans", "zh-Hant", "en")

STAGES: Mapping[str, tuple[str, str, str]] = {
    "registered": ("已受理", "已受理", "Received"),
    "acknowledged": ("已确认，等待处理", "已確認，等待處理", "Acknowledged, waiting to be handled"),
    "assigned": ("已分派给处理团队", "已分派給處理團隊", "Assigned to a team"),
    "in_progress": ("处理中", "處理中", "Being worked on"),
    "waiting_on_customer": ("等待您的回复", "等待您的回覆", "Waiting for your reply"),
    "resolved": ("已解决", "已解決", "Resolved"),
    "closed": ("已结案", "已結案", "Closed"),
    "reopened": ("已重新处理", "已重新處理", "Reopened and being worked on again"),
}
"""Each status as the customer reads it (zh-Hans, zh-Hant, en)."""

TEAMS: Mapping[str, tuple[str, str, str]] = {
    "banking": ("银行业务部", "銀行業務部", "Banking"),
    "cards": ("信用卡部", "信用卡部", "Cards"),
    "collections": ("催收服务部", "催收服務部", "Collections"),
    "compliance": ("合规部", "合規部", "Compliance"),
    "customer_service": ("客户服务部", "客戶服務部", "Customer service"),
    "disputes": ("争议处理部", "爭議處理部", "Disputes"),
    "finance": ("财务部", "財務部", "Finance"),
    "lending": ("贷款部", "貸款部", "Lending"),
    "logistics": ("物流部", "物流部", "Logistics"),
    "quality": ("质量管理部", "質量管理部", "Quality"),
    "technical": ("技术支持部", "技術支援部", "Technical support"),
}
"""The routing rules' departments as a customer reads them; another department shows as a
generic team, never as its internal code."""

UNASSIGNED = ("客户服务中心", "客戶服務中心", "Customer care")

PROMISES: Mapping[str, tuple[str, str, str]] = {
    "acknowledge": ("确认收到您的投诉", "確認收到您的投訴", "Acknowledge your complaint"),
    "resolve": ("解决您的投诉", "解決您的投訴", "Resolve your complaint"),
}
DONE = ("met", "cancelled")


def language_of(language: str | None) -> str:
    """The complaint's language when we write it, else simplified Chinese."""
    return language if language in LANGUAGES else "zh-Hans"


def promise(
    status: str, targets: Sequence[tuple[str, str, datetime]]
) -> tuple[str, datetime] | None:
    """(target, deadline) of what the customer was promised next, from the SLA targets as
    (target, state, deadline): an acknowledgement still due, else the resolution."""
    by_name = {name: (state, deadline) for name, state, deadline in targets}
    ack = by_name.get("acknowledge")
    if ack is not None and ack[0] not in DONE and status == "registered":
        return "acknowledge", ack[1]
    resolve = by_name.get("resolve")
    if resolve is not None:
        return "resolve", resolve[1]
    return ("acknowledge", ack[1]) if ack is not None else None


def customer_status(
    *,
    reference: str,
    status: str,
    department: str | None,
    language: str | None,
    targets: Sequence[tuple[str, str, datetime]],
) -> dict[str, object]:
    """The whole answer of `GET /v1/status/{reference}`."""
    lang = language_of(language)
    i = LANGUAGES.index(lang)
    stage = STAGES.get(status, STAGES["in_progress"])
    team = TEAMS.get(department or "", UNASSIGNED)
    answer: dict[str, object] = {
        "reference": reference,
        "language": lang,
        "stage": stage[i],
        "team": team[i],
        "promise": None,
    }
    promised = promise(status, targets)
    if promised is not None:
        target, deadline = promised
        answer["promise"] = {
            "what": PROMISES[target][i],
            "by": deadline.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        }
    return answer
