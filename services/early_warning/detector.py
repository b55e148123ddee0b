"""The detector: counts, places and texts on event time, and the episodes they open (pure).

All state lives in one mapping of plain JSON values (a changelog-backed table in the running
worker, a dict in tests) and every change is a whole-value assignment, so the changelog holds
it. Windows close when the watermark — the latest event time seen less the allowed lateness —
passes their end, so replaying history closes them as they closed at the time.
"""

from __future__ import annotations

import heapq
import zlib
from collections.abc import MutableMapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
from scipy import stats

from schemas.alerts import Alert, AlertKind, AlertStatus
from services.early_warning import signals, spikes, themes
from services.early_warning.signals import Signal

MAX_SAMPLES = 20
MAX_CUSTOMERS = 200
"""Distinct customers remembered per slice window (the count says `≥` past it)."""
MAX_TEXTS_PER_WINDOW = 400
MAX_PLACE_ENTRIES = 200
PLACE_BUCKETS = 32
"""The places named on a day are listed in this many keys (each rewritten as one value)."""
DAY = 86_400
PEER_SHAPE = 4.0
"""Gamma shape of a peer place's rate about its count so far (a spread of half its rate)."""
THEME_LOOKBACK = 3
"""Theme windows a new theme is compared with (was it said before, and how often)."""
DEDUP_RING = 5000
"""The last this many complaint ids are remembered: one sent twice is counted once."""


@dataclass(frozen=True)
class Rules:
    spike: spikes.SpikeRules = field(default_factory=spikes.SpikeRules)
    lateness_seconds: int = 600
    """How late (event time) a complaint may arrive and still count in its window."""
    warmup_windows: int = 24
    """Windows of history before any spike is judged (the detector learns the daily rhythm
    first; shorter judges early days against the EARS C2 moving baseline)."""
    collective_seconds: int = 72 * 3600
    collective_customers: int = 3
    collective_ratio: float = 3.0
    """A place's customers in the window must be at least this many times what is usual."""
    collective_alpha: float = 1e-6
    """Upper-tail probability below which a place's customers are more than usual."""
    collective_floor: float = 0.01
    """Customers a window is taken to hold at a place never named (added to a place's
    history once, and the least rate of a place named so far)."""
    place_days: int = 28
    """Days of each place's history (distinct customers a day) its baseline reads."""
    place_history_days: int = 14
    """Days the detector watches before a place is judged against its own history (a
    quiet place's rate is not known from fewer); until then, against the other places."""
    theme_windows: int = 24
    theme_threshold: float = 0.18
    theme_customers: int = 5
    theme_growth: float = 3.0
    """A new theme has at least this many times the customers it had the day before."""
    sources: int = 1
    """Source partitions complaints come from (each holds the watermark back)."""
    idle_signals: int = 500
    """A source partition that sent nothing while others sent this many no longer holds the
    watermark back."""


@dataclass
class Outcome:
    """What one step of the detector produced (alerts in order) and what it saw."""

    alerts: list[Alert] = field(default_factory=list)
    late: int = 0
    duplicates: int = 0


