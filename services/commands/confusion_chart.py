"""The confusion-matrix chart of `complaintflow classifier evaluate`: which categories are
taken for which, as a PNG a person reads at a glance (Chinese category names included)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from services.routing.learning import Scores

CJK_FONTS = ("Noto Sans CJK SC", "Noto Sans CJK TC", "Noto Sans CJK JP", "Noto Serif CJK SC")
"""Fonts that draw Chinese (Debian: fonts-noto-cjk); without one, Chinese names are boxes."""


def _font() -> list[str]:
    from matplotlib import font_manager

    names = {f.name for f in font_manager.fontManager.ttflist}
    found = [name for name in CJK_FONTS if name in names]
    if not found:
        logging.getLogger(__name__).warning(
            "no CJK font found (install fonts-noto-cjk): Chinese names will not show"
        )
    return [*found, "DejaVu Sans"]


def write_chart(scores: Scores, path: Path, *, title: str) -> Path:
    """Rows: the true category; columns: what the classifier said (last: triage). Each row
    is shaded by its share, so small categories read as clearly as large ones."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    counts = np.array(scores.confusion, dtype=float)
    shares = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    n = len(scores.labels)
    columns = [*scores.labels, "(triage)"]
    size = max(6.0, 0.45 * n + 3)
    with plt.rc_context({"font.family": _font(), "axes.unicode_minus": False}):
        fig, ax = plt.subplots(figsize=(size + 1.5, size))
        image = ax.imshow(shares, cmap="Blues", vmin=0, vmax=1, aspect="auto")
        ax.set_xticks(range(n + 1), columns, rotation=60, ha="right", fontsize=8)
        ax.set_yticks(range(n), scores.labels, fontsize=8)
        ax.set_xlabel("classified as")
        ax.set_ylabel("labelled as")
        for i in range(n):
            for j in range(n + 1):
                if counts[i, j]:
                    dark = shares[i, j] > 0.55
                    ax.text(
                        j, i, f"{int(counts[i, j])}", ha="center", va="center", fontsize=7,
                        color="white" if dark else "black",
                    )  # fmt: skip
        ax.set_title(title, fontsize=10)
        fig.colorbar(image, ax=ax, fraction=0.04, label="share of the row")
        fig.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=110)
        plt.close(fig)
    return path
