"""SMS, chat and Standard Webhooks adapters against a real local HTTP server: what they post,
how answers are classified, and a signature the reference implementation verifies."""

from __future__ import annotations

import base64

import pytest
from pydantic import SecretStr
from standardwebhooks.webhooks import Webhook

from services.kernel.errors import ConfigError
from services.notification.channels import Message, Permanent, Transient
from services.notification.http_channels import (
    ChatWebhook,
    SmsGateway,
    StandardWebhook,
    webhook_key,
)
from tests.http_receiver import Receiver

SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()


@pytest.fixture
def receiver():
    r = Receiver().start()
    yield r
    r.stop()


def message(address: str = "+86 139 1234 5678") -> Message:
    return Message("cid-1:ack", address, None, "CF-1 received", "We received it.", None,
                   kind="acknowledgement", complaint_id="cid-1")  # fmt: skip


def test_the_sms_gateway_gets_json_with_the_token_and_the_key_as_idempotency_key(receiver):
    sms = SmsGateway(f"{receiver.url}/sms", token=SecretStr("s3cret-token"), sender="CF")
    answer = sms.send(message())
    [got] = receiver.on("/sms")
    assert got.json() == {
        "to": "+8613912345678",
        "from": "CF",
        "text": "We received it.",
        "reference": message().idempotency_id,
    }
    assert got.headers["authorization"] == "Bearer s3cret-token"
    assert got.headers["idempotency-key"] == message().idempotency_id
    assert answer.startswith("200")
    assert "s3cret" not in repr(sms)


def test_answers_are_classified_transient_or_permanent(receiver):
    sms = SmsGateway(f"{receiver.url}/sms", token=None, sender="CF")
    receiver.answers.extend([503, 429, 400])
    with pytest.raises(Transient, match="503"):
        sms.send(message())
    with pytest.raises(Transient, match="429"):
        sms.send(message())
    with pytest.raises(Permanent, match="400"):
        sms.send(message())
    with pytest.raises(Permanent, match="invalid phone"):
        sms.send(message("n/a"))
    with pytest.raises(Transient, match="URLError"):
        SmsGateway("http://127.0.0.1:9/sms", token=None, sender="CF", timeout=2).send(message())


def test_chat_reaches_the_person_s_handle(receiver):
    ChatWebhook(SecretStr(f"{receiver.url}/hooks/abc")).send(message("li.na"))
    [got] = receiver.on("/hooks/abc")
    assert got.json()["channel"] == "@li.na"
    assert got.json()["text"].startswith("*CF-1 received*\n")


def test_a_webhook_is_signed_per_standard_webhooks_and_verifies(receiver):
    hook = StandardWebhook(f"{receiver.url}/wh", SecretStr(SECRET))
    hook.send(message())
    [got] = receiver.on("/wh")
    # the reference implementation accepts it, with our secret
    payload = Webhook(SECRET).verify(got.body, got.headers)
    assert payload["data"]["notification_key"] == "cid-1:ack"
    assert got.headers["webhook-id"] == f"msg_{message().idempotency_id}"
    assert got.headers["webhook-signature"].startswith("v1,")
    # and refuses it under another secret, or altered
    other = "whsec_" + base64.b64encode(b"another secret of 32 bytes......").decode()
    with pytest.raises(Exception, match="(?i)signature"):
        Webhook(other).verify(got.body, got.headers)
    with pytest.raises(Exception, match="(?i)signature"):
        Webhook(SECRET).verify(got.body.replace(b"cid-1", b"cid-2"), got.headers)


def test_a_secret_that_is_not_whsec_base64_stops_the_start():
    with pytest.raises(ConfigError, match="whsec_"):
        webhook_key(SecretStr("not-base64!"))
