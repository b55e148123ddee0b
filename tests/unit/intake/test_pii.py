"""Confidentiality: redaction, masks, tokens and the vault."""

from __future__ import annotations

import pytest

from services.intake import pii
from services.intake.identity import reference_for

KEY = b"test-key"


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("请回电 13812345678 谢谢", "13812345678"),
        ("call me on +1 512-555-0147 today", "555-0147"),
        ("mail jane.doe@example.com now", "jane.doe@example.com"),
        ("身份证 11010519491231002X 的用户", "11010519491231002X"),
        ("card 4111 1111 1111 1111 was charged", "4111 1111 1111 1111"),
        ("SSN 123-45-6789", "123-45-6789"),
        ("请回电 １３８１２３４５６７８ 谢谢", "１３８１２３４５６７８"),  # full-width digits
        ("local 555-1234", "555-1234"),  # the shortest number: seven digits
    ],
)
def test_redact_removes_contact_and_id_numbers(text, secret):
    assert secret not in pii.redact(text)


def test_redact_keeps_ordinary_text_and_amounts():
    assert pii.redact("多扣了200元 on 2026-03-15") == "多扣了200元 on 2026-03-15"


def test_masks_show_only_what_an_agent_needs():
    assert pii.mask_phone("+86 138-1234-5678") == "138****5678"
    assert pii.mask_email("jane@example.com") == "j***@example.com"


def test_token_is_stable_per_customer_and_keyed():
    a = pii.customer_token(KEY, phone="138 1234 5678", email=None, national_id=None, name="x")
    b = pii.customer_token(KEY, phone="13812345678", email="o@x.io", national_id=None, name="y")
    other_key = pii.customer_token(
        b"k2", phone="13812345678", email=None, national_id=None, name=None
    )
    assert a == b and a != other_key and a.startswith("cus_")
    assert "13812345678" not in a


def test_vault_round_trip_is_encrypted():
    vault = pii.Vault(KEY)
    sealed = vault.seal({"name": "张伟", "phone": "13812345678"})
    assert b"13812345678" not in sealed and "张伟".encode() not in sealed
    assert vault.open(sealed) == {"name": "张伟", "phone": "13812345678"}


def test_reference_is_readable_and_stable():
    ref = reference_for("5503a75b-18f7-5152-886c-c2ad2fc9f4c2")
    assert ref == reference_for("5503a75b-18f7-5152-886c-c2ad2fc9f4c2")
    assert len(ref) == 12 and ref.startswith("CF-")
    assert not set(ref[3:].replace("-", "")) & set("ILOU")


def test_the_customers_own_name_is_redacted_from_text():
    assert pii.redact("我是欧阳娜娜，请回电", names=("欧阳娜娜",)) == "我是[name]，请回电"
    assert pii.redact("Jane Doe called", names=("Jane Doe", " ")) == "[name] called"


@pytest.mark.parametrize(
    ("text", "name", "secret"),
    [
        ("JOHN SMITH called again", "John Smith", "JOHN SMITH"),
        ("john smith called again", "John Smith", "john smith"),
        ("Jose\u0301 called again", "José", "Jose\u0301"),  # NFD text, NFC name
        ("José called again", "Jose\u0301", "José"),  # NFC text, NFD name
        ("我是张 三 丰，请回电", "张三丰  ", "张 三 丰"),
        ("我是张三丰，请回电", "张 三丰", "张三丰"),
        ("John  Smith called", "John Smith", "John  Smith"),
        ("ＪＯＨＮ ＳＭＩＴＨ called", "John Smith", "ＪＯＨＮ ＳＭＩＴＨ"),  # full-width letters
    ],
)
def test_the_customers_name_is_redacted_whatever_its_case_form_or_spacing(text, name, secret):
    redacted = pii.redact(text, names=(name,))
    assert secret not in redacted and "[name]" in redacted
    assert "call" in redacted or "请回电" in redacted


def test_a_name_inside_another_word_is_left_alone():
    assert pii.redact("Alice called", names=("Al",)) == "Alice called"


@pytest.mark.parametrize(
    "email",
    [
        "jane.doe＠example.com",
        "ｊａｎｅ＠ｅｘａｍｐｌｅ．ｃｏｍ",
        "jane﹫example.com",
        "jane.doe @ example.com",
    ],
)
def test_an_email_with_a_full_width_at_sign_is_redacted(email):
    redacted = pii.redact(f"mail {email} now")
    assert "[email]" in redacted and "example" not in redacted and "ｅｘａｍｐｌｅ" not in redacted


@pytest.mark.parametrize("phone", ["+86 139 0000 1234", "+86-139-0000-1234", "+44 20 7946 0958"])
def test_an_international_phone_number_is_redacted_as_a_phone(phone):
    assert pii.redact(f"call {phone} please") == "call [phone] please"


def test_a_latin_name_next_to_chinese_text_is_redacted():
    assert pii.redact("我是John Smith，请回电", names=("John Smith",)) == "我是[name]，请回电"


@pytest.mark.timeout(60)  # a hang guard: quadratic backtracking takes minutes on these
@pytest.mark.parametrize("text", ["a" * 127_999 + "@", "a." * 63_999 + "@", "ｊ" * 127_999 + "＠"])
def test_a_long_run_before_an_at_sign_is_redacted_in_linear_time(text):
    # Hostile content is data: an 8,000-character run once took the email pattern ~0.5 s
    # (quadratic backtracking) per event, so these 128,000 would take over two minutes;
    # linear, they take milliseconds.
    assert pii.redact(text, names=("John Smith",)) == text


@pytest.mark.parametrize(
    "text",
    [
        "我在 31.2304,121.4737 等了一小时",
        "stuck at -33.86882, 151.20929 since noon",
        "位置 31.2304，121.4737",
    ],
)
def test_coordinates_in_free_text_are_redacted_as_a_location(text):
    # Where a customer stands is personal data; a phone pattern once took half of it.
    redacted = pii.redact(text)
    assert "[location]" in redacted and "[phone]" not in redacted
    assert "121.47" not in redacted and "151.20" not in redacted


@pytest.mark.parametrize(
    "text", ["退款 12.50,13.75 元", "version 1.2.345,6.789", "at 95.1234,10.1234"]
)
def test_amounts_versions_and_numbers_off_the_globe_are_not_locations(text):
    assert "[location]" not in pii.redact(text)
