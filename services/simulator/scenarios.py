"""What the simulated call centers say: centers, channels and complaint texts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, timedelta, timezone


@dataclass(frozen=True)
class Center:
    source: str
    language: str
    tz: timezone
    time_zone: str
    region: str
    channels: tuple[str, ...]


CENTERS = (
    Center(
        "shanghai-cc",
        "zh-CN",
        timezone(timedelta(hours=8)),
        "Asia/Shanghai",
        "CN-SH",
        ("电话", "微信", "web", "短信", "12315"),
    ),
    Center(
        "taipei-cc",
        "zh-TW",
        timezone(timedelta(hours=8)),
        "Asia/Taipei",
        "TW-TPE",
        ("phone", "chat", "email"),
    ),
    Center(
        "london-cc", "en-GB", UTC, "Europe/London", "GB-LND", ("phone", "email", "web", "letter")
    ),
    Center(
        "austin-cc",
        "en-US",
        timezone(timedelta(hours=-6)),
        "America/Chicago",
        "US-TX",
        ("phone", "web", "social media", "cfpb"),
    ),
)

TEXTS: dict[str, dict[str, tuple[str, ...]]] = {
    "billing": {
        "zh": (
            "这个月话费多扣了200元，账单上有一笔我没订过的增值业务。",
            "账单重复收费，请尽快退款，我的电话是 13812345678。",
        ),
        "en": (
            "I was charged twice for the same month on my bill.",
            "There is a fee on my statement I never agreed to. Call me at 512-555-0147.",
        ),
    },
    "network": {
        "zh": (
            "家里宽带三天没有信号，打了好几次客服都没人处理。",
            "小区网络一直断线，严重影响工作。",
        ),
        "en": (
            "My broadband has been down for three days and nobody fixed it.",
            "Mobile data keeps dropping in my area every evening.",
        ),
    },
    "delivery": {
        "zh": ("快递显示已签收但我没有收到包裹。", "送货延误了两周，也没人通知我。"),
        "en": (
            "The parcel was marked delivered but never arrived.",
            "Delivery is two weeks late and nobody told me why.",
        ),
    },
    "product_quality": {
        "zh": ("新买的充电器用了一天就坏了。", "热水器漏水，刚安装一周。"),
        "en": (
            "The charger I bought stopped working after one day.",
            "The kettle leaks from the base after a week.",
        ),
    },
    "safety": {
        "zh": ("充电宝充电时起火了，孩子手被烫伤受伤了！", "吃了你们的零食后全家中毒去医院。"),
        "en": (
            "The heater caught fire and my son was injured.",
            "The battery started to smoke and burn in the kitchen.",
        ),
    },
    "service_attitude": {
        "zh": (
            "客服态度非常差，直接挂我电话。再不处理我就找记者曝光，还要打12315。",
            "营业厅工作人员态度恶劣。",
        ),
        "en": (
            "The agent was rude and hung up on me. I will talk to my lawyer.",
            "Staff at the store ignored me for an hour.",
        ),
    },
    "refund": {
        "zh": ("退货一个月了还没退款。", "申请退款被拒绝，理由不合理，我要起诉。"),
        "en": (
            "I returned the item a month ago and still have no refund.",
            "My refund was refused; I am reporting this to the regulator.",
        ),
    },
    "privacy": {
        "zh": ("我的个人信息被泄露，天天接到推销电话。",),
        "en": ("My personal data was shared with marketers without my consent.",),
    },
}
NAMES = {
    "zh": ("张伟", "王芳", "李娜", "刘洋", "陈静"),
    "en": ("Alex Smith", "Maria Garcia", "John Brown", "Priya Patel", "Sam Lee"),
}
