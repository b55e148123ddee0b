"""Changes that reach routing before the complaint's first decision are held, then applied."""

from __future__ import annotations

import psycopg
import pytest
from prometheus_client import CollectorRegistry

from schemas.common import Channel, Status
from schemas.envelope import CloudEvent, encode
from schemas.lifecycle import LifecycleEvent, LifecycleKind
from schemas.registry import LIFECYCLE
from services.kernel.clock import FrozenClock
from services.kernel.db import migrate
from services.kernel.handler import Record, Rejected
from services.routing.app import Routing
from tests.integration.test_routing_load import AT, registered

pytestmark = pytest.mark.integration


def change(offset: int, kind: LifecycleKind, **fields: object) -> Record:
    event = LifecycleEvent(
        complaint_id="c1",
        kind=kind,
        source="london-cc",
        source_event_id=f"ev-{offset}",
        occurred_at=AT,
        recorded_at=AT,
        channel=Channel.PHONE,
        agent="agent-7",
        **fields,  # type: ignore[arg-type]
    )
    ce = CloudEvent(id=f"ce-life-{offset}", type=LIFECYCLE.ce_type, source="/test", time=AT)
    return Record(LIFECYCLE, LIFECYCLE.name, 0, offset, b"c1", encode(event), ce.headers(), 0)


def test_changes_before_the_first_decision_are_applied_in_order_when_it_is_made(cf):
    with psycopg.connect(cf.db_url()) as conn:
        routing = Routing(cf, CollectorRegistry(), FrozenClock(AT))
        migrate(conn, routing.schema, routing.migrations)
        routing.start(conn)
        # Given a transfer, a category correction and a reopen that arrive before the complaint
        early = [
            change(10, LifecycleKind.TRANSFER, queue="refunds"),
            change(11, LifecycleKind.RECATEGORISED, category="network"),
            change(12, LifecycleKind.STATUS, status=Status.REOPENED),
        ]
        for rec in early:
            assert list(routing.handle(rec, conn)) == []  # held, not dead-lettered
        routing.handle(early[0], conn)  # a replay of a held change is held once
        # When the complaint is registered
        out = list(routing.handle(registered(1), conn))
        # Then its first decision goes out, then each change in the order they happened
        versions = [(e.value.version, e.value.queue, e.value.category) for e in out]
        assert [v for v, _, _ in versions] == [1, 2, 3, 4]
        assert versions[1][1] == "refunds"
        assert versions[2][2] == "network" and versions[3][2] == "network"
        assert "reopened" in out[3].value.tags
        # And each carries the id of the change it applies (stable across replays)
        assert len({e.event.id for e in out}) == 4
        # And nothing stays held
        assert conn.execute("SELECT count(*) FROM routing.pending_changes").fetchone() == (0,)
        # And a change after the decision is applied at once
        (later,) = routing.handle(change(13, LifecycleKind.TRANSFER, queue="billing"), conn)
        assert later.value.version == 5


def test_a_change_read_again_after_it_was_applied_is_not_applied_twice(cf):
    with psycopg.connect(cf.db_url()) as conn:
        routing = Routing(cf, CollectorRegistry(), FrozenClock(AT))
        migrate(conn, routing.schema, routing.migrations)
        routing.start(conn)
        (first,) = routing.handle(registered(1), conn)
        transfer = change(20, LifecycleKind.TRANSFER, queue="refunds")
        (applied,) = routing.handle(transfer, conn)
        assert (first.value.version, applied.value.version) == (1, 2)
        # When the same change is read again (a crash fell between the database commit and
        # the offset commit), then nothing new is decided
        assert list(routing.handle(transfer, conn)) == []
        (version,) = conn.execute(
            "SELECT version FROM routing.decisions WHERE complaint_id = 'c1'"
        ).fetchone()
        assert version == 2
        # And the next real change still goes out as the next version
        (later,) = routing.handle(change(21, LifecycleKind.TRANSFER, queue="billing"), conn)
        assert later.value.version == 3


def test_a_whole_poll_decides_as_its_records_would_one_by_one(cf):
    with psycopg.connect(cf.db_url()) as conn:
        routing = Routing(cf, CollectorRegistry(), FrozenClock(AT))
        migrate(conn, routing.schema, routing.migrations)
        routing.start(conn)
        # Given one poll: changes before the complaint (one read twice), the complaint, a
        # refused transfer, a later change, and a second complaint of the same queue
        poll = [
            change(30, LifecycleKind.TRANSFER, queue="refunds"),
            change(31, LifecycleKind.RECATEGORISED, category="network"),
            change(30, LifecycleKind.TRANSFER, queue="refunds"),
            registered(1),
            change(32, LifecycleKind.TRANSFER),
            change(33, LifecycleKind.TRANSFER, queue="billing"),
            registered(2, category="network"),
        ]
        out = list(routing.handle_batch(poll, conn))
        # Then the refused transfer alone is refused, with its reason
        (refused,) = [r for r in out if isinstance(r, Rejected)]
        assert (refused.record.offset, refused.error.reason) == (32, "reroute_refused")
        # And complaint c1 goes out as it would record by record: its decision, the held
        # changes in order, then the later change
        c1 = [e.value for e in out if not isinstance(e, Rejected) and e.key == "c1"]
        assert [v.version for v in c1] == [1, 2, 3, 4]
        assert (c1[1].queue, c1[2].category, c1[3].queue) == ("refunds", "network", "billing")
        # And what the poll wrote is what those decisions say, nothing left held
        assert conn.execute(
            "SELECT version FROM routing.decisions WHERE complaint_id = 'c1'"
        ).fetchone() == (4,)
        assert conn.execute("SELECT count(*) FROM routing.pending_changes").fetchone() == (0,)
        # And read again, the same poll decides nothing new (each change applied once)
        again = [e for e in routing.handle_batch(poll[4:6], conn) if not isinstance(e, Rejected)]
        assert again == []


def test_owners_load_counts_the_decisions_made_earlier_in_the_same_poll(cf):
    with psycopg.connect(cf.db_url()) as conn:
        routing = Routing(cf, CollectorRegistry(), FrozenClock(AT))
        migrate(conn, routing.schema, routing.migrations)
        routing.start(conn)
        conn.execute("DELETE FROM routing.decisions")
        out = list(routing.handle_batch([registered(n) for n in (41, 42)], conn))
        whys = [next(r for r in e.value.reasons if r.startswith("owner ")) for e in out]
        assert "least open load 0/" in whys[0] and "least open load 1/" in whys[1]
        # And a complaint closed in the same poll gives its owner's place back
        close = LifecycleEvent(
            complaint_id="c43",
            kind=LifecycleKind.STATUS,
            status=Status.RESOLVED,
            source="london-cc",
            source_event_id="ev-close-43",
            occurred_at=AT,
            recorded_at=AT,
            channel=Channel.PHONE,
        )
        ce = CloudEvent(id="ce-close-43", type=LIFECYCLE.ce_type, source="/test", time=AT)
        closing = Record(LIFECYCLE, LIFECYCLE.name, 0, 99, b"c43", encode(close), ce.headers(), 0)
        out = list(routing.handle_batch([registered(43), closing, registered(44)], conn))
        whys = [next(r for r in e.value.reasons if r.startswith("owner ")) for e in out]
        assert "least open load 2/" in whys[0] and "least open load 2/" in whys[1]
