"""The managers' report from a week archived on the real database: the figures on the page are
the ones the data implies, and a real headless Chromium shows every chart and the Chinese text
(the screenshots are kept under test-artifacts/)."""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
from datetime import timedelta
from pathlib import Path

import numpy as np
import psycopg
import pytest
from PIL import Image

from schemas.common import Priority
from schemas.routed import RoutedComplaint
from services.analytics import archive
from services.analytics.periods import Period
from services.analytics.report import browser, write_report
from services.commands.cli import main
from tests.figures_story import BASE, archived

pytestmark = pytest.mark.integration
WEEK = Period(BASE, BASE + timedelta(days=7), "week")
ARTIFACTS = Path(os.environ.get("CF_TEST_ARTIFACTS", Path(__file__).parents[2] / "test-artifacts"))
CARD = re.compile(
    r'<div class="label">([^<]+)</div>\s*<div class="value">([^<]+)</div>\s*'
    r'<div class="change (\w+)">([^<]*)</div>'
)


def cards(html: str) -> dict[str, tuple[str, str, str]]:
    """Headline label → (value, tone, change text)."""
    return {m[1]: (m[2], m[3], m[4]) for m in CARD.finditer(html)}


def keep(path: Path) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(path, ARTIFACTS / path.name)


def pixels(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("L"), dtype=np.int16)


def test_the_report_shows_the_weeks_figures_every_chart_and_no_customer(cf, tmp_path):
    with psycopg.connect(cf.db_url()) as conn:
        archived(conn, BASE)
    # When the week's report is written
    out = write_report(cf.db_url(), WEEK, tmp_path / "report-en.html", now=BASE, progress=False)
    html = out.read_text(encoding="utf-8")
    # Then the headline figures are the hand-computed ones (tests/figures_story.py)
    found = cards(html)
    assert found["Complaints received"][0] == "6"
    assert found["Resolved in the period"][0] == "3"
    assert found["Open at the end"][0] == "5"
    assert found["SLA targets met"][0] == "42.9%"
    assert found["Time to acknowledge (median)"][0] == "30.0 min"
    assert found["Time to resolve (median)"][0] == "3.0 d"
    assert found["Reopened"][0] == "50.0%" and found["Repeat complaints"][0] == "33.3%"
    assert found["Satisfaction (1–5)"][0] == "3.50"
    assert found["Escalated targets"][0] == "4"
    # ... against the week before, which received G only and ended with F and G open
    assert found["Complaints received"][2].startswith("+500%")  # 1 → 6
    assert found["Open at the end"][1] == "bad"  # 2 → 5
    assert "Double charge" in html and "refund" in html and "dedupe" in html
    assert "10.00 GBP" in html
    # Self-contained, and nothing of a customer: no token, no reference, no contact
    assert not re.search(r'(src|href)="(https?:)?//', html)
    assert "cus_" not in html and "CF-" not in html
    images = re.findall(r'<img src="data:image/svg\+xml;base64,', html)
    # the trend, six volumes (department, channel, call center, region, product, place), SLA
    # by department, backlog, escalations, CSAT
    assert len(images) == 1 + 6 + 1 + 1 + 1 + 1
    # And the early warnings of the week: kind, where, when, counts vs baseline, p-value,
    # customers and terms, nothing of a complaint
    alerts = html[html.index('<section id="alerts">') : html.index('<section id="root-causes">')]
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", alerts)
    assert cells == [
        "spike", "Category: billing, Region: north", "2026-03-03 00:00", "2026-03-04 00:00",
        "5 / 0.8", "0.004", "3", "charged, twice",
        "collective", "Place: Oxford St store", "2026-03-08 00:00", "still open",
        "3", "–", "3", "router, 断网",
    ]  # fmt: skip

    # And a real browser draws every chart
    probe = tmp_path / "probe.html"
    probe.write_text(
        html.replace(
            "</body>",
            "<script>addEventListener('load', () => document.body.dataset.widths ="
            " [...document.images].map(i => i.naturalWidth).join(','))</script></body>",
        ),
        encoding="utf-8",
    )
    dom = _dump_dom(probe)
    widths = [int(w) for w in re.search(r'data-widths="([\d,]+)"', dom)[1].split(",")]
    assert len(widths) == len(images) and min(widths) > 100


def _dump_dom(page: Path) -> str:
    import subprocess

    done = subprocess.run(
        [browser.chromium(), "--headless", "--no-sandbox", "--disable-gpu",
         "--virtual-time-budget=5000", "--dump-dom", page.resolve().as_uri()],
        capture_output=True, text=True, timeout=180, check=True,
    )  # fmt: skip
    return done.stdout


