"""The report's charts: matplotlib drawn to SVG with the text as outlines (so the file needs
no font where it is opened), each returned as a `data:` URI to sit inside the HTML."""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

from matplotlib import font_manager  # noqa: E402
from matplotlib import pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

PALETTE = ("#2563eb", "#f59e0b", "#10b981", "#ef4444", "#8b5cf6", "#64748b")
BANDS = ("#bbf7d0", "#fde68a", "#fdba74", "#f87171", "#b91c1c")
GOOD, BAD, MUTED = "#16a34a", "#dc2626", "#94a3b8"


def use_font(family: str) -> None:
    """Draw every chart's text in `family` (a Noto Sans CJK face: CJK and Latin glyphs);
    a clear error when it is not installed rather than boxes where the characters should be."""
    try:
        _find(family)
    except ValueError:
        # Installed after matplotlib made its cache of the fonts: add the system's CJK faces.
        for path in font_manager.findSystemFonts():
            if "CJK" in Path(path).name:
                font_manager.fontManager.addfont(path)
    try:
        _find(family)
    except ValueError as exc:
        raise RuntimeError(
            f"the font {family!r} is not installed: install Debian's fonts-noto-cjk"
            " (apt-get install fonts-noto-cjk; .ci/run installs it)"
        ) from exc
    matplotlib.rcParams.update(
        {
            "font.family": [family],
            "svg.fonttype": "path",
            "svg.hashsalt": "complaintflow",
            "axes.unicode_minus": False,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.titlesize": 12,
            "font.size": 10,
        }
    )


def _find(family: str) -> None:
    font_manager.findfont(font_manager.FontProperties(family=family), fallback_to_default=False)


def _uri(fig: Figure) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    return "data:image/svg+xml;base64," + base64.b64encode(buf.getvalue()).decode()


def trend(
    buckets: Sequence[datetime],
    stacks: Sequence[tuple[str, Sequence[int]]],
    previous: Sequence[int],
    *,
    title: str,
    previous_label: str,
    bucket: str,
) -> str:
    """Stacked bars per bucket (one stack per series), with the previous period's totals, bucket
    by bucket, as a line."""
    fig, ax = plt.subplots(figsize=(9, 3.2))
    xs = list(range(len(buckets)))
    bottom = [0] * len(buckets)
    for i, (name, values) in enumerate(stacks):
        ax.bar(xs, values, bottom=bottom, color=PALETTE[i % len(PALETTE)], label=name, width=0.8)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    if any(previous):
        ax.plot(xs, previous, color=MUTED, linestyle="--", marker="o", label=previous_label)
    ax.set_xticks(*ticks(buckets, bucket))
    ax.set_title(title, loc="left")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    return _uri(fig)


def ticks(buckets: Sequence[datetime], bucket: str) -> tuple[list[int], list[str]]:
    """Where the trend's x labels go and what they say: at most 12 (8 of hours, whose labels
    are wider), the hours of a single day as `HH:00` (the day is in the report's heading) —
    a day's 24 hours labelled `DD HH:00` every other bar ran into each other."""
    if bucket == "hour":
        one_day = len({b.date() for b in buckets}) <= 1
        fmt, most = ("%H:00" if one_day else "%d %H:00"), 8
    else:
        fmt, most = {"day": "%m-%d", "week": "%G-W%V"}[bucket], 12
    step = max(1, -(-len(buckets) // most))
    picked = list(range(0, len(buckets), step))
    return picked, [buckets[i].strftime(fmt) for i in picked]


def bars(items: Sequence[tuple[str, float]], *, title: str, color: str = PALETTE[0]) -> str:
    """Horizontal bars, largest on top, each labelled with its value."""
    fig, ax = plt.subplots(figsize=(4.2, 0.4 * max(len(items), 3) + 0.8))
    names = [name for name, _ in items][::-1]
    values = [value for _, value in items][::-1]
    found = ax.barh(names, values, color=color)
    ax.bar_label(found, fmt="%g", padding=3)
    ax.set_title(title, loc="left")
    ax.xaxis.set_visible(False)
    ax.spines["bottom"].set_visible(False)
    return _uri(fig)


def stacked(
    rows: Sequence[tuple[str, Sequence[int]]],
    parts: Sequence[str],
    *,
    colors: Sequence[str] = BANDS,
) -> str:
    """One horizontal bar per row split into `parts` (backlog by age band, met/breached), the
    parts' legend above (the section's heading says what it is)."""
    fig, ax = plt.subplots(figsize=(6, 0.45 * max(len(rows), 3) + 1.0))
    names = [name for name, _ in rows][::-1]
    left = [0] * len(rows)
    room = max((sum(values) for _, values in rows), default=0) / 12  # a label fits in a part
    for i, part in enumerate(parts):
        values = [values[i] for _, values in rows][::-1]
        found = ax.barh(names, values, left=left, color=colors[i % len(colors)], label=part)
        shown = [str(v) if v and v >= room else "" for v in values]
        ax.bar_label(found, labels=shown, label_type="center")
        left = [a + b for a, b in zip(left, values, strict=True)]
    ax.legend(ncols=len(parts), loc="lower left", bbox_to_anchor=(0, 1.0), frameon=False)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    return _uri(fig)


def columns(items: Sequence[tuple[str, float]], *, title: str, color: str = PALETTE[0]) -> str:
    """Vertical bars (a distribution: scores, levels), each labelled with its value."""
    fig, ax = plt.subplots(figsize=(4.2, 2.2))
    found = ax.bar([name for name, _ in items], [value for _, value in items], color=color)
    ax.bar_label(found, fmt="%g", padding=2)
    ax.set_title(title, loc="left")
    ax.yaxis.set_visible(False)
    ax.spines["left"].set_visible(False)
    return _uri(fig)
