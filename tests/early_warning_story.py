"""The early-warning stories the unit and integration tests tell: one street corner, one new
theme in two languages, and texts no category explains that have nothing in common."""

from __future__ import annotations

STREET_CORNER = (
    # (place as each call center spelled it, hours after the first, customer, category, text)
    ("Jiefang Rd / Zhongshan Rd corner", 0, "cus_a", "sanitation",
     "Rubbish is piling up at the street corner and nobody collects it."),
    ("Jiefang Rd  / Zhongshan Rd Corner", 21, "cus_b", "traffic",
     "Carts are blocking the pavement, we have to walk in the road."),
    ("jiefang rd / zhongshan rd corner", 43, "cus_c", "market_management",
     "Please manage the offal-stall hawkers, the smell is unbearable."),
)  # fmt: skip

DATA_CAP = {
    "en": (
        "My data cap was reached after two days, the data cap is far too low.",
        "Hit the data cap already and now the speed is throttled.",
        "Why is there suddenly a data cap on my unlimited plan?",
        "The new data cap ruins my plan, I reached it in a week.",
        "Data cap exceeded message although I barely used anything.",
        "You introduced a data cap without telling me.",
        "data cap again, throttled to nothing",
    ),
    "zh": (
        "流量上限太低了，两天就用完了流量上限。",
        "突然有了流量上限，网速被限了。",
        "我的无限套餐怎么会有流量上限？",
        "流量上限到了，现在上网很慢。",
        "没用多少就提示超出流量上限。",
        "你们没通知就设置了流量上限。",
    ),
}
EXPECTED_TERMS = {"en": {"data", "cap"}, "zh": {"流量上限"}}

UNRELATED = (
    "Where is my invoice copy?",
    "我想咨询一下营业时间。",
    "The app logo looks strange.",
    "请帮我修改地址。",
    "Can I change my password?",
)
