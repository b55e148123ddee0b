"""What early warning costs per complaint: the detector over weeks of seasonal traffic.

The detector's own work (counting every slice, judging every slice at each window's end,
clustering the texts no category explains, places) on this machine, in one process with no
broker: the part that scales with complaints. The faust app around it adds a table write per
changed key and the sends, which the pipeline stage's broker figures bound.
"""

from __future__ import annotations

import itertools
import time
from datetime import UTC, datetime
from typing import Any

from rich.progress import Progress

from services.early_warning.detector import Detector, Rules
from services.early_warning.signals import Signal
from services.simulator.seasonal import steady

START = datetime(2026, 3, 2, tzinfo=UTC)
UNEXPLAINED = (
    "Where is my invoice copy?",
    "我想咨询一下营业时间。",
    "The app logo looks strange.",
    "请帮我修改地址。",
    "Can I change my password?",
)


def signals(weeks: int, per_day: float) -> list[Signal]:
    """Seasonal traffic; one complaint in ten unexplained, one in eight naming a place."""
    n = itertools.count()
    out = []
    for c in steady(START, hours=weeks * 7 * 24, per_day=per_day, seed=4):
        i = next(n)
        out.append(
            Signal(
                complaint_id=f"c{i:08d}",
                occurred_at=c.at.timestamp(),
                category=c.category,
                explained=i % 10 != 0,
                channel=c.channel,
                customer=c.customer,
                text=UNEXPLAINED[i % 5] if i % 10 == 0 else c.text,
                region=c.region,
                place=f"store {i % 40}" if i % 8 == 0 else None,
            )
        )
    return out


def run_detection(weeks: int, per_day: float, *, progress: bool = True) -> dict[str, Any]:
    """Feed the detector `weeks` of traffic; time per complaint and in all."""
    stream = signals(weeks, per_day)
    state: dict[str, Any] = {}
    detector = Detector(state, Rules())
    costs: list[float] = []
    alerts = 0
    with Progress(disable=not progress, transient=True) as bar:
        task = bar.add_task("early warning", total=len(stream))
        started = time.perf_counter()
        for s in stream:
            t0 = time.perf_counter()
            alerts += len(detector.observe(s).alerts)
            costs.append(time.perf_counter() - t0)
            bar.advance(task)
        total = time.perf_counter() - started
    costs.sort()
    return {
        "complaints": len(stream),
        "weeks": weeks,
        "per_day": per_day,
        "alerts": alerts,
        "mean_us": total / len(stream) * 1e6,
        "p50_us": costs[len(costs) // 2] * 1e6,
        "p99_us": costs[int(len(costs) * 0.99)] * 1e6,
        "max_ms": costs[-1] * 1e3,
        "per_s": len(stream) / total,
        "state_keys": len(state),
    }