def test_the_chinese_report_renders_its_characters_in_chromium(cf, tmp_path):
    with psycopg.connect(cf.db_url()) as conn:
        archived(conn, BASE)
    # When the report is written in Simplified Chinese through the command line
    out = tmp_path / "report-zh-Hans.html"
    env = {"DATABASE_URL": cf.db_url()}
    with pytest.MonkeyPatch.context() as mp:
        for k, v in env.items():
            mp.setenv(k, v)
        code = main(["report", "--from", "2026-03-02", "--to", "2026-03-09", "--quiet",
                     "--language", "zh-Hans", "--out", str(out)])  # fmt: skip
    assert code == 0
    html = out.read_text(encoding="utf-8")
    assert '<html lang="zh-Hans">' in html and "投诉管理报告" in html
    assert cards(html)["受理投诉"][0] == "6" and "SLA 达成率" in html
    assert "<td>物流部</td>" in html  # the backlog's departments, in Chinese
    # Then Chromium draws it: a page of substance, not blank
    shot = browser.screenshot(out, tmp_path / "report-zh-Hans.png", height=3600)
    keep(shot)
    image = pixels(shot)
    assert image.shape == (3600, 1280) and shot.stat().st_size > 100_000
    assert image.std() > 20 and (image < 128).mean() > 0.02
    # And its Chinese is glyphs, not boxes: two different phrases drawn in the page's font
    # differ (missing glyphs are the same box), and differ from characters no font has
    drawn = [_snippet(tmp_path, name, text) for name, text in
             (("a", "投诉管理报告"), ("b", "满意度重开率"), ("tofu", "\ue000" * 6))]  # fmt: skip
    assert not np.array_equal(drawn[0], drawn[1])
    assert not np.array_equal(drawn[0], drawn[2]) and not np.array_equal(drawn[1], drawn[2])
    assert (drawn[0] < 128).mean() > 0.01  # ink on the page


def _snippet(tmp_path: Path, name: str, text: str) -> np.ndarray:
    page = tmp_path / f"snippet-{name}.html"
    page.write_text(
        "<html><body style=\"margin:0;background:#fff;font:48px 'Noto Sans CJK SC'\">"
        f"{text}</body></html>",
        encoding="utf-8",
    )
    return pixels(browser.screenshot(page, tmp_path / f"snippet-{name}.png", width=400, height=80))


def test_the_csv_has_the_same_figures_and_the_pdf_is_printed(cf, tmp_path):
    with psycopg.connect(cf.db_url()) as conn:
        archived(conn, BASE)
    out = write_report(cf.db_url(), WEEK, tmp_path / "r.csv", fmt="csv", now=BASE, progress=False)
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    got = {(r["section"], r["name"], r["detail"]): (r["value"], r["previous"]) for r in rows}
    assert got[("headline", "Complaints received", "")] == ("6", "1")
    assert got[("volume", "category", "delivery")] == ("2", "0")
    assert got[("backlog", "logistics", "3-7d")] == ("2", "")
    assert got[("trend_day", "channel=phone", "2026-03-08T00:00:00+00:00")] == ("1", "")
    assert got[("escalations", "level", "3")] == ("1", "0")
    assert got[("root_cause", "Double charge", "refund")] == ("2", "1")
    assert got[("alert", "spike", "category=billing,region=north")] == ("5", "0.8")
    # And the PDF is the page printed by Chromium
    pdf = write_report(cf.db_url(), WEEK, tmp_path / "r.pdf", fmt="pdf", now=BASE, progress=False)
    assert pdf.read_bytes().startswith(b"%PDF-") and pdf.stat().st_size > 50_000


def test_the_report_names_categories_as_routing_s_display_names_in_its_language(cf, tmp_path):
    with psycopg.connect(cf.db_url()) as conn:
        archived(conn, BASE)
        # Given the latest routing decision of a delivery complaint gave its display names
        shown = {"zh-Hans": "物流配送", "zh-Hant": "物流配送", "en": "Deliveries"}
        cid, department, owner = conn.execute(
            "SELECT complaint_id, department, owner FROM analytics.complaints"
            " WHERE category = 'delivery' LIMIT 1"
        ).fetchone()
        decision = RoutedComplaint(
            complaint_id=cid,
            version=2,
            category="delivery",
            category_display=shown,
            department=department,
            queue=f"{department}-q",
            owner=owner,
            priority=Priority.P3,
            sla_policy="standard-P3",
            reasons=["scripted"],
            occurred_at=BASE,
            routed_at=BASE,
        )
        archive.record(conn, [("ce-display", "complaints.routed.v1", decision)], BASE)
    # Then the report in each language shows that name, not the taxonomy's
    for lang, name in (("en", "Deliveries"), ("zh-Hans", "物流配送")):
        out = tmp_path / f"report-{lang}.html"
        html = write_report(cf.db_url(), WEEK, out, language=lang, now=BASE, progress=False)
        text = html.read_text(encoding="utf-8")
        assert name in text and ">delivery<" not in text, lang
    # And the CSV keeps the taxonomy's names, for machines
    out = write_report(cf.db_url(), WEEK, tmp_path / "r.csv", fmt="csv", now=BASE, progress=False)
    assert "delivery" in out.read_text(encoding="utf-8")
