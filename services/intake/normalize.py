"""Normalisation of the call centers' vocabularies: channels, languages, text, offsets."""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime

from schemas.common import Channel, Language

_CHANNELS: dict[str, Channel] = {
    **{c.value: c for c in Channel},
    "call": Channel.PHONE,
    "telephone": Channel.PHONE,
    "hotline": Channel.PHONE,
    "voice": Channel.PHONE,
    "电话": Channel.PHONE,
    "热线": Channel.PHONE,
    "online": Channel.WEB,
    "website": Channel.WEB,
    "portal": Channel.WEB,
    "app": Channel.WEB,
    "web form": Channel.WEB,
    "网站": Channel.WEB,
    "mail": Channel.EMAIL,
    "e-mail": Channel.EMAIL,
    "邮件": Channel.EMAIL,
    "text": Channel.SMS,
    "短信": Channel.SMS,
    "wechat": Channel.CHAT,
    "weixin": Channel.CHAT,
    "微信": Channel.CHAT,
    "livechat": Channel.CHAT,
    "live chat": Channel.CHAT,
    "im": Channel.CHAT,
    "weibo": Channel.SOCIAL,
    "微博": Channel.SOCIAL,
    "twitter": Channel.SOCIAL,
    "facebook": Channel.SOCIAL,
    "social media": Channel.SOCIAL,
    "in person": Channel.IN_PERSON,
    "in-person": Channel.IN_PERSON,
    "walk-in": Channel.IN_PERSON,
    "store": Channel.IN_PERSON,
    "门店": Channel.IN_PERSON,
    "postal mail": Channel.LETTER,
    "post": Channel.LETTER,
    "信函": Channel.LETTER,
    "传真": Channel.FAX,
    "regulator referral": Channel.REGULATOR,
    "referral": Channel.REGULATOR,
    "12315": Channel.REGULATOR,
    "cfpb": Channel.REGULATOR,
}

_LANGUAGES: dict[str, Language] = {
    "en": Language.EN,
    "en-us": Language.EN,
    "en-gb": Language.EN,
    "english": Language.EN,
    "zh": Language.ZH_HANS,
    "zh-cn": Language.ZH_HANS,
    "zh-hans": Language.ZH_HANS,
    "zh-sg": Language.ZH_HANS,
    "cmn": Language.ZH_HANS,
    "chinese": Language.ZH_HANS,
    "zh-hant": Language.ZH_HANT,
    "zh-tw": Language.ZH_HANT,
    "zh-hk": Language.ZH_HANT,
    "zh-mo": Language.ZH_HANT,
    "yue": Language.ZH_HANT,
}

_SPACES = re.compile(r"[ \t\u3000]+")


def channel(value: str) -> Channel | None:
    """The channel of a call center's word for it, or None when we do not know the word."""
    return _CHANNELS.get(value.strip().lower().replace("_", " ")) or _CHANNELS.get(
        value.strip().lower()
    )


def language(value: str) -> Language | None:
    """The language tag of a call center's code for it, or None when unsupported."""
    return _LANGUAGES.get(value.strip().lower().replace("_", "-"))


def text(value: str) -> str:
    """Unicode-normalised (NFC), trimmed text with runs of blanks collapsed."""
    lines = [
        _SPACES.sub(" ", line).strip() for line in unicodedata.normalize("NFC", value).splitlines()
    ]
    return "\n".join(line for line in lines if line).strip()


def utc_offset(value: datetime) -> str:
    """The UTC offset a timestamp was given in, as `+HH:MM`."""
    offset = value.utcoffset()
    if offset is None:
        return "+00:00"
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
