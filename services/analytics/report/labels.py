"""The report's words in each of its languages, and how it writes numbers, rates and durations."""

from __future__ import annotations

from babel.numbers import format_decimal, format_percent

from services.analytics import customer_view

LANGUAGES = ("en", "zh-Hans", "zh-Hant")
LOCALES = {"en": "en_GB", "zh-Hans": "zh_Hans_CN", "zh-Hant": "zh_Hant_TW"}
FONTS = {"en": "Noto Sans CJK SC", "zh-Hans": "Noto Sans CJK SC", "zh-Hant": "Noto Sans CJK TC"}
"""The CJK face charts use (its Latin glyphs serve English too)."""

WORDS: dict[str, tuple[str, str, str]] = {
    # key: (en, zh-Hans, zh-Hant)
    "title": ("Complaints review", "投诉管理报告", "投訴管理報告"),
    "all_centers": ("All call centers", "全部呼叫中心", "全部客服中心"),
    "period": ("Period", "统计期间", "統計期間"),
    "previous": ("Compared with", "对比期间", "對比期間"),
    "generated": ("Generated", "生成时间", "產生時間"),
    "event_time": (
        "All figures on event time: when it happened at the call center.",
        "所有数据按事件发生时间统计。",
        "所有數據按事件發生時間統計。",
    ),
    "headline": ("Headline figures", "核心指标", "核心指標"),
    "received": ("Complaints received", "受理投诉", "受理投訴"),
    "resolved_in": ("Resolved in the period", "期内解决", "期內解決"),
    "open_end": ("Open at the end", "期末未结", "期末未結"),
    "sla_rate": ("SLA targets met", "SLA 达成率", "SLA 達成率"),
    "mtta": ("Time to acknowledge (median)", "受理响应时长（中位数）", "受理回應時長（中位數）"),
    "mttr": ("Time to resolve (median)", "解决时长（中位数）", "解決時長（中位數）"),
    "reopen_rate": ("Reopened", "重开率", "重開率"),
    "repeat_rate": ("Repeat complaints", "重复投诉率", "重複投訴率"),
    "csat": ("Satisfaction (1–5)", "满意度（1–5）", "滿意度（1–5）"),
    "escalated": ("Escalated targets", "升级次数", "升級次數"),
    "change": ("vs previous", "环比", "環比"),
    "new": ("new", "新增", "新增"),
    "trends": ("Volumes and trends", "投诉量与趋势", "投訴量與趨勢"),
    "per_bucket": ("Complaints per {bucket}", "每{bucket}投诉量", "每{bucket}投訴量"),
    "hour": ("hour", "小时", "小時"),
    "day": ("day", "日", "日"),
    "week": ("week", "周", "週"),
    "this_period": ("This period", "本期", "本期"),
    "previous_period": ("Previous period", "上期", "上期"),
    "others": ("others", "其他", "其他"),
    "top_issues": ("Top issues", "主要问题", "主要問題"),
    "complaints": ("Complaints", "投诉数", "投訴數"),
    "category": ("Category", "类别", "類別"),
    "department": ("Department", "部门", "部門"),
    "channel": ("Channel", "渠道", "渠道"),
    "region": ("Region", "地区", "地區"),
    "product": ("Product", "产品", "產品"),
    "source": ("Call center", "呼叫中心", "客服中心"),
    "priority": ("Priority", "优先级", "優先級"),
    "place": ("Place", "地点", "地點"),
    "sla": ("SLA compliance", "SLA 达成情况", "SLA 達成情況"),
    "sla_note": (
        "SLA targets due in the period; met on time over met and breached.",
        "按期内到期的 SLA 目标统计：按时达成 ÷（达成 + 违约）。",
        "按期內到期的 SLA 目標統計：準時達成 ÷（達成 + 違約）。",
    ),
    "target": ("Target", "目标", "目標"),
    "rate": ("Met", "达成率", "達成率"),
    "met": ("Met on time", "按时达成", "準時達成"),
    "breached": ("Breached", "违约", "違約"),
    "pending": ("Pending", "进行中", "進行中"),
    "all": ("all", "全部", "全部"),
    "acknowledge": ("acknowledge", "受理确认", "受理確認"),
    "keep_informed": ("keep informed", "进度告知", "進度告知"),
    "resolve": ("resolve", "解决", "解決"),
    "callback": ("callback", "回电", "回電"),
    "follow_up": ("follow-up", "回访", "回訪"),
    "by_department": ("By department", "按部门", "按部門"),
    "times": ("Response times", "处理时长", "處理時長"),
    "times_note": (
        "On event time; business time on the calendar the SLA policy counts the target on.",
        "按事件时间计算；工作时长按 SLA 政策所用的营业日历计算。",
        "按事件時間計算；工作時長按 SLA 政策所用的營業日曆計算。",
    ),
    "measure": ("Measure", "指标", "指標"),
    "count": ("Count", "数量", "數量"),
    "mean": ("Mean", "平均", "平均"),
    "median": ("Median", "中位数", "中位數"),
    "p90": ("90th percentile", "90 分位", "90 分位"),
    "ack_calendar": ("Acknowledge, calendar", "受理确认（自然时长）", "受理確認（自然時長）"),
    "ack_business": ("Acknowledge, business", "受理确认（工作时长）", "受理確認（工作時長）"),
    "res_calendar": ("Resolve, calendar", "解决（自然时长）", "解決（自然時長）"),
    "res_business": ("Resolve, business", "解决（工作时长）", "解決（工作時長）"),
    "backlog": ("Backlog ageing", "积压账龄", "積壓帳齡"),
    "backlog_note": (
        "Complaints open at the end of the period, by how long they had been open.",
        "期末仍未解决的投诉，按已开启时长分组。",
        "期末仍未解決的投訴，按已開啟時長分組。",
    ),
    "age": ("Age", "账龄", "帳齡"),
    "escalations": ("Escalations", "升级", "升級"),
    "escalations_note": (
        "SLA targets due in the period escalated to each level (level 3 went through 1 and 2).",
        "期内到期的 SLA 目标升级到各级别的数量（升至 3 级即经过 1、2 级）。",
        "期內到期的 SLA 目標升級到各級別的數量（升至 3 級即經過 1、2 級）。",
    ),
    "level": ("Level", "级别", "級別"),
    "level_n": ("level {n}", "{n} 级", "{n} 級"),
    "csat_title": ("Customer satisfaction", "客户满意度", "客戶滿意度"),
    "responses": ("Responses", "回复数", "回覆數"),
    "response_rate": ("Response rate", "回复率", "回覆率"),
    "score": ("Score", "评分", "評分"),
    "compensation": ("Compensation", "补偿", "補償"),
    "compensated": ("Complaints compensated", "获补偿投诉", "獲補償投訴"),
    "amount": ("Amount", "金额", "金額"),
    "root_causes": ("Root causes and actions", "根本原因与改进措施", "根本原因與改進措施"),
    "root_note": (
        "ISO 10002 improvement loop: each cause, what was done about it, and whether it came back.",
        "ISO 10002 持续改进：每个原因、已采取的措施，以及措施后是否再次发生。",
        "ISO 10002 持續改進：每個原因、已採取的措施，以及措施後是否再次發生。",
    ),
    "cause": ("Root cause", "根本原因", "根本原因"),
    "corrective": ("Corrective action", "纠正措施", "糾正措施"),
    "preventive": ("Preventive action", "预防措施", "預防措施"),
    "recurred": ("Recurred after action", "措施后再发", "措施後再發"),
    "repeat_issues": ("Top repeat issues", "主要重复投诉", "主要重複投訴"),
    "issue": ("Issue", "问题", "問題"),
    "alerts": ("Early-warning alerts", "预警", "預警"),
    "alerts_note": (
        "Episodes the early-warning detector had open in the period (all call centers).",
        "本期内处于开启状态的预警事件（全部呼叫中心）。",
        "本期內處於開啟狀態的預警事件（全部客服中心）。",
    ),
    "kind": ("Kind", "类型", "類型"),
    "spike": ("spike", "激增", "激增"),
    "collective": ("collective", "群体投诉", "群體投訴"),
    "emerging_issue": ("emerging issue", "新兴问题", "新興問題"),
    "where": ("Where", "范围", "範圍"),
    "opened": ("Opened", "开始", "開始"),
    "closed": ("Closed", "结束", "結束"),
    "still_open": ("still open", "仍在进行", "仍在進行"),
    "vs_baseline": ("Peak count / baseline", "峰值数量 / 基线", "峰值數量 / 基線"),
    "p_value": ("p-value", "p 值", "p 值"),
    "customers": ("Customers", "客户数", "客戶數"),
    "terms": ("Top terms", "关键词", "關鍵詞"),
    "people": ("Teams and owners", "团队与负责人", "團隊與負責人"),
    "people_note": (
        "Complaints resolved in the period: the same measures for everyone.",
        "期内解决的投诉：所有人采用相同指标。",
        "期內解決的投訴：所有人採用相同指標。",
    ),
    "team": ("Team", "团队", "團隊"),
    "owner": ("Owner", "负责人", "負責人"),
    "handled": ("Handled", "处理数", "處理數"),
    "on_time": ("On time", "按时", "準時"),
    "reopened": ("Reopened", "重开", "重開"),
    "nothing": ("None in this period.", "本期无。", "本期無。"),
    "seconds": ("s", "秒", "秒"),
    "minutes": ("min", "分钟", "分鐘"),
    "hours": ("h", "小时", "小時"),
    "days": ("d", "天", "天"),
}


