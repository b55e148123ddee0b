"""End to end: a complaint with a customer's name, phone and e-mail goes through the real
workers; the analytics worker's read API lists it, shows it, and tells the customer its
status — and no answer holds the customer's personal data."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from schemas.envelope import complaint_id_for
from services.devstack.ports import free_port
from services.intake.identity import reference_for
from services.kernel.sealing import status_secret
from tests.conftest import wait_for, wait_ready
from tests.e2e.test_pipeline import new_complaint, submit

pytestmark = pytest.mark.e2e
KEY = "downstream-team-key-0001"
PII = ("王芳", "王", "139 1234 5678", "13912345678", "wf@example.com")


def get(url: str, **headers: str) -> tuple[int, str]:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_the_read_api_of_the_running_worker_answers_without_personal_data(cf, worker_factory):
    # Given the workers running, analytics with its read API
    port = free_port()
    api = {"CF_ANALYTICS_HTTP_PORT": str(port), "CF_ANALYTICS_API_KEYS": f"team={KEY}"}
    workers = [worker_factory(name, cf) for name in ("intake", "routing", "sla_timer")]
    workers.append(worker_factory("analytics", cf, **api))
    wait_ready(workers)
    base = f"http://127.0.0.1:{port}"
    cid = complaint_id_for("e2e-cc", "API-1")
    reference = reference_for(cid)

    # When a complaint naming its customer is submitted
    submit(cf, [new_complaint("API-1", "ev-api-1", "billing", "话费多扣了200元，请联系王芳")])

    # Then the API lists and shows it once it is routed and its SLA started
    def shown() -> str | None:
        status, body = get(f"{base}/v1/complaints/{reference}", **{"X-API-Key": KEY})
        doc = json.loads(body) if status == 200 else {}
        routed = doc.get("complaint", {}).get("department") and doc.get("sla_targets")
        return body if routed else None

    detail = str(wait_for(shown, timeout=90, what="the complaint routed in the read API"))
    status, listed = get(f"{base}/v1/complaints?channel=phone&limit=5", **{"X-API-Key": KEY})
    assert status == 200 and [c["complaint_id"] for c in json.loads(listed)["complaints"]] == [cid]
    # And the customer reads its status with the secret of the acknowledgement
    secret = status_secret(cf.pii_secret(), reference)
    status, mine = get(f"{base}/v1/status/{reference}", **{"X-Status-Secret": secret})
    answer = json.loads(mine)
    assert status == 200 and set(answer) == {"reference", "language", "stage", "team", "promise"}
    assert answer["language"] == "zh-Hans" and answer["promise"]["by"].endswith("Z")
    # And without a key nothing is listed
    assert get(f"{base}/v1/complaints")[0] == 401
    # And no answer holds the customer's name, phone or e-mail
    for body in (detail, listed, mine):
        leaked = [p for p in PII if p in body]
        assert not leaked, f"personal data in an answer: {leaked}"
