"""Small measurement helpers: percentiles, rates, keeping up, process CPU and memory."""

from __future__ import annotations

import contextlib
import math
import os


def percentile(values: list[float], pct: float) -> float:
    """The `pct` percentile (nearest rank) of `values`."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def keeps_up(waits: list[float], *, share: float = 0.2, slack_s: float = 1.0) -> bool:
    """Whether a pipeline kept up with a steady load, from each item's time through it in
    the order they were sent: the last `share` of them waited (median) no longer than twice
    the first `share` plus `slack_s`. A backlog that grows shows as later items waiting
    ever longer."""
    if not waits:
        return False
    k = max(1, int(len(waits) * share))
    early, late = percentile(waits[:k], 50), percentile(waits[-k:], 50)
    return late <= 2 * early + slack_s


def rates(stamps: list[float], *, step: float = 1.0) -> list[tuple[float, float]]:
    """(seconds from the first, items per second) over consecutive `step`-second buckets of
    the instants `stamps` (epoch seconds, any order); empty buckets count as zero."""
    if not stamps:
        return []
    first = min(stamps)
    counts = [0] * (int((max(stamps) - first) / step) + 1)
    for t in stamps:
        counts[int((t - first) / step)] += 1
    return [(i * step, c / step) for i, c in enumerate(counts)]


def breach_lag_by_phase(
    points: list[tuple[float, float | None]], *, ready_s: float | None, drained_s: float | None
) -> dict[str, dict[str, float]]:
    """Breach lag of deadlines (seconds since the start, lag in seconds or None when it has
    not breached) by when they fell due: before the timer was ready, during the drain,
    after it. Per phase: how many, breached, lag p50 / p99 / max (ms), later than 1 s."""
    phases: dict[str, list[float | None]] = {"before ready": [], "during drain": [], "after": []}
    for at, lag in points:
        if ready_s is None or at < ready_s:
            phases["before ready"].append(lag)
        elif drained_s is None or at < drained_s:
            phases["during drain"].append(lag)
        else:
            phases["after"].append(lag)
    out: dict[str, dict[str, float]] = {}
    for name, lags in phases.items():
        got = [lag for lag in lags if lag is not None]
        out[name] = {
            "deadlines": len(lags),
            "breached": len(got),
            "p50_ms": percentile(got, 50) * 1000,
            "p99_ms": percentile(got, 99) * 1000,
            "max_ms": max(got) * 1000 if got else math.nan,
            "over_1s": sum(1 for lag in got if lag > 1.0),
        }
    return out


def rss_mb(pid: int) -> float:
    """Resident memory of a process, in MiB (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _stat(pid: int) -> list[str]:
    """The fields of /proc/PID/stat after the command name (none when the process is gone)."""
    with contextlib.suppress(OSError), open(f"/proc/{pid}/stat") as fh:
        return fh.read().rsplit(")", 1)[1].split()
    return []


def _ticks(fields: list[str], *at: int) -> float:
    """The clock-tick fields at these places, summed, in seconds (0 when there are none)."""
    return sum(int(fields[i]) for i in at) / os.sysconf("SC_CLK_TCK") if fields else 0.0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (0 when it is gone)."""
    return _ticks(_stat(pid), 11, 12)


def tree_cpu_seconds(pid: int) -> float:
    """CPU time of a process and every process under it, those running and those ended (a
    database's connection processes come and go)."""
    ended = _ticks(_stat(pid), 13, 14)  # the children it waited for
    return ended + sum(cpu_seconds(p) for p in [pid, *descendants(pid)])


def descendants(pid: int) -> list[int]:
    """Every process under `pid` now: its children, theirs, and so on."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (fields := _stat(int(entry))):
            children.setdefault(int(fields[1]), []).append(int(entry))
    found: list[int] = []
    todo = [pid]
    while todo:
        below = children.get(todo.pop(), [])
        found += below
        todo += below
    return found


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of all CPUs so far: broker, database, workers and the bench."""
    with open("/proc/stat") as fh:
        fields = [int(x) for x in fh.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return float(sum(fields) - idle), float(sum(fields))
