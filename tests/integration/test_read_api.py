"""The archive's read API on the real database: filters and cursor paging, API keys, and the
customer's status lookup with its rate limit."""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from urllib.parse import urlencode

import psycopg
import pytest
from pydantic import SecretStr

from schemas.common import Language
from schemas.sla import SlaEventKind, SlaTarget
from services.analytics import archive
from services.analytics.migrations import MIGRATIONS
from services.analytics.read_api import ReadApi
from services.analytics.settings import AnalyticsSettings
from services.kernel.db import migrate
from services.kernel.sealing import status_secret
from tests.analytics_story import T0, registered, routed, sla, story

pytestmark = pytest.mark.integration
KEY = "supervisor-tool-key-0001"


class Api:
    def __init__(self, url: str) -> None:
        self.url = url

    def get(self, path: str, **headers: str) -> tuple[int, dict[str, str], dict]:
        request = urllib.request.Request(self.url + path, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=10) as resp:
                return resp.status, dict(resp.headers), json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers), json.loads(exc.read())

    def list(self, **query: object) -> tuple[int, dict]:
        status, _, body = self.get(f"/v1/complaints?{urlencode(query)}", **{"X-API-Key": KEY})
        return status, body


@pytest.fixture
def clock() -> list[float]:
    return [1000.0]


@pytest.fixture
def api(cf, clock) -> Iterator[tuple[Api, AnalyticsSettings]]:
    settings = AnalyticsSettings.of(cf).model_copy(
        update={"analytics_http_port": 0, "analytics_api_keys": SecretStr(f"tool={KEY}")}
    )
    with psycopg.connect(cf.db_url()) as conn:
        migrate(conn, "analytics", MIGRATIONS)
    server = ReadApi(settings, pii_key=settings.pii_secret(), monotonic=lambda: clock[0]).start()
    yield Api(f"http://127.0.0.1:{server.port}"), settings
    server.stop()


def fill(cf, events: list) -> None:
    with psycopg.connect(cf.db_url()) as conn:
        archive.record(
            conn, [(f"ce-{e.complaint_id}-{i}", "t", e) for i, e in enumerate(events)], T0
        )


