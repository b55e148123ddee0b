"""Signed links: a genuine token opens, an altered, foreign or expired one does not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.kernel.signed_links import LinkError, sign, verify

KEY = b"k" * 32
NOW = datetime(2026, 3, 2, tzinfo=UTC)


def test_a_genuine_token_gives_its_payload_until_it_expires():
    token = sign(KEY, "survey", {"c": "cid-1"}, expires=NOW + timedelta(days=1))
    assert verify(KEY, "survey", token, now=NOW)["c"] == "cid-1"
    with pytest.raises(LinkError) as err:
        verify(KEY, "survey", token, now=NOW + timedelta(days=2))
    assert err.value.reason == "expired"


@pytest.mark.parametrize(
    "spoil",
    [
        lambda t: t[:-2] + ("A" if t[-2] != "A" else "B") + t[-1],  # the signature altered
        lambda t: "e30" + t[t.index(".") :],  # another payload under the same signature
        lambda t: t.replace(".", ""),
        lambda t: "",
    ],
)
def test_an_altered_token_is_refused(spoil):
    token = sign(KEY, "survey", {"c": "cid-1"}, expires=NOW + timedelta(days=1))
    with pytest.raises(LinkError):
        verify(KEY, "survey", spoil(token), now=NOW)


def test_a_token_for_another_purpose_or_key_is_refused():
    token = sign(KEY, "survey", {"c": "cid-1"}, expires=NOW + timedelta(days=1))
    with pytest.raises(LinkError):
        verify(KEY, "status", token, now=NOW)
    with pytest.raises(LinkError):
        verify(b"x" * 32, "survey", token, now=NOW)
