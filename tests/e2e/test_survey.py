"""The satisfaction survey end to end: a resolved complaint's customer gets a signed link, and
the survey sent meets the SLA follow-up; the page at intake turns their answer into
`survey.answered`."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from datetime import UTC, datetime

import pytest

from schemas.envelope import complaint_id_for
from services.devstack.mailcatcher import read_mail
from services.devstack.ports import free_port
from services.sla_timer.settings import SlaSettings
from tests.conftest import wait_for, wait_ready
from tests.kafka_helpers import TopicReader

pytestmark = pytest.mark.e2e
KEY = "survey-test-api-key"


def post(url: str, body: bytes, content_type: str, **headers: str) -> tuple[int, str]:
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": content_type, **headers}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=30) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def event(kind: str, event_id: str, **fields: object) -> bytes:
    doc = {
        "type": kind,
        "source": "survey-cc",
        "event_id": event_id,
        "complaint_ref": "SURVEY-1",
        "occurred_at": datetime.now(UTC).isoformat(),
        "language": "en",
        **fields,
    }
    return json.dumps(doc, ensure_ascii=False).encode()


def test_the_survey_sent_meets_the_follow_up_and_its_link_works(cf, worker_factory, mail_catcher):
    # Given the pipeline with intake's HTTP API and the survey sent at once
    cf = SlaSettings.of(cf).model_copy(update={"sla_scale": 0.001})
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {"CF_LINK_KEY": "link-key-for-the-survey-test"}
    workers = [
        worker_factory(
            "intake", cf, CF_INTAKE_HTTP_PORT=str(port), CF_INTAKE_API_KEYS=f"*={KEY}", **env
        ),  # fmt: skip
        worker_factory("routing", cf),
        worker_factory("sla_timer", cf),
        worker_factory(
            "notification",
            cf,
            CF_NOTIFY_SURVEY_URL=f"{base}/v1/survey",
            CF_NOTIFY_SURVEY_DELAY_SECONDS="0",
            **env,
            **mail_catcher.env,
        ),  # fmt: skip
    ]
    wait_ready(workers)
    cid = complaint_id_for("survey-cc", "SURVEY-1")
    # When a complaint is registered and resolved
    new = event("complaint.new", "s-1", description="My bill was charged twice",
                category="billing", customer={"email": "pat@example.com"})  # fmt: skip
    assert post(f"{base}/v1/events", new, "application/json", **{"X-API-Key": KEY})[0] == 202
    lifecycle = TopicReader(cf, "complaints.lifecycle.v1")
    sla = TopicReader(cf, "complaints.sla.v1")
    wait_for(lambda: any(json.loads(m.value)["kind"] == "started" for m in sla.poll()),
             what="the SLA clocks")  # fmt: skip
    done = event("complaint.status", "s-2", status="resolved", corrective_action="Refunded")
    assert post(f"{base}/v1/events", done, "application/json", **{"X-API-Key": KEY})[0] == 202

    # Then the customer gets the survey with a signed link to intake
    def survey_mail():
        return next((m for m in read_mail(mail_catcher.folder) if "How did we do" in m.subject),
                    None)  # fmt: skip

    mail = wait_for(survey_mail, timeout=90, what="the survey mail")
    # and the follow-up target is met by the sending, before any answer
    wait_for(
        lambda: any(
            (e := json.loads(m.value))["kind"] == "met" and e["target"] == "follow_up"
            for m in sla.poll()
        ),
        what="the follow-up met",
    )
    found = re.search(rf"{re.escape(base)}/v1/survey/\S+", mail.part("plain"))  # type: ignore[union-attr]
    assert found is not None
    link = found.group(0)
    # The page asks in the customer's language; an altered link is refused
    status, page = get(link)
    assert status == 200 and "How satisfied are you" in page and 'name="score"' in page
    assert get(link[:-3] + "xyz")[0] == 403
    assert post(link, b"score=9", "application/x-www-form-urlencoded")[0] == 422
    # When the customer answers 4
    status, page = post(link, b"score=4&comment=Quick+refund", "application/x-www-form-urlencoded")
    assert status == 200 and "Thank you" in page

    # Then survey.answered is on the lifecycle topic
    def answered():
        return [json.loads(m.value) for m in lifecycle.poll()
                if json.loads(m.value)["kind"] == "survey_answered"]  # fmt: skip

    [answer] = wait_for(answered, what="survey_answered")  # type: ignore[misc]
    assert answer["complaint_id"] == cid and answer["score"] == 4
    # and a second answer is refused: one per complaint
    wait_for(lambda: get(link)[0] == 409, what="the survey marked answered")
    assert post(link, b"score=1", "application/x-www-form-urlencoded")[0] == 409
    lifecycle.close()
    sla.close()
