"""Who is told what: staff are people from the roster, each notice once per key."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import partial

from schemas.common import Language, Priority
from schemas.sla import SlaEvent, SlaEventKind, SlaTarget
from services.kernel.sealing import status_secret, status_secret_matches
from services.notification.compose import Composer, Facts
from services.notification.directory import load_directory
from services.notification.templates import Templates

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # Monday 10:00 in Shanghai
COMPOSER = Composer(
    Templates(), load_directory(None), language=Language.ZH_HANS, time_zone="Asia/Shanghai"
)
FACTS = Facts(
    "cid-1",
    reference="CF-TEST-0001",
    language=Language.ZH_HANS,
    customer_token="tok",
    subject="话费多扣",
    description="话费多扣了200元",
    owner="cn-finance-01",
    department="finance",
    priority=Priority.P2,
    resolve_deadline=NOW + timedelta(days=3, hours=8),
)


def sla(kind: SlaEventKind, **fields: object) -> SlaEvent:
    return SlaEvent(
        complaint_id="cid-1",
        kind=kind,
        target=SlaTarget.RESOLVE,
        policy="standard-P2",
        priority=Priority.P2,
        department="finance",
        deadline=NOW + timedelta(days=1),
        emitted_at=NOW,
        **fields,  # type: ignore[arg-type]
    )


def test_the_acknowledgement_promises_the_resolution_deadline_in_the_customer_s_words():
    notice = COMPOSER.acknowledgement(FACTS, NOW)
    assert notice.subject == "我们已收到您的投诉（受理编号 CF-TEST-0001）"
    assert "3个工作日内，即3月5日（星期四）18:00前" in notice.text
    assert "话费多扣\n" not in notice.text  # the subject only repeats the description


def test_each_escalation_level_goes_to_its_person_and_the_owner_level_is_the_breach():
    assert COMPOSER.for_sla(sla(SlaEventKind.ESCALATED, level=1, escalated_to="owner"), FACTS) == []
    [lead] = COMPOSER.for_sla(sla(SlaEventKind.ESCALATED, level=2, escalated_to="team_lead"), FACTS)
    assert (lead.recipient, lead.language) == ("lead-cn-finance", Language.ZH_HANS)
    [breach] = COMPOSER.for_sla(sla(SlaEventKind.BREACHED), FACTS)
    assert breach.recipient == "cn-finance-01" and breach.urgent


def test_management_hears_of_p1_at_once_and_nobody_is_a_role_string():
    notices = COMPOSER.management(Facts("cid-2", department="cards", priority=Priority.P1))
    assert sorted(n.recipient for n in notices) == ["dir-risk", "mgr-finance"]
    assert COMPOSER.management(FACTS) == []


def test_a_level_with_nobody_in_the_roster_is_undeliverable_not_guessed():
    orphan = Facts("cid-3", department="nowhere")
    composer = Composer(
        Templates(),
        load_directory(None).__class__({}, {}),
        language=Language.EN,
        time_zone="UTC",
    )
    [notice] = composer.for_sla(sla(SlaEventKind.BREACHED), orphan)
    assert notice.undeliverable == "nobody in the roster for team_lead of nowhere"


def test_the_acknowledgement_gives_the_code_the_status_lookup_accepts():
    key = b"test-pii-key-0123456789"
    composer = Composer(
        Templates(),
        load_directory(None),
        language=Language.EN,
        time_zone="Europe/London",
        status_secret=partial(status_secret, key),
    )
    for language in Language:
        notice = composer.acknowledgement(replace(FACTS, language=language), NOW)
        code = status_secret(key, "CF-TEST-0001")
        assert code in notice.text and notice.html is not None and code in notice.html
        assert status_secret_matches(key, "CF-TEST-0001", code)
    # Without a secret function (or for an operator's own template) nothing is said of it
    assert status_secret(key, "CF-TEST-0001") not in COMPOSER.acknowledgement(FACTS, NOW).text


def test_management_reads_the_category_s_display_name_in_its_own_language():
    shown = {"zh-Hans": "账单费用", "zh-Hant": "帳單費用", "en": "Billing"}
    facts = Facts(
        "cid-4", department="cards", priority=Priority.P1, category="billing",
        category_display=shown,
    )  # fmt: skip
    texts = {n.language: n.text for n in COMPOSER.management(facts)}
    assert texts and all("billing" not in text for text in texts.values())
    for lang, text in texts.items():
        assert shown[str(lang)] in text
    # A category without display names is shown by its name; a missing language falls back
    assert Facts("c", category="网络质量").category_name("en") == "网络质量"
    assert (
        Facts("c", category="x", category_display={"zh-Hans": "费用"}).category_name("zh-Hant")
        == "费用"
    )
