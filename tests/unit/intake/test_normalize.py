"""Normalisation of channels, languages, text and offsets."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from schemas.common import Channel, Language
from services.intake import normalize


@pytest.mark.parametrize(
    ("word", "channel"),
    [
        ("电话", Channel.PHONE),
        ("WeChat", Channel.CHAT),
        ("微信", Channel.CHAT),
        ("social media", Channel.SOCIAL),
        ("12315", Channel.REGULATOR),
        ("in_person", Channel.IN_PERSON),
        ("E-mail", Channel.EMAIL),
        ("fax", Channel.FAX),
    ],
)
def test_channel_vocabulary(word, channel):
    assert normalize.channel(word) == channel


def test_unknown_channel_is_none():
    assert normalize.channel("carrier pigeon") is None


@pytest.mark.parametrize(
    ("code", "language"),
    [
        ("zh-CN", Language.ZH_HANS),
        ("zh_TW", Language.ZH_HANT),
        ("zh-HK", Language.ZH_HANT),
        ("en-US", Language.EN),
        ("zh-Hans", Language.ZH_HANS),
    ],
)
def test_language_codes(code, language):
    assert normalize.language(code) == language


def test_text_is_trimmed_and_collapsed():
    assert normalize.text("  网络\u3000\u3000断了 \n\n  again  ") == "网络 断了\nagain"


def test_offset_is_kept_as_text():
    assert (
        normalize.utc_offset(datetime(2026, 1, 1, tzinfo=timezone(timedelta(hours=8)))) == "+08:00"
    )
    assert (
        normalize.utc_offset(
            datetime(2026, 1, 1, tzinfo=timezone(timedelta(hours=-5, minutes=-30)))
        )
        == "-05:30"
    )