def _iso(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def _grown(published: int) -> int:
    """Customers at which an open episode is published again: half as many more (3, 5, 8,
    12 …), so a growing crowd makes a few updates, not one per complaint."""
    return max(published + 1, -(-published * 3 // 2))


def _distinct(values: list[str]) -> int:
    return len(set(values))


class Detector:
    def __init__(self, state: MutableMapping[str, Any], rules: Rules) -> None:
        self.state = state
        self.rules = rules
        self.w = rules.spike.window_seconds
        self._heap: list[tuple[float, str]] | None = None

    # -- the state's small helpers ---------------------------------------------------------
    def _meta(self) -> dict[str, Any]:
        found: dict[str, Any] | None = self.state.get("meta")
        return dict(found) if found else {}

    def _open(self) -> list[str]:
        return list(self.state.get("open") or [])

    def _set_open(self, keys: list[str]) -> None:
        self.state["open"] = keys

    # -- stepping ----------------------------------------------------------------------------
    def observe(self, s: Signal) -> Outcome:
        """Take one complaint. Complaints come from several source partitions, each in its
        own order: they wait in a buffer until every active partition has passed their event
        time (less the lateness), and are then taken in event-time order — counted, looked at
        for their place, and the windows the watermark passed closed — as a replay of one
        sorted history would take them."""
        out = Outcome()
        if self.state.get(f"d|{s.complaint_id}"):
            out.duplicates += 1  # sent again after a crash upstream: counted once
            return out
        meta = self._meta()
        meta["seq"] = seq = meta.get("seq", 0) + 1
        slot = f"r|{seq % DEDUP_RING}"
        if self.state.get(slot):
            self.state.pop(f"d|{self.state[slot]}", None)
        self.state[slot], self.state[f"d|{s.complaint_id}"] = s.complaint_id, 1
        parts: dict[str, list[float]] = dict(meta.get("parts") or {})
        seen = parts.get(str(s.part), [s.occurred_at, seq])
        parts[str(s.part)] = [max(seen[0], s.occurred_at), seq]
        meta["parts"] = parts
        self.state["meta"] = meta
        active = [t for t, last in parts.values() if seq - last <= self.rules.idle_signals]
        mark = min(active) - self.rules.lateness_seconds
        if len(parts) < self.rules.sources and seq <= self.rules.idle_signals:
            mark = float("-inf")  # a partition not heard from yet may hold older complaints
        if s.occurred_at - self.rules.lateness_seconds <= meta.get("mark", float("-inf")):
            self._step(s, out)  # behind the watermark already: no use waiting
        else:
            self._hold(s)
        self._release(mark, out)
        return out

    def advance(self, mark: float) -> Outcome:
        """Release and close what ended by `mark` (event time) when no complaint moves the
        watermark: the live worker's clock, never a replay's."""
        out = Outcome()
        if self._meta():
            self._release(mark, out)
        return out

    def _hold(self, s: Signal) -> None:
        key = f"q|{s.occurred_at:020.6f}|{s.complaint_id}"
        self.state[key] = s.as_json()
        heapq.heappush(self._buffer(), (s.occurred_at, key))

    def _buffer(self) -> list[tuple[float, str]]:
        if self._heap is None:  # after a restart: from the recovered table
            self._heap = [(float(k.split("|")[1]), k) for k in self.state if k.startswith("q|")]
            heapq.heapify(self._heap)
        return self._heap

    def _release(self, mark: float, out: Outcome) -> None:
        buffer = self._buffer()
        while buffer and buffer[0][0] - self.rules.lateness_seconds <= mark:
            _, key = heapq.heappop(buffer)
            doc = self.state.pop(key, None)
            if doc is not None:
                self._step(Signal.from_json(doc), out)
        meta = self._meta()
        if mark > meta.get("mark", float("-inf")):
            meta["mark"] = mark
            self.state["meta"] = meta
        if "closed" in meta:
            self._close_until(mark, out)

    def _step(self, s: Signal, out: Outcome) -> None:
        meta = self._meta()
        idx = spikes.window_index(s.occurred_at, self.rules.spike)
        if "closed" not in meta:
            meta.update(first=idx, closed=idx)
        if "places_from" not in meta:  # also a state kept before places had a history
            meta["places_from"] = idx
            self.state["meta"] = meta
        if idx >= meta["closed"]:
            self._count(s, idx)
        else:
            out.late += 1
        self._collective(s, out)
        self._close_until(s.occurred_at - self.rules.lateness_seconds, out)

    def _count(self, s: Signal, idx: int) -> None:
        seen_key = f"w|{idx}"
        seen = list(self.state.get(seen_key) or [])
        for sl in signals.slices(s):
            name = signals.slice_name(sl)
            key = f"n|{name}|{idx}"
            cell = dict(self.state.get(key) or {"n": 0, "ids": [], "cust": []})
            cell["n"] += 1
            if len(cell["ids"]) < MAX_SAMPLES:
                cell["ids"] = [*cell["ids"], s.complaint_id]
            if len(cell["cust"]) < MAX_CUSTOMERS and s.customer not in cell["cust"]:
                cell["cust"] = [*cell["cust"], s.customer]
            self.state[key] = cell
            if name not in seen:
                seen.append(name)
        self.state[seen_key] = seen
        if not s.explained:
            key = f"t|{idx}"
            texts = list(self.state.get(key) or [])
            if len(texts) < MAX_TEXTS_PER_WINDOW:
                self.state[key] = [*texts, [s.complaint_id, s.customer, s.text]]
        else:
            key = f"b|{idx}"
            texts = list(self.state.get(key) or [])
            if len(texts) < 50:
                self.state[key] = [*texts, s.text]

    def _close_until(self, watermark: float, out: Outcome) -> None:
        meta = self._meta()
        target = spikes.window_index(watermark, self.rules.spike)
        while meta["closed"] < target:
            idx = meta["closed"]
            self._close_window(idx, meta["first"], out)
            meta["closed"] = idx + 1
            self.state["meta"] = meta

    def _close_window(self, idx: int, first: int, out: Outcome) -> None:
        end = (idx + 1) * self.w
        self._judge_spikes(idx, first, out)
        self._judge_themes(idx, out)
        self._close_quiet(end, out)
        self._prune(idx)

    # -- spikes ------------------------------------------------------------------------------
    def _judge_spikes(self, idx: int, first: int, out: Outcome) -> None:
        rules = self.rules.spike
        history = idx - first
        if history < self.rules.warmup_windows:
            return
        names = set(self.state.get(f"w|{idx}") or [])
        names |= {self.state[k]["slice_name"] for k in self._open() if k.startswith("spike:")}

        def count_at(j: int) -> int:
            cell = self.state.get(f"n|{name}|{j}")
            return int(cell["n"]) if cell else 0

        for name in sorted(names):
            base = spikes.baseline(count_at, idx, history, rules)
            if base is None:
                continue
            cell = self.state.get(f"n|{name}|{idx}") or {"n": 0, "ids": [], "cust": []}
            verdict = spikes.judge(int(cell["n"]), base, rules)
            self._spike_episode(name, idx, cell, verdict, out)

    def _spike_episode(
        self, name: str, idx: int, cell: dict[str, Any], v: spikes.Verdict, out: Outcome
    ) -> None:
        open_key = f"o|{name}"
        key: str | None = self.state.get(open_key)
        start, end = idx * self.w, (idx + 1) * self.w
        if not v.significant:
            if key:
                self._close(key, end, out)
                del self.state[open_key]
            return
        sl = signals.slice_of(name)
        category = sl.get("category", "*")
        where = signals.describe(sl)
        ep = dict(self.state[key]) if key else None
        if ep is None:
            key = f"spike:{where}:{_iso(start).strftime('%Y-%m-%dT%H:%M')}"
            ep = {
                "kind": AlertKind.SPIKE.value,
                "category": category,
                "slice": sl,
                "slice_name": name,
                "since": start,
                "start": start,
                "count": 0,
                "baseline": 0.0,
                "ids": [],
                "cust": 0,
                "terms": [],
                "rev": 0,
            }
            self.state[open_key] = key
        ep["count"] += v.count
        ep["baseline"] = round(ep["baseline"] + v.baseline.expected, 3)
        ep["p"] = v.p_value
        ep["cust"] = max(ep["cust"], _distinct(cell["cust"]))
        ep["ids"] = (ep["ids"] + [i for i in cell["ids"] if i not in ep["ids"]])[:MAX_SAMPLES]
        ep["score"] = round(v.ratio, 2)
        ep["end"], ep["last"] = end, end
        ep["summary"] = (
            f"Spike of {where}: {v.count} complaints in the hour from "
            f"{_iso(start):%Y-%m-%d %H:%M} UTC against {v.baseline.expected:.1f} expected "
            f"({v.baseline.method} baseline, p={v.p_value:.1e}); {ep['count']} since "
            f"{_iso(ep['since']):%Y-%m-%d %H:%M} UTC"
        )
        assert key is not None
        self._publish(key, ep, detected_at=end, out=out)

    # -- collective complaints at one place --------------------------------------------------
    def _collective(self, s: Signal, out: Outcome) -> None:
        if not s.place:
            return
        if s.occurred_at <= self._meta().get("mark", float("-inf")) - self.rules.collective_seconds:
            return  # older than any window a place is judged over
        pk = signals.place_key(s.place)
        key = f"p|{pk}"
        horizon = s.occurred_at - self.rules.collective_seconds
        kept = [e for e in self.state.get(key) or [] if e[0] > horizon]
        if any(e[2] == s.complaint_id for e in kept):
            return
        day = int(s.occurred_at // DAY)
        if not any(e[1] == s.customer and int(e[0] // DAY) == day for e in kept):
            self._count_place(pk, s.occurred_at)
        entry = [s.occurred_at, s.customer, s.complaint_id, s.category, s.text]
        kept = sorted([*kept, entry])[-MAX_PLACE_ENTRIES:]
        self.state[key] = kept
        entries = [e for e in kept if e[0] > horizon]
        customers = {e[1] for e in entries}
        open_key = f"o|place|{pk}"
        alert_key: str | None = self.state.get(open_key)
        ep = dict(self.state[alert_key]) if alert_key else None
        alpha = self.rules.collective_alpha
        if ep is None:
            if len(customers) < self.rules.collective_customers:
                return
            usual, p, more = self._usual(pk, s.occurred_at, len(customers))
            if not more:
                return  # as many as this place (or, without its history, a place) sees
        elif alert_key and self._usual(pk, s.occurred_at, len(customers), screen=False)[1] >= alpha:
            self.state.pop(open_key, None)  # no longer improbable where it is: subsided
            self._close(alert_key, s.occurred_at, out)
            return
        elif alert_key and len(customers) < _grown(ep["cust"]):
            ep["last"] = max(ep["last"], s.occurred_at)
            self.state[alert_key] = ep
            return
        if ep is None:
            alert_key = f"collective:place={pk}:{_iso(entries[0][0]).strftime('%Y-%m-%dT%H:%M')}"
            ep = {
                "kind": AlertKind.COLLECTIVE.value,
                "category": "*",
                "slice": {"place": s.place},
                "since": entries[0][0],
                "start": entries[0][0],
                "rev": 0,
                "baseline": round(usual, 3),
                "p": p,
            }
            self.state[open_key] = alert_key
        categories = sorted({e[3] for e in entries})
        ep.update(
            count=len(entries),
            cust=len(customers),
            ids=[e[2] for e in entries][:MAX_SAMPLES],
            end=s.occurred_at,
            last=s.occurred_at,
            score=round(len(customers) / max(ep["baseline"], self.rules.collective_floor), 2),
            terms=themes.terms_of_each([e[4] for e in entries]),
            categories=categories,
        )
        ep["summary"] = (
            f"{len(customers)} customers complained about {s.place} since "
            f"{_iso(ep['since']):%Y-%m-%d %H:%M} UTC against {ep['baseline']:.2g} usual "
            f"({len(entries)} complaints; categories: {', '.join(categories)})"
        )
        assert alert_key is not None
        self._publish(alert_key, ep, detected_at=s.occurred_at, out=out)

    def _count_place(self, pk: str, at: float) -> None:
        """One more distinct customer at the place on the day of `at`: its history (customers
        a day), the day's index of places named, and — while the places have less history
        than `place_history_days` — how many places had how many customers so far."""
        day = int(at // DAY)
        hk = f"ph|{pk}"
        history = {int(d): n for d, n in self.state.get(hk) or []}
        if not history or max(history) < day:  # listed under each newest day: pruning
            bucket = f"pi|{day}|{zlib.crc32(pk.encode()) % PLACE_BUCKETS}"  # finds it stale
            self.state[bucket] = [*(self.state.get(bucket) or []), pk]
        so_far = sum(history.values())
        history[day] = history.get(day, 0) + 1
        keep = day - self.rules.place_days - self._window_days() - 1
        self.state[hk] = sorted([d, n] for d, n in history.items() if d >= keep)
        if self._history_days(at) < self.rules.place_history_days:
            counts = dict(self.state.get("pop") or {})  # places by customers so far
            if so_far:
                counts[str(so_far)] -= 1
            counts[str(so_far + 1)] = counts.get(str(so_far + 1), 0) + 1
            self.state["pop"] = {c: n for c, n in counts.items() if n}

    def _window_days(self) -> int:
        return max(1, -(-self.rules.collective_seconds // DAY))

    def _first_day(self) -> int:
        """The first whole day of the places' history."""
        return -(-(self._meta()["places_from"] * self.w) // DAY)

    def _history_days(self, at: float) -> int:
        """Whole days the detector watched before the collective window ending at `at`."""
        return int((at - self.rules.collective_seconds) // DAY) - self._first_day()

    def _usual(
        self, pk: str, at: float, customers: int, *, screen: bool = True
    ) -> tuple[float, float, bool]:
        """What a window usually holds at this place (expected customers), how probable as
        many as `customers` are (upper tail), and whether that is more than usual: at least
        `collective_ratio` times as many, and improbable (`screen`: the tail is not worked
        out, p is 1, when the ratio already says no).

        Once the detector has watched `place_history_days` before the window, from the
        place's own customers a day (none if it was never named: a quiet place): the higher
        of the same days of the week over past weeks and any run of as many days, a negative
        binomial with their spread. Before that a busy place cannot be told from a crowd by
        its own count: it is judged against the other places' customers so far, as a rate
        per window — at least `collective_ratio` times the median place's, and improbable
        for a place like one of them (a negative binomial at its rate: a rate read off a few
        days is uncertain), averaged over them."""
        floor, ratio = self.rules.collective_floor, self.rules.collective_ratio
        days = min(self._history_days(at), self.rules.place_days)
        if days >= self.rules.place_history_days:
            mean, variance = self._own_baseline(pk, at, days)
            above = customers >= ratio * mean
            if screen and not above:
                return mean, 1.0, False
            p = spikes.upper_tail(customers, mean, variance)
            return mean, p, above and p < self.rules.collective_alpha
        counts = {int(c): n for c, n in (self.state.get("pop") or {}).items()}
        own = sum(n for _, n in self.state.get(f"ph|{pk}") or [])
        if own:
            counts[own] -= 1
        others = sum(counts.values())
        if not others:
            p = spikes.upper_tail(customers, floor, floor)
            return floor, p, p < self.rules.collective_alpha
        watched = at - self._meta()["places_from"] * self.w
        scale = min(1.0, self.rules.collective_seconds / max(watched, 1.0))
        sizes = sorted(c for c in counts if counts[c])
        seen, median = 0, sizes[-1]
        for c in sizes:
            seen += counts[c]
            if 2 * seen >= others:
                median = c
                break
        above = customers >= ratio * max(median * scale, floor)
        if screen and not above:
            return max(median * scale, floor), 1.0, False
        weights = np.array([counts[c] for c in sizes], dtype=float)
        rates = np.maximum(np.array(sizes, dtype=float) * scale, floor)
        tails = stats.nbinom.sf(customers - 1, PEER_SHAPE, PEER_SHAPE / (PEER_SHAPE + rates))
        p = float(weights @ tails / others)
        expected = float(weights @ rates / others)
        return expected, p, above and p < self.rules.collective_alpha

    def _own_baseline(self, pk: str, at: float, days: int) -> tuple[float, float]:
        """Mean and variance of the place's customers in a window, from `days` of history."""
        end = int((at - self.rules.collective_seconds) // DAY)
        history = {int(d): n for d, n in self.state.get(f"ph|{pk}") or []}
        k = self._window_days()

        def block(first: int) -> int:
            return sum(history.get(d, 0) for d in range(first, first + k))

        weeks = range(1, min(4, (days + 1) // 7) + 1)
        seasonal = [block(end + 1 - 7 * w) for w in weeks]
        runs = [block(end - k * (i + 1)) for i in range(days // k)]
        best = (0.0, 0.0)
        for blocks in (seasonal, runs):
            m = len(blocks)
            mean = (sum(blocks) + self.rules.collective_floor) / m
            spread = sum((x - mean) ** 2 for x in blocks) / (m - 1) if m > 1 else 0.0
            # a mean estimated from m blocks: the predictive spreads by (1 + 1/m); a place
            # never named is a Poisson at the floor
            variance = max(spread, mean) * (1 + 1 / m) if sum(blocks) else mean
            best = max(best, (mean, variance))
        return best

    def _prune_places(self, idx: int) -> None:
        """Forget places named last before the days any baseline reads."""
        if self._history_days(idx * self.w) >= self.rules.place_history_days:
            self.state.pop("pop", None)  # past the detector's first window: no longer read
        old = (idx * self.w) // DAY - self.rules.place_days - self._window_days() - 2
        if old < self._first_day():
            return
        for b in range(PLACE_BUCKETS):
            for pk in self.state.pop(f"pi|{old}|{b}", None) or []:
                history = self.state.get(f"ph|{pk}") or []
                if not history or history[-1][0] <= old:
                    self.state.pop(f"ph|{pk}", None)
                    self.state.pop(f"p|{pk}", None)

    # -- emerging themes ---------------------------------------------------------------------
    def _judge_themes(self, idx: int, out: Outcome) -> None:
        tw = self.rules.theme_windows
        back = THEME_LOOKBACK * tw
        if idx - self._meta()["first"] < back + tw - 1:
            return  # no whole look-back yet: what is said every day would look new
        span = range(idx - back - tw + 1, idx + 1)
        rows: list[tuple[str, str, str, int]] = [
            (cid, cust, text, j) for j in span for cid, cust, text in self.state.get(f"t|{j}") or []
        ]
        if len(rows) < self.rules.theme_customers:
            return
        since = idx - tw + 1
        background = [t for j in span[back:] for t in self.state.get(f"b|{j}") or []]
        open_themes = {k: self.state[k] for k in self._open() if k.startswith("emerging_issue:")}
        for linked in themes.groups([r[2] for r in rows], threshold=self.rules.theme_threshold):
            before = {rows[i][1] for i in linked if rows[i][3] < since}
            if len(before) >= THEME_LOOKBACK * self.rules.theme_customers:
                continue  # said as often in the theme windows before: not new
            members = [i for i in linked if rows[i][3] >= since]
            group = [rows[i] for i in members]
            customers = {r[1] for r in group}
            fresh = [r for r in group if r[3] == idx]
            if len(customers) < self.rules.theme_customers or not fresh:
                continue
            ids = [r[0] for r in group]
            key = next((k for k, ep in open_themes.items() if set(ep["members"]) & set(ids)), None)
            ep = dict(open_themes[key]) if key else None
            if ep is not None and len(customers) <= ep["cust"]:
                continue
            if (
                ep is None
                and len(customers) < self.rules.theme_growth * len(before) / THEME_LOOKBACK
            ):
                continue  # said before too, and not that much more often now
            others = [r[2] for i, r in enumerate(rows) if i not in set(members)] + background
            terms = themes.top_terms([r[2] for r in group], others)
            start = min(r[3] for r in group) * self.w
            if ep is None:
                key = (
                    f"emerging_issue:{'+'.join(terms[:3])}:{_iso(start).strftime('%Y-%m-%dT%H:%M')}"
                )
                ep = {
                    "kind": AlertKind.EMERGING_ISSUE.value,
                    "category": "*",
                    "since": start,
                    "start": start,
                    "rev": 0,
                    "members": [],
                    "growth": len(customers),
                }
            assert key is not None
            end = (idx + 1) * self.w
            ep.update(
                slice={"theme": " ".join(terms[:3])},
                count=len(group),
                cust=len(customers),
                ids=ids[:MAX_SAMPLES],
                members=sorted(set(ep["members"]) | set(ids))[-500:],
                end=end,
                last=end,
                terms=terms,
                score=float(len(fresh)),
            )
            ep["summary"] = (
                f"New theme in complaints no category explains: {', '.join(terms)} — "
                f"{len(group)} complaints from {len(customers)} customers since "
                f"{_iso(ep['since']):%Y-%m-%d %H:%M} UTC, {len(fresh)} in the last window"
            )
            open_themes[key] = ep
            self._publish(key, ep, detected_at=end, out=out)

    # -- episodes ----------------------------------------------------------------------------
    def _close_quiet(self, end: float, out: Outcome) -> None:
        """Close collective and theme episodes that saw nothing new for their window."""
        for key in self._open():
            ep = self.state[key]
            if ep["kind"] == AlertKind.COLLECTIVE.value:
                quiet = ep["last"] + self.rules.collective_seconds <= end
                if quiet:
                    place = signals.place_key(ep["slice"]["place"])
                    self.state.pop(f"o|place|{place}", None)
            elif ep["kind"] == AlertKind.EMERGING_ISSUE.value:
                quiet = ep["last"] + self.rules.theme_windows * self.w <= end
            else:
                continue
            if quiet:
                self._close(key, end, out)

    def _close(self, key: str, end: float, out: Outcome) -> None:
        ep = dict(self.state[key])
        ep["summary"] = f"Subsided: {ep['summary']}"
        self._publish(key, ep, detected_at=end, out=out, status=AlertStatus.CLOSED)

    def _publish(
        self,
        key: str,
        ep: dict[str, Any],
        *,
        detected_at: float,
        out: Outcome,
        status: AlertStatus | None = None,
    ) -> None:
        ep["rev"] += 1
        if status is None:
            status = AlertStatus.OPEN if ep["rev"] == 1 else AlertStatus.UPDATED
        keys = self._open()
        if status is AlertStatus.CLOSED:
            self._set_open([k for k in keys if k != key])
            self.state.pop(key, None)
        else:
            if key not in keys:
                self._set_open([*keys, key])
            self.state[key] = ep
        out.alerts.append(
            Alert(
                alert_key=key,
                kind=AlertKind(ep["kind"]),
                status=status,
                revision=ep["rev"],
                category=ep["category"],
                slice=ep["slice"],
                summary=ep["summary"][:500],
                since=_iso(ep["since"]),
                window_start=_iso(ep["start"]),
                window_end=_iso(ep["end"]),
                detected_at=_iso(detected_at),
                count=ep["count"],
                baseline=ep.get("baseline"),
                p_value=ep.get("p"),
                distinct_customers=ep["cust"],
                top_terms=ep["terms"],
                complaint_ids=ep["ids"][:MAX_SAMPLES],
                score=ep["score"],
            )
        )

    def _prune(self, idx: int) -> None:
        """Forget what no baseline, place or theme reads any more."""
        old = idx - self.rules.spike.keep_windows
        for name in self.state.pop(f"w|{old}", None) or []:
            self.state.pop(f"n|{name}|{old}", None)
        self.state.pop(f"t|{idx - (THEME_LOOKBACK + 1) * self.rules.theme_windows}", None)
        gone = idx - self.rules.theme_windows
        self.state.pop(f"b|{gone}", None)
        self._prune_places(idx)