def many(n: int, *, start: int = 0, minutes: int = 0) -> list:
    """`n` registered complaints, three at each registration time (ties the cursor breaks)."""
    out = []
    for i in range(start, start + n):
        reg = registered(f"c-{i:04d}").model_copy(
            update={"registered_at": T0 + timedelta(minutes=minutes + i // 3),
                    "reference": f"CF-{i:04d}-LIST"}
        )  # fmt: skip
        out.append(reg)
    return out


def test_cursor_pages_list_every_match_once_even_while_complaints_arrive(cf, api):
    client, _ = api
    # Given 25 complaints in the archive
    fill(cf, many(25))
    seen: list[str] = []
    status, page = client.list(limit=7)
    assert status == 200 and len(page["complaints"]) == 7
    seen += [c["complaint_id"] for c in page["complaints"]]
    # When newer complaints arrive between pages
    fill(cf, many(4, start=100, minutes=500))
    while page["next_cursor"]:
        status, page = client.list(limit=7, cursor=page["next_cursor"])
        assert status == 200
        seen += [c["complaint_id"] for c in page["complaints"]]
    # Then every complaint there when paging began is listed once, newest first, no gaps
    assert len(seen) == len(set(seen)) == 25
    assert seen == [f"c-{i:04d}" for i in reversed(range(25))]
    # And filters hold on every page
    status, first = client.list(limit=2, since=(T0 + timedelta(minutes=2)).isoformat())
    status, second = client.list(
        limit=2, since=(T0 + timedelta(minutes=2)).isoformat(), cursor=first["next_cursor"]
    )
    ids = [c["complaint_id"] for c in first["complaints"] + second["complaints"]]
    assert ids == ["c-0103", "c-0102", "c-0101", "c-0100"]


def test_filters_select_exactly_the_matching_complaints(cf, api):
    client, _ = api
    fill(cf, story())

    def ids(**query: object) -> list[str]:
        status, body = client.list(**query)
        assert status == 200, body
        return sorted(c["complaint_id"] for c in body["complaints"])

    assert ids() == ["c-aaaa", "c-bbbb"]
    assert ids(breached="true") == ["c-bbbb"] and ids(breached="false") == ["c-aaaa"]
    assert ids(status="closed", department="refunds") == ["c-aaaa"]
    assert ids(department="finance", priority="P3") == ["c-bbbb"]
    assert ids(category="billing", channel="phone") == ["c-bbbb"]
    assert ids(customer="cus_1", repeat="false") == ["c-aaaa", "c-bbbb"]
    assert ids(sensitive="true") == [] and ids(until=T0.isoformat()) == []
    assert ids(since="2026-03-02", until="2026-03-03") == ["c-aaaa", "c-bbbb"]
    assert ids(place="Store aaaa, High St") == ["c-aaaa"] and ids(place="Store") == []


def test_one_complaint_by_id_or_reference_with_targets_and_timeline(cf, api):
    client, _ = api
    fill(cf, story())
    status, _, by_ref = client.get("/v1/complaints/cf-aaaa-test", **{"X-API-Key": KEY})
    assert status == 200
    assert by_ref["complaint"]["complaint_id"] == "c-aaaa"
    assert by_ref["complaint"]["status"] == "closed"
    assert by_ref["complaint"]["place"] == "Store aaaa, High St"
    assert [t["target"] for t in by_ref["sla_targets"]] == ["acknowledge", "resolve"]
    # each target met in event time, with the business time it took then
    met = [(t["met_at"], t["business_seconds"]) for t in by_ref["sla_targets"]]
    assert met == [("2026-03-02T09:02:00+00:00", 120.0), ("2026-03-02T09:50:00+00:00", 3000.0)]
    kinds = [e["kind"] for e in by_ref["timeline"]]
    assert kinds[0] == "registered" and "status:closed" in kinds
    # no people and no free text of the customer in the timeline
    text = json.dumps(by_ref["timeline"], ensure_ascii=False)
    assert "agent-" not in text and "charged twice" not in text and "cus_1" not in text
    status, _, by_id = client.get("/v1/complaints/c-aaaa", **{"X-API-Key": KEY})
    assert by_id == by_ref
    status, _, missing = client.get("/v1/complaints/CF-NONE-XXXX", **{"X-API-Key": KEY})
    assert (status, missing["error"]) == (404, "not_found")
    assert "CF-NONE-XXXX" in missing["detail"]


def test_keys_and_requests_are_checked_and_refusals_name_the_problem(cf, api):
    client, _ = api
    fill(cf, story())
    for headers, detail in (({}, "missing"), ({"X-API-Key": KEY + "x"}, "valid key")):
        status, _, body = client.get("/v1/complaints", **headers)
        assert (status, body["error"]) == (401, "unauthorized") and detail in body["detail"]
        status, _, body = client.get("/v1/complaints/c-aaaa", **headers)
        assert status == 401
    status, _, body = client.get("/v1/complaints?colour=red", **{"X-API-Key": KEY})
    assert (status, body["error"]) == (400, "bad_parameter") and "colour" in body["detail"]
    status, _, body = client.get("/v1/complaints?cursor=abc", **{"X-API-Key": KEY})
    assert status == 400 and "cursor" in body["detail"]
    status, headers, body = client.get("/v1/nothing", **{"X-API-Key": KEY})
    assert (status, body["error"]) == (404, "not_found")
    assert headers["Server"].startswith("ComplaintFlow") and "Python" not in headers["Server"]
    request = urllib.request.Request(client.url + "/v1/complaints", data=b"{}", method="POST")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 405 and json.loads(refused.value.read())["error"]
    # A GET with a body is refused and its connection closed, so the body is never parsed
    conn = http.client.HTTPConnection(client.url.removeprefix("http://"), timeout=10)
    conn.request("GET", "/v1/complaints", body=b"GET /v1/x HTTP/1.1", headers={"X-API-Key": KEY})
    resp = conn.getresponse()
    assert (resp.status, json.loads(resp.read())["error"]) == (400, "unexpected_body")
    assert resp.getheader("Connection") == "close"
    conn.close()


def test_the_customer_sees_their_complaint_with_the_right_secret_only(cf, api, clock):
    client, settings = api
    reg = registered("c-cccc").model_copy(update={"language": Language.ZH_HANT})
    fill(
        cf,
        [
            reg,
            routed("c-cccc", 1, "finance", "agent-7"),
            sla("c-cccc", SlaEventKind.STARTED, target=SlaTarget.ACKNOWLEDGE, deadline=30),
            sla("c-cccc", SlaEventKind.STARTED, deadline=600),
        ],
    )
    reference = reg.reference
    secret = status_secret(settings.pii_secret(), reference)
    # When the customer asks with the secret of the acknowledgement
    status, headers, body = client.get(f"/v1/status/{reference}", **{"X-Status-Secret": secret})
    # Then they read stage, team and promise in their language, and nothing else
    assert status == 200
    assert body == {
        "reference": reference,
        "language": "zh-Hant",
        "stage": "已受理",
        "team": "財務部",
        "promise": {"what": "確認收到您的投訴", "by": "2026-03-02T09:30:00Z"},
    }
    assert headers["Cache-Control"] == "no-store"
    # A wrong secret reads exactly like an unknown reference
    wrong = client.get(f"/v1/status/{reference}", **{"X-Status-Secret": "AAAAA-AAAAA"})
    unknown = client.get("/v1/status/CF-NONE-XXXX", **{"X-Status-Secret": secret})
    assert wrong[0] == unknown[0] == 404 and wrong[2] == unknown[2]
    # After five failures within a minute the address waits, even with the right secret
    for _ in range(3):
        assert client.get(f"/v1/status/{reference}", **{"X-Status-Secret": "x"})[0] == 404
    status, headers, body = client.get(f"/v1/status/{reference}", **{"X-Status-Secret": secret})
    assert (status, body["error"]) == (429, "too_many_attempts")
    assert headers["Retry-After"] == "60"
    # And a minute later the right secret works again
    clock[0] += 61
    assert client.get(f"/v1/status/{reference}", **{"X-Status-Secret": secret})[0] == 200
    status, _, body = client.get(f"/v1/status/{reference}")
    assert (status, body["error"]) == (400, "secret_required")


def test_complaints_carry_their_category_s_display_names_beside_the_category(cf, api):
    client, _ = api
    # Given a complaint routed to a category with display names, and one to a category without
    shown = {"zh-Hans": "网络信号", "zh-Hant": "網絡信號", "en": "Network signal"}
    named = routed("c-api1", 1, "network", None).model_copy(
        update={"category": "signal-api", "category_display": shown}
    )
    plain = routed("c-api2", 1, "network", None).model_copy(update={"category": "plain-api"})
    fill(cf, [registered("c-api1"), named, registered("c-api2"), plain])
    # When a tool lists them and reads one
    status, body = client.list(department="network")
    assert status == 200, body
    listed = {c["complaint_id"]: c for c in body["complaints"]}
    _, _, one = client.get("/v1/complaints/c-api1", **{"X-API-Key": KEY})
    # Then each carries its category's names by language beside the category (none without)
    assert (listed["c-api1"]["category"], listed["c-api1"]["category_display"]) == (
        "signal-api",
        shown,
    )
    assert (listed["c-api2"]["category"], listed["c-api2"]["category_display"]) == ("plain-api", {})
    assert (one["complaint"]["category"], one["complaint"]["category_display"]) == (
        "signal-api",
        shown,
    )
