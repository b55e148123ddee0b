"""The read API's pure parts: query parsing, cursors, the customer's answer, the status
secret and the failure limiter."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.analytics.customer_view import customer_status, promise
from services.analytics.limiter import FailureLimiter
from services.analytics.queries import decode_cursor, encode_cursor
from services.analytics.read_api import Refusal, filters_from, parse_keys
from services.kernel.errors import ConfigError
from services.kernel.sealing import status_secret, status_secret_matches

T = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_query_parameters_become_filters_and_bad_ones_are_named():
    f = filters_from(
        {
            "status": ["closed"],
            "customer": ["cus_1"],
            "breached": ["true"],
            "repeat": ["false"],
            "since": ["2026-03-01"],
            "until": ["2026-03-02T10:00:00 08:00"],  # a '+' the query string turned to space
            "limit": ["50"],
        }
    )
    assert (f.status, f.customer_token, f.breached, f.repeat, f.limit) == (
        "closed", "cus_1", True, False, 50,
    )  # fmt: skip
    assert f.since == datetime(2026, 3, 1, tzinfo=UTC)
    assert f.until == datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
    for query, named in (
        ({"colour": ["red"]}, "colour"),
        ({"breached": ["yes"]}, "breached"),
        ({"limit": ["0"]}, "limit"),
        ({"limit": ["201"]}, "limit"),
        ({"since": ["2026-03-01T09:00"]}, "offset"),
        ({"status": ["a", "b"]}, "2 times"),
        ({"cursor": ["not-a-cursor"]}, "cursor"),
    ):
        with pytest.raises(Refusal) as refused:
            filters_from(query)
        assert refused.value.status == 400 and named in refused.value.body["detail"]


def test_a_cursor_round_trips_and_a_forged_one_is_refused():
    token = encode_cursor(T, "c-aaaa")
    assert decode_cursor(token) == (T, "c-aaaa")
    for bad in ("", "!!!", "WzEsMl0", encode_cursor(T, "x")[:-3]):
        with pytest.raises(ValueError, match="cursor"):
            decode_cursor(bad)


def test_api_keys_need_sixteen_characters_and_name_the_bad_entry():
    assert parse_keys("tool=abcdefghijklmnop, 0123456789abcdef") == {
        "abcdefghijklmnop": "tool",
        "0123456789abcdef": "key-2",
    }
    with pytest.raises(ConfigError, match="entry 2 \\(short\\)"):
        parse_keys("tool=abcdefghijklmnop,short=abc")


def test_the_status_secret_depends_on_key_and_reference_and_forgives_typing():
    secret = status_secret(b"k" * 32, "CF-7KQ2-M9XD")
    assert len(secret) == 11 and secret[5] == "-"
    assert secret != status_secret(b"k" * 32, "CF-7KQ2-M9XE")
    assert secret != status_secret(b"j" * 32, "CF-7KQ2-M9XD")
    typed = " " + secret.lower().replace("-", " ") + " "
    assert status_secret_matches(b"k" * 32, "cf-7kq2-m9xd", typed)
    one_off = secret[:-1] + ("Y" if secret[-1] == "Z" else "Z")
    assert not status_secret_matches(b"k" * 32, "CF-7KQ2-M9XD", one_off)
    assert not status_secret_matches(b"k" * 32, "CF-7KQ2-M9XD", "密码")


def test_the_customer_reads_stage_team_and_promise_in_their_language_and_nothing_else():
    targets = [("acknowledge", "running", T), ("resolve", "running", T.replace(day=5))]
    answer = customer_status(
        reference="CF-1", status="registered", department="finance", language="zh-Hant",
        targets=targets,
    )  # fmt: skip
    assert answer == {
        "reference": "CF-1",
        "language": "zh-Hant",
        "stage": "已受理",
        "team": "財務部",
        "promise": {"what": "確認收到您的投訴", "by": "2026-03-02T09:00:00Z"},
    }
    english = customer_status(
        reference="CF-1", status="in_progress", department="internal_audit", language="en",
        targets=targets,
    )  # fmt: skip
    assert english["stage"] == "Being worked on" and english["team"] == "Customer care"
    assert english["promise"] == {"what": "Resolve your complaint", "by": "2026-03-05T09:00:00Z"}
    assert customer_status(
        reference="CF-1", status="closed", department=None, language=None, targets=[]
    ) == {
        "reference": "CF-1", "language": "zh-Hans", "stage": "已结案", "team": "客户服务中心",
        "promise": None,
    }  # fmt: skip


def test_the_promise_is_the_acknowledgement_until_it_is_met():
    ack, res = ("acknowledge", "met", T), ("resolve", "running", T.replace(day=9))
    assert promise("registered", [ack, res]) == ("resolve", res[2])
    assert promise("registered", [("acknowledge", "running", T), res]) == ("acknowledge", T)
    assert promise("assigned", [("acknowledge", "running", T)]) == ("acknowledge", T)
    assert promise("assigned", []) is None


def test_failures_are_limited_per_client_in_a_sliding_minute():
    now = [1000.0]
    limiter = FailureLimiter(3, 60.0, lambda: now[0])
    for _ in range(3):
        assert limiter.retry_after("10.0.0.1") == 0
        limiter.failed("10.0.0.1")
        now[0] += 10
    assert limiter.retry_after("10.0.0.1") == 30  # the first failure leaves the window then
    assert limiter.retry_after("10.0.0.2") == 0  # another client is not held back
    now[0] += 30
    assert limiter.retry_after("10.0.0.1") == 0


@pytest.mark.parametrize("given", ["31.2304,121.4737", "31.2304, 121.4737", "31.23,121.474"])
def test_a_place_searched_as_coordinates_is_looked_for_on_the_archives_grid(given):
    # Intake archives a `lat,lon` place to 3 decimals: a search by the coordinates a phone
    # reported finds it
    where, params = filters_from({"place": [given]}).where()
    assert "place = %s" in where and "31.230,121.474" in params
    _, params = filters_from({"place": ["Store aaaa, High St"]}).where()
    assert "Store aaaa, High St" in params