class Words:
    """The report's words, numbers and durations in one language."""

    def __init__(self, language: str) -> None:
        if language not in LANGUAGES:
            raise ValueError(f"language {language!r}: expected one of {', '.join(LANGUAGES)}")
        self.language = language
        self.locale = LOCALES[language]
        self._index = LANGUAGES.index(language)
        self.categories: dict[str, dict[str, str]] = {}
        """Each category's display names by language, as routing decisions gave them."""

    def __call__(self, key: str, **values: object) -> str:
        found = WORDS.get(key)
        text = found[self._index] if found else key  # a value (a category) stays as it is
        return text.format(**values) if values else text

    def department(self, name: str) -> str:
        """A department as its people call it in this language (the customer's view names the
        routing rules' departments); another stays as the archive names it."""
        found = customer_view.TEAMS.get(name)
        return found[customer_view.LANGUAGES.index(self.language)] if found else name

    def category(self, name: str) -> str:
        """A category by its display name in this language (traditional Chinese falls back to
        simplified, then English); one without display names stays as the archive names it."""
        shown = self.categories.get(name, {})
        for lang in (self.language, "zh-Hans" if self.language == "zh-Hant" else "en", "en"):
            if shown.get(lang):
                return shown[lang]
        return name

    def issue(self, text: str) -> str:
        """A `category / sub-category` with the category by its display name."""
        category, sep, rest = text.partition(" / ")
        return self.category(category) + sep + rest

    def number(self, value: float | None, digits: int = 0) -> str:
        if value is None:
            return "–"
        pattern = "#,##0" + ("." + "0" * digits if digits else "")
        return format_decimal(value, pattern, locale=self.locale)

    def percent(self, value: float | None) -> str:
        if value is None:
            return "–"
        return format_percent(value, "#,##0.0%", locale=self.locale)

    def duration(self, seconds: float | None) -> str:
        """Seconds under two minutes, minutes under two hours, hours under two days, days."""
        if seconds is None:
            return "–"
        limits = (("seconds", 1, 120), ("minutes", 60, 7200), ("hours", 3600, 172800))
        for unit, size, limit in limits:
            if seconds < limit:
                return f"{self.number(seconds / size, 1)} {self(unit)}"
        return f"{self.number(seconds / 86400, 1)} {self('days')}"
