"""What the simulated call centers say: centers, channels, complaint texts and how often.

The mix follows a real call center's: mostly billing, delivery and contract questions (P3,
P4), a few network and quality faults (P2), rare safety incidents (P1), and few complaints
that threaten the press, a court or a regulator, or arrive through one.
"""

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
    public: tuple[str, ...] = ()
    """Regulator and social-media channels: rare, and they make a complaint sensitive."""
    places: tuple[str, ...] = ()
    """Stores, sites and street corners complaints about this center's area name."""


CENTERS = (
    Center(
        "shanghai-cc",
        "zh-CN",
        timezone(timedelta(hours=8)),
        "Asia/Shanghai",
        "CN-SH",
        ("电话", "微信", "web", "短信"),
        ("12315",),
        ("南京东路营业厅", "徐家汇门店", "人民广场地铁站", "31.2304,121.4737"),
    ),
    Center(
        "taipei-cc",
        "zh-TW",
        timezone(timedelta(hours=8)),
        "Asia/Taipei",
        "TW-TPE",
        ("phone", "chat", "email"),
        places=("信義門市", "台北車站", "25.0330,121.5654"),
    ),
    Center(
        "london-cc",
        "en-GB",
        UTC,
        "Europe/London",
        "GB-LND",
        ("phone", "email", "web", "letter"),
        places=("Oxford Street store", "King's Cross depot", "51.5072,-0.1276"),
    ),
    Center(
        "austin-cc",
        "en-US",
        timezone(timedelta(hours=-6)),
        "America/Chicago",
        "US-TX",
        ("phone", "web", "email"),
        ("social media", "cfpb"),
        ("Congress Ave store", "Round Rock warehouse"),
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
            "客服答应回电，结果一直没人联系我。",
        ),
        "en": (
            "The agent was rude and hung up on me. I will talk to my lawyer.",
            "Staff at the store ignored me for an hour.",
            "I was promised a call back twice and nobody called.",
        ),
    },
    "refund": {
        "zh": (
            "退货一个月了还没退款。",
            "申请退款被拒绝，理由不合理，我要起诉。",
            "退款只退了一半。",
        ),
        "en": (
            "I returned the item a month ago and still have no refund.",
            "My refund was refused; I am reporting this to the regulator.",
            "Only half of my refund came through.",
        ),
    },
    "privacy": {
        "zh": ("我的个人信息被泄露，天天接到推销电话。",),
        "en": ("My personal data was shared with marketers without my consent.",),
    },
    "contract": {
        "zh": ("想提前解除合约，违约金太高了。", "携号转网被拒绝，说合同还没到期。"),
        "en": (
            "I want to cancel my contract but the early termination fee is unclear.",
            "My subscription renewed without any notice.",
        ),
    },
    "device": {
        "zh": ("新换的光猫经常自动重启。", "机顶盒遥控没反应，换了电池也不行。"),
        "en": (
            "The router you sent me keeps restarting.",
            "My new handset will not read the SIM card.",
        ),
    },
}
WEIGHTS = {
    "billing": 22,
    "delivery": 15,
    "contract": 16,
    "device": 8,
    "network": 10,
    "product_quality": 6,
    "service_attitude": 8,
    "refund": 8,
    "privacy": 3,
    "safety": 2,
}
"""How often each category comes in (per cent)."""
PUBLIC_SHARE = 0.03
"""Share of complaints arriving through a regulator or social media, where a center has one."""
PRIORITY = {
    "billing": "P3",
    "delivery": "P3",
    "contract": "P4",
    "device": "P3",
    "network": "P2",
    "product_quality": "P2",
    "service_attitude": "P3",
    "refund": "P3",
    "privacy": "P2",
    "safety": "P1",
}
"""The priority routing's rules give each category (services/routing/config/rules.yaml)."""
THREATS = ("记者", "12315", "起诉", "lawyer", "regulator")
"""Words of the texts above that routing reads as a threat: one level more urgent."""


def expected_priority(category: str, text: str, *, public: bool) -> str:
    """The priority the agents expect routing to give (a repeat complaint may be higher)."""
    level = int(PRIORITY[category][1])
    if public or any(word in text for word in THREATS):
        level -= 1
    return f"P{max(1, level)}"


NAMES = {
    "zh": ("张伟", "王芳", "李娜", "刘洋", "陈静"),
    "en": ("Alex Smith", "Maria Garcia", "John Brown", "Priya Patel", "Sam Lee"),
}

RESOLUTIONS = (
    {
        "root_cause": "billing system misconfiguration",
        "corrective_action": "refunded the customer",
        "preventive_action": "fixed the tariff rule",
    },
    {
        "root_cause": "courier scanned the parcel at the wrong address",
        "corrective_action": "re-sent the order by express",
        "preventive_action": "photo proof of delivery required",
    },
    {
        "root_cause": "faulty batch from the supplier",
        "corrective_action": "replaced the product",
        "preventive_action": "incoming inspection of the batch",
    },
    {
        "root_cause": "agent did not follow the callback procedure",
        "corrective_action": "apologised and called the customer",
        "preventive_action": "coaching and a callback reminder in the CRM",
    },
)
"""What agents write when they resolve a complaint (root cause, corrective, preventive)."""
