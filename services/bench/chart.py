"""A dependency-free SVG chart of a latency distribution (histogram with p50/p99 marks)."""

from __future__ import annotations

import math

from services.bench.measure import percentile


def latency_svg(values_ms: list[float], *, title: str, width: int = 720, height: int = 320) -> str:
    """A histogram of `values_ms` on a log-spaced axis, with p50 and p99 lines."""
    if not values_ms:
        return (
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="60">'
            f'<text x="10" y="30">{title}: no data</text></svg>'
        )
    lo, hi = max(0.1, min(values_ms)), max(values_ms) * 1.01
    bins = 40
    edges = [lo * (hi / lo) ** (i / bins) for i in range(bins + 1)]
    counts = [0] * bins
    for v in values_ms:
        idx = 0 if v <= lo else min(bins - 1, int(math.log(v / lo) / math.log(hi / lo) * bins))
        counts[idx] += 1
    left, right, top, bottom = 60, 20, 40, 50
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max(counts)

    def x(v: float) -> float:
        return left + plot_w * math.log(max(v, lo) / lo) / math.log(hi / lo)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        'font-family="sans-serif" font-size="12">',
        f'<text x="{left}" y="20" font-size="14" font-weight="bold">{title}</text>',
    ]
    for i, c in enumerate(counts):
        h = plot_h * c / peak
        parts.append(
            f'<rect x="{x(edges[i]):.1f}" y="{top + plot_h - h:.1f}" '
            f'width="{max(1.0, x(edges[i + 1]) - x(edges[i]) - 1):.1f}" '
            f'height="{h:.1f}" fill="#4a7fb5"/>'
        )
    for pct, colour in ((50, "#2a9d3f"), (99, "#c0392b")):
        v = percentile(values_ms, pct)
        parts.append(
            f'<line x1="{x(v):.1f}" x2="{x(v):.1f}" y1="{top}" y2="{top + plot_h}" '
            f'stroke="{colour}" stroke-width="2"/>'
        )
        parts.append(
            f'<text x="{x(v) + 4:.1f}" y="{top + 12}" fill="{colour}">p{pct} {v:.1f} ms</text>'
        )
    parts.append(
        f'<line x1="{left}" x2="{left + plot_w}" y1="{top + plot_h}" '
        f'y2="{top + plot_h}" stroke="#333"/>'
    )
    for tick in (lo, math.sqrt(lo * hi), hi):
        parts.append(
            f'<text x="{x(tick):.1f}" y="{top + plot_h + 16}" text-anchor="middle">'
            f"{tick:.1f} ms</text>"
        )
    parts.append(
        f'<text x="{left + plot_w / 2}" y="{height - 10}" text-anchor="middle">'
        f"latency (log scale), {len(values_ms):,} events</text></svg>"
    )
    return "\n".join(parts)
