"""The simulated agents: what happens to a complaint after it arrives, and when.

Pure: a plan is drawn from a seeded generator and the complaint's priority. Offsets are in
the SLA policies' own time (hours, days); the feed shrinks them by the demo's SLA scale, as
the SLA timer shrinks the targets, so the agents stay on time (or late) in the same measure.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta

DEMO_SLA_SCALE = 45 / (72 * 3600)
"""`make run` shrinks SLA targets so a P3 complaint breaches after ~45 s instead of 72 h."""

H = timedelta(hours=1)
D = timedelta(days=1)


@dataclass(frozen=True)
class Targets:
    acknowledge: timedelta
    keep_informed: timedelta
    resolve: timedelta


TARGETS = {
    "P1": Targets(H / 4, H, 4 * H),
    "P2": Targets(H, 4 * H, D),
    "P3": Targets(4 * H, D, 3 * D),
    "P4": Targets(D, 2 * D, 5 * D),
}
"""The standard policies of `services/sla_timer/config/policies.yaml`, as agents know them."""
FOLLOW_UP = 3 * D
"""Satisfaction follow-up after the resolution (policies' `follow_up`)."""

LATE_ACK = 0.03
LATE_RESOLVE = 0.06
CALLBACK = 0.06
CALLBACK_MISSED = 0.15
WAITING = 0.10
COMPENSATION = 0.05
REOPEN = 0.03
NO_SURVEY = 0.04
CLOSE = 0.5


@dataclass(frozen=True)
class Step:
    """One thing that happens `after` the complaint arrived (in unscaled policy time)."""

    after: timedelta
    kind: str
    """A status (acknowledged, assigned, in_progress, waiting_on_customer, resolved,
    reopened, closed), or contact, callback, compensation, survey."""
    due: timedelta | None = None
    """callback: the promised time, also counted from the complaint's arrival."""
    score: int | None = None
    """survey: 1–5."""


def raised(priority: str) -> str:
    """One priority more urgent (what routing does to a reopened complaint), never past P1."""
    return f"P{max(1, int(priority[1]) - 1)}"


def plan(rng: random.Random, priority: str) -> list[Step]:
    """The life of one complaint of `priority`, in time order: mostly within its targets,
    a few acknowledged or resolved late, some callbacks (a few missed), some waits on the
    customer, a few reopened; a survey after most resolutions."""
    t = TARGETS[priority]
    late_ack = rng.random() < LATE_ACK
    late_resolve = rng.random() < LATE_RESOLVE
    # Early in the target: at the demo's scale a P2 has 0.6 s, some of it the pipeline's own.
    ack = t.acknowledge * (rng.uniform(1.1, 1.6) if late_ack else rng.uniform(0.05, 0.3))
    steps = [Step(ack, "acknowledged")]
    at = ack + t.acknowledge * rng.uniform(0.05, 0.25)
    steps.append(Step(at, "assigned"))
    at += t.acknowledge * rng.uniform(0.05, 0.25)
    steps.append(Step(at, "in_progress"))
    share = rng.uniform(1.05, 1.5) if late_resolve else rng.uniform(0.15, 0.55)
    resolve = max(t.resolve * share, at + t.keep_informed * 0.1)
    at = _work(rng, steps, at, resolve, t)
    steps.append(Step(max(at, resolve), "resolved"))
    late = late_ack or late_resolve
    if rng.random() < REOPEN:
        again = raised(priority)
        at = steps[-1].after + t.resolve * rng.uniform(0.05, 0.15)
        steps.append(Step(at, "reopened"))
        at += TARGETS[again].acknowledge * rng.uniform(0.1, 0.4)
        steps.append(Step(at, "in_progress"))
        at += TARGETS[again].resolve * rng.uniform(0.2, 0.5)
        steps.append(Step(at, "resolved"))
        late = True
    if rng.random() >= NO_SURVEY:
        at = steps[-1].after + FOLLOW_UP * rng.uniform(0.05, 0.4)
        steps.append(Step(at, "survey", score=_score(rng, unhappy=late)))
        if rng.random() < CLOSE:
            steps.append(Step(at + FOLLOW_UP * rng.uniform(0.01, 0.1), "closed"))
    return steps


def _work(
    rng: random.Random, steps: list[Step], at: timedelta, resolve: timedelta, t: Targets
) -> timedelta:
    """Updates while the complaint is worked on, often enough to keep the customer informed,
    until `resolve`; returns the time of the last one."""
    while True:
        gap = t.keep_informed * rng.uniform(0.25, 0.5)
        if at + gap >= resolve:
            return at
        at += gap
        roll = rng.random()
        if roll < CALLBACK:
            due = at + t.keep_informed * rng.uniform(0.3, 0.5)
            steps.append(Step(at, "callback", due=due))
            if rng.random() < CALLBACK_MISSED:  # nobody calls back until after the promise
                at = due + t.keep_informed * rng.uniform(0.05, 0.2)
            else:
                at += (due - at) * rng.uniform(0.1, 0.4)
            steps.append(Step(at, "in_progress"))
        elif roll < CALLBACK + WAITING:
            steps.append(Step(at, "waiting_on_customer"))
            at += t.keep_informed * rng.uniform(0.1, 0.3)
            steps.append(Step(at, "contact"))
            at += t.keep_informed * rng.uniform(0.02, 0.1)
            steps.append(Step(at, "in_progress"))
        elif roll < CALLBACK + WAITING + COMPENSATION:
            steps.append(Step(at, "compensation"))
        else:
            steps.append(Step(at, "in_progress"))


def _score(rng: random.Random, *, unhappy: bool) -> int:
    weights = (25, 25, 25, 15, 10) if unhappy else (3, 4, 10, 35, 48)
    return rng.choices((1, 2, 3, 4, 5), weights)[0]
