"""The archive's tables: every event once in the history, and how each changes a complaint's
current state — one statement per table for a whole poll."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from schemas.lifecycle import LifecycleEvent
from schemas.registered import RegisteredComplaint
from schemas.routed import RoutedComplaint
from schemas.sla import SlaEvent
from services.analytics.fold import Archived, Patch, fold
from services.kernel.db import JsonRows

OPEN = "('registered','acknowledged','assigned','in_progress','waiting_on_customer','reopened')"
LATE = "((t.met_at IS NOT NULL AND t.met_at > t.deadline) OR (t.met_at IS NULL AND t.breached))"
"""An SLA target missed on event time: met (by the complaint's own event times) after its
deadline, or breached and not met since. An import processed long after it happened is
judged by when things happened, not by when the SLA clock saw them."""
ON_TIME = "(t.met_at IS NOT NULL AND t.met_at <= t.deadline)"
MET_AT = "CASE t.target WHEN 'acknowledge' THEN m.acknowledged_at ELSE m.resolved_at END"
"""When a target was met, in event time: the first acknowledging status, the resolution (of
the complaint's row `m`, for the targets 'acknowledge' and 'resolve')."""


def kind_of(model: Archived) -> tuple[str, datetime]:
    """A short name of what happened and when, for the timeline."""
    if isinstance(model, RegisteredComplaint):
        return "registered", model.occurred_at
    if isinstance(model, LifecycleEvent):
        detail = model.status.value if model.status else model.kind.value
        return f"{model.kind.value}:{detail}" if model.status else detail, model.occurred_at
    if isinstance(model, RoutedComplaint):
        return f"routed:v{model.version}", model.routed_at
    if isinstance(model, SlaEvent):
        return f"sla:{model.kind.value}:{model.target.value}", model.emitted_at
    return f"notification:{model.kind}:{model.outcome.value}", model.at


def record(
    conn: psycopg.Connection, events: Sequence[tuple[str, str, Archived]], now: datetime
) -> int:
    """Append a batch of (ce_id, topic, model) to the history, each `ce_id` once, and fold
    the new ones into the complaints' current state: one statement per table. Returns how
    many were new (a replayed event is recorded and applied once)."""
    if not events:
        return 0
    kinds = [kind_of(model) for _, _, model in events]
    fresh = _insert_events(conn, events, kinds, now)
    new: list[Archived] = []
    for ce_id, _, model in events:
        if ce_id in fresh:
            fresh.discard(ce_id)  # a second copy in the same batch is a replay too
            new.append(model)
    apply(conn, fold(new), now)
    return len(new)


_EVENTS = JsonRows(
    "e", "ce_id text, complaint_id text, topic text, kind text, at timestamptz, payload jsonb"
)


def _insert_events(
    conn: psycopg.Connection,
    events: Sequence[tuple[str, str, Archived]],
    kinds: list[tuple[str, datetime]],
    now: datetime,
) -> set[str]:
    rows = conn.execute(
        "INSERT INTO analytics.events (ce_id, complaint_id, topic, kind, at, recorded_at,"
        " payload) SELECT e.ce_id, e.complaint_id, e.topic, e.kind, e.at, %s, e.payload"
        f" FROM {_EVENTS} ON CONFLICT DO NOTHING RETURNING ce_id",
        (
            now,
            _EVENTS.param(
                (
                    ce_id,
                    model.complaint_id,
                    topic,
                    kind,
                    at,
                    model.model_dump(mode="json", exclude_none=True),
                )
                for (ce_id, topic, model), (kind, at) in zip(events, kinds, strict=True)
            ),
        ),
    ).fetchall()
    return {row[0] for row in rows}


_PATCHES = JsonRows(
    "p",
    "complaint_id text, reference text, source text, external_ref text, category text,"
    " channel text, language text, repeat_count int, occurred_at timestamptz,"
    " registered_at timestamptz, route_version int, route_category text, department text,"
    " queue text, owner text, priority text, sensitive boolean, status text,"
    " resolved_reset boolean, resolved_at timestamptz, csat int, sla_deadline timestamptz,"
    " breached boolean, escalation_level int, notifications int, customer_token text,"
    " region text, product text, sub_category text, route_sub_category text, reopens int,"
    " root_cause text, corrective_action text, preventive_action text, compensation numeric,"
    " compensation_currency text, csat_comment text, place text, acknowledged_at timestamptz",
)


def _patch_row(p: Patch) -> tuple[object, ...]:
    """A patch as a row of `_PATCHES`: what registration and routing say of the complaint,
    None where the batch had neither (route version 0 and not sensitive: never applied)."""
    r, rt = p.registered, p.routed
    return (
        p.complaint_id,
        r.reference if r else None,
        r.source if r else None,
        r.external_ref if r else None,
        r.category if r else None,
        r.channel.value if r else None,
        r.language.value if r else None,
        r.repeat_count if r else None,
        r.occurred_at if r else None,
        r.registered_at if r else None,
        rt.version if rt else 0,
        rt.category if rt else None,
        rt.department if rt else None,
        rt.queue if rt else None,
        rt.owner if rt else None,
        rt.priority.value if rt else None,
        rt.sensitive if rt else False,
        p.status,
        p.resolved_reset,
        p.resolved_at,
        p.csat,
        p.sla_deadline,
        p.breached,
        p.escalation_level,
        p.notifications,
        r.customer_token if r else None,
        r.region if r else None,
        r.product if r else None,
        r.sub_category if r else None,
        rt.sub_category if rt else None,
        p.reopens,
        p.root_cause,
        p.corrective_action,
        p.preventive_action,
        p.compensation,
        p.compensation_currency,
        p.csat_comment,
        r.place if r else None,
        p.acknowledged_at,
    )


_TARGETS = JsonRows(
    "u",
    "complaint_id text, target text, policy text, state text, deadline timestamptz,"
    " breached boolean, escalation_level int, elapsed_seconds float8, met_at timestamptz",
)


def apply(
    conn: psycopg.Connection, patches: Sequence[Patch], now: datetime, *, schema: str = "analytics"
) -> None:
    """Apply one batch's patches: the complaints' rows made where missing, then changed with
    one statement (each field as the patch says: replaced, raised, added, or left), then
    their SLA targets judged on event time. `schema` holds the archive's tables (the audit
    folds the topics into a scratch copy)."""
    if not patches:
        return
    ids = [p.complaint_id for p in patches]
    conn.execute(
        f"INSERT INTO {schema}.complaints (complaint_id, updated_at)"
        " SELECT id, %s FROM unnest(%s::text[]) AS id ON CONFLICT DO NOTHING",
        (now, ids),
    )
    cursor = conn.execute(
        f"UPDATE {schema}.complaints c SET"
        " reference = COALESCE(p.reference, c.reference),"
        " source = COALESCE(p.source, c.source),"
        " external_ref = COALESCE(p.external_ref, c.external_ref),"
        " category = CASE WHEN p.route_version > c.route_version THEN p.route_category"
        "  ELSE COALESCE(c.category, p.category) END,"
        " channel = COALESCE(p.channel, c.channel),"
        " language = COALESCE(p.language, c.language),"
        " repeat_count = COALESCE(p.repeat_count, c.repeat_count),"
        " occurred_at = COALESCE(p.occurred_at, c.occurred_at),"
        " registered_at = COALESCE(p.registered_at, c.registered_at),"
        " department = CASE WHEN p.route_version > c.route_version THEN p.department"
        "  ELSE c.department END,"
        " queue = CASE WHEN p.route_version > c.route_version THEN p.queue ELSE c.queue END,"
        " owner = CASE WHEN p.route_version > c.route_version THEN p.owner ELSE c.owner END,"
        " priority = CASE WHEN p.route_version > c.route_version THEN p.priority"
        "  ELSE c.priority END,"
        " sensitive = CASE WHEN p.route_version > c.route_version THEN p.sensitive"
        "  ELSE c.sensitive END,"
        " route_version = GREATEST(c.route_version, p.route_version),"
        " status = COALESCE(p.status, c.status),"
        " acknowledged_at = LEAST(c.acknowledged_at, p.acknowledged_at),"
        " resolved_at = CASE WHEN p.resolved_reset THEN p.resolved_at"
        "  ELSE COALESCE(c.resolved_at, p.resolved_at) END,"
        " csat = COALESCE(p.csat, c.csat),"
        " sla_deadline = COALESCE(p.sla_deadline, c.sla_deadline),"
        " sla_breached = c.sla_breached OR p.breached,"
        " escalation_level = GREATEST(c.escalation_level, p.escalation_level),"
        " notifications = c.notifications + p.notifications,"
        " customer_token = COALESCE(p.customer_token, c.customer_token),"
        " region = COALESCE(p.region, c.region),"
        " place = COALESCE(p.place, c.place),"
        " product = COALESCE(p.product, c.product),"
        " sub_category = CASE WHEN p.route_version > c.route_version THEN p.route_sub_category"
        "  ELSE COALESCE(c.sub_category, p.sub_category) END,"
        " reopen_count = c.reopen_count + p.reopens,"
        " root_cause = COALESCE(p.root_cause, c.root_cause),"
        " corrective_action = COALESCE(p.corrective_action, c.corrective_action),"
        " preventive_action = COALESCE(p.preventive_action, c.preventive_action),"
        " compensation_amount = c.compensation_amount + p.compensation,"
        " compensation_currency = COALESCE(p.compensation_currency, c.compensation_currency),"
        " csat_comment = COALESCE(p.csat_comment, c.csat_comment),"
        " updated_at = %s"
        f" FROM {_PATCHES} WHERE c.complaint_id = p.complaint_id"
        " RETURNING c.complaint_id, c.acknowledged_at, c.resolved_at",
        (now, _PATCHES.param(map(_patch_row, patches))),
    )
    met = cursor.fetchall()
    _name_categories(conn, [p.routed for p in patches if p.routed is not None], schema)
    targets = [(p.complaint_id, name, t) for p in patches for name, t in p.targets.items()]
    if targets:
        conn.execute(
            f"INSERT INTO {schema}.sla_targets AS t (complaint_id, target, policy, state,"
            " deadline, breached, escalation_level, elapsed_seconds, met_at, updated_at)"
            f" SELECT u.*, %s FROM {_TARGETS}"
            " ON CONFLICT (complaint_id, target) DO UPDATE SET policy = EXCLUDED.policy,"
            " state = EXCLUDED.state, deadline = EXCLUDED.deadline,"
            " breached = t.breached OR EXCLUDED.breached,"
            " escalation_level = GREATEST(t.escalation_level, EXCLUDED.escalation_level),"
            " elapsed_seconds = COALESCE(EXCLUDED.elapsed_seconds, t.elapsed_seconds),"
            " met_at = CASE WHEN t.target IN ('acknowledge', 'resolve') THEN t.met_at"
            " ELSE EXCLUDED.met_at END,"
            " updated_at = EXCLUDED.updated_at",
            (
                now,
                _TARGETS.param(
                    (
                        cid,
                        name,
                        t.policy,
                        t.state,
                        t.deadline,
                        t.breached,
                        t.escalation_level,
                        t.elapsed_seconds,
                        t.met_at,
                    )
                    for cid, name, t in targets
                ),
            ),
        )
    _judge(conn, met, schema)


def _name_categories(
    conn: psycopg.Connection, decisions: Sequence[RoutedComplaint], schema: str
) -> None:
    """Keep each category's display names as its latest routing decision that gave any
    said them (one small row per category: readers never scan the history for them)."""
    latest: dict[str, RoutedComplaint] = {}
    for r in decisions:
        if r.category_display and (
            r.category not in latest or r.routed_at >= latest[r.category].routed_at
        ):
            latest[r.category] = r
    if not latest:
        return
    conn.execute(
        f"INSERT INTO {schema}.category_names AS n (category, display, at)"
        " SELECT * FROM unnest(%s::text[], %s::jsonb[], %s::timestamptz[])"
        " ON CONFLICT (category) DO UPDATE SET display = EXCLUDED.display, at = EXCLUDED.at"
        " WHERE EXCLUDED.at >= n.at",
        (
            list(latest),
            [Jsonb(dict(r.category_display)) for r in latest.values()],
            [r.routed_at for r in latest.values()],
        ),
    )


_MET = JsonRows("m", "complaint_id text, acknowledged_at timestamptz, resolved_at timestamptz")


def _judge(conn: psycopg.Connection, met: list[tuple[Any, ...]], schema: str) -> None:
    """The batch's complaints' acknowledge and resolve targets met when their events say
    (`met`: each complaint's id, first acknowledgement and resolution, as its row now is), and
    each complaint breached when one of its targets was missed on event time (idempotent: it
    depends only on the rows as they now are)."""
    # Every row is found by its key, whatever the planner believes of the tables (their
    # statistics lag far behind them during a flood): the targets by their whole primary key,
    # and each complaint's verdict in a lateral aggregate, so no statement ever reads the
    # whole of a table for a batch.
    conn.execute(
        f"UPDATE {schema}.sla_targets t SET met_at = {MET_AT} FROM {_MET}"
        " WHERE t.complaint_id = m.complaint_id AND t.target IN ('acknowledge', 'resolve')"
        f" AND t.met_at IS DISTINCT FROM {MET_AT}",
        (_MET.param(met),),
    )
    conn.execute(
        f"UPDATE {schema}.complaints c SET sla_breached = l.late FROM unnest(%s::text[]) AS i(id)"
        f" CROSS JOIN LATERAL (SELECT bool_or({LATE}) AS late FROM {schema}.sla_targets t"
        " WHERE t.complaint_id = i.id) l"
        " WHERE c.complaint_id = i.id AND l.late IS NOT NULL AND c.sla_breached <> l.late",
        ([row[0] for row in met],),
    )
