"""The satisfaction survey a customer reaches from the signed link notification sends:
`GET /v1/survey/<token>` shows the question in their language, `POST` (a form or JSON with
`score` 1–5 and an optional `comment`) turns the answer into a `survey.answered` raw event,
which intake records like any other (one answer per complaint: the event id is the
complaint's, so a second answer is a duplicate).

The link is the credential: no API key, and a link that is altered or expired is refused.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs

from services.kernel.signed_links import SURVEY, LinkError, verify

PAGE = {
    "en": {
        "title": "How did we do?",
        "question": "How satisfied are you with how we handled your complaint?",
        "low": "not at all",
        "high": "very satisfied",
        "comment": "Anything you would like to add (optional)",
        "send": "Send",
        "thanks": "Thank you: your answer has been recorded.",
        "already": "This survey has already been answered. Thank you.",
        "expired": "This survey link has expired.",
        "invalid": "This survey link is not valid. Please open it exactly as we sent it.",
        "score": "Please choose a score from 1 to 5.",
        "unavailable": "Your answer could not be recorded just now. Please try again shortly.",
    },
    "zh-Hans": {
        "title": "满意度调查",
        "question": "您对我们处理您投诉的方式满意吗？",
        "low": "非常不满意",
        "high": "非常满意",
        "comment": "其他意见（可选）",
        "send": "提交",
        "thanks": "谢谢！您的评价已记录。",
        "already": "此调查已经回答过了，谢谢。",
        "expired": "此调查链接已过期。",
        "invalid": "此调查链接无效，请按我们发送的原样打开。",
        "score": "请选择 1 到 5 的评分。",
        "unavailable": "暂时无法记录您的评价，请稍后再试。",
    },
    "zh-Hant": {
        "title": "滿意度調查",
        "question": "您對我們處理您投訴的方式滿意嗎？",
        "low": "非常不滿意",
        "high": "非常滿意",
        "comment": "其他意見（可選）",
        "send": "提交",
        "thanks": "謝謝！您的評價已記錄。",
        "already": "此調查已經回答過了，謝謝。",
        "expired": "此調查連結已過期。",
        "invalid": "此調查連結無效，請按我們發送的原樣開啟。",
        "score": "請選擇 1 到 5 的評分。",
        "unavailable": "暫時無法記錄您的評價，請稍後再試。",
    },
}
MAX_COMMENT = 2000
STYLE = "font-family: sans-serif; max-width: 36em; margin: 2em auto; line-height: 1.5"


@dataclass(frozen=True)
class Survey:
    complaint_id: str
    source: str
    complaint_ref: str
    language: str

    @property
    def event_id(self) -> str:
        """One per complaint: intake's de-duplication keeps the first answer only."""
        return f"survey-{self.complaint_id}"


class SurveyRefused(Exception):
    def __init__(self, status: int, reason: str, language: str = "en") -> None:
        super().__init__(reason)
        self.status, self.reason, self.language = status, reason, language


def open_link(key: bytes, token: str, now: datetime) -> Survey:
    """The survey a token stands for; SurveyRefused (403 invalid, 410 expired) otherwise."""
    try:
        p = verify(key, SURVEY, token, now=now)
    except LinkError as exc:
        raise SurveyRefused(410 if exc.reason == "expired" else 403, exc.reason) from None
    except ValueError:
        raise SurveyRefused(403, "invalid") from None
    try:
        lang = str(p.get("l", "en"))
        return Survey(str(p["c"]), str(p["s"]), str(p["r"]), lang if lang in PAGE else "en")
    except KeyError:
        raise SurveyRefused(403, "invalid") from None


def answer(survey: Survey, body: bytes, content_type: str, now: datetime) -> bytes:
    """The raw `survey.answered` event of a submitted form or JSON body."""
    fields: dict[str, Any]
    if content_type.split(";")[0].strip().lower() == "application/json":
        try:
            doc = json.loads(body or b"{}")
        except (ValueError, UnicodeDecodeError):
            doc = None
        fields = doc if isinstance(doc, dict) else {}
    else:
        fields = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
    try:
        score = int(str(fields.get("score", "")).strip())
    except ValueError:
        score = 0
    if not 1 <= score <= 5:
        raise SurveyRefused(422, "score", survey.language)
    comment = str(fields.get("comment") or "").strip()[:MAX_COMMENT] or None
    event = {
        "type": "survey.answered",
        "source": survey.source,
        "event_id": survey.event_id,
        "complaint_ref": survey.complaint_ref,
        "occurred_at": now.isoformat(),
        "channel": "web",
        "language": survey.language,
        "score": score,
        "comment": comment,
    }
    return json.dumps(event, ensure_ascii=False).encode()


def page(language: str, *, message: str | None = None, form: bool = False) -> str:
    """The survey page: the question with scores 1–5, or one sentence (thanks, refusal)."""
    t = PAGE.get(language, PAGE["en"])
    body = f"<p>{html.escape(t[message])}</p>" if message else ""
    if form:
        choices = "".join(
            f'<label style="margin-right:14px"><input type="radio" name="score" value="{n}"'
            f" required> {n}</label>"
            for n in range(1, 6)
        )
        body += (
            f'<p>{html.escape(t["question"])}</p><form method="post">'
            f"<p>1 = {html.escape(t['low'])}, 5 = {html.escape(t['high'])}</p><p>{choices}</p>"
            f'<p><label>{html.escape(t["comment"])}<br><textarea name="comment" rows="4"'
            f' cols="50" maxlength="{MAX_COMMENT}"></textarea></label></p>'
            f'<p><button type="submit">{html.escape(t["send"])}</button></p></form>'
        )
    return (
        f'<!doctype html><html lang="{html.escape(language)}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(t['title'])}</title></head>"
        f"<body style='{STYLE}'>"
        f"<h1>{html.escape(t['title'])}</h1>{body}</body></html>"
    )
