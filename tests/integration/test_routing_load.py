"""Owners' open load is the same figure on every routing instance: it lives in the database."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg
import pytest
from prometheus_client import CollectorRegistry

from schemas.common import Channel, Language
from schemas.envelope import CloudEvent, encode
from schemas.registered import RegisteredComplaint
from schemas.registry import REGISTERED
from services.kernel.clock import FrozenClock
from services.kernel.db import migrate
from services.kernel.handler import Record
from services.routing.app import Routing

pytestmark = pytest.mark.integration
AT = datetime(2026, 3, 10, 10, 0, tzinfo=UTC)


def registered(n: int, **over: object) -> Record:
    """Complaint c{n} as intake registers it (a London billing complaint unless `over`)."""
    fields: dict[str, object] = {
        "complaint_id": f"c{n}",
        "reference": f"CF-TEST-{n:04d}",
        "source": "london-cc",
        "external_ref": f"L-{n}",
        "source_event_id": f"ev-{n}",
        "occurred_at": AT,
        "source_utc_offset": "+00:00",
        "registered_at": AT,
        "channel": Channel.PHONE,
        "language": Language.EN,
        "category": "billing",
        "description": "I was charged twice for my monthly plan",
        "customer_token": f"cus_{n}",
        "region": "GB",
    }
    complaint = RegisteredComplaint.model_validate(fields | over)
    event = CloudEvent(id=f"ce-{n}", type=REGISTERED.ce_type, source="/test", time=AT)
    return Record(REGISTERED, REGISTERED.name, 0, n, b"k", encode(complaint), event.headers(), 0)


def owner_of(emits: list) -> tuple[str | None, str]:
    """The owner and the reason given for choosing them (it names their open load)."""
    (emit,) = emits
    why = next(r for r in emit.value.reasons if r.startswith("owner "))
    return emit.value.owner, why


def test_a_second_instance_sees_the_owners_the_first_assigned(cf):
    with psycopg.connect(cf.db_url()) as a_conn, psycopg.connect(cf.db_url()) as b_conn:
        a = Routing(cf, CollectorRegistry(), FrozenClock(AT))
        b = Routing(cf, CollectorRegistry(), FrozenClock(AT))
        migrate(a_conn, a.schema, a.migrations)
        a.start(a_conn)
        b.start(b_conn)
        # Given instance A assigned a complaint and committed
        first = owner_of(list(a.handle(registered(1), a_conn)))
        a_conn.commit()
        # When instance B routes the next complaint of the same queue
        second = owner_of(list(b.handle(registered(2), b_conn)))
        b_conn.commit()
        # Then B counts the complaint A gave its owner
        assert first[0] == second[0] == "en-telecom-01"
        assert "least open load 0/" in first[1] and "least open load 1/" in second[1]
        # And a batch rolled back on A changes nobody's load
        a.handle(registered(3), a_conn)
        a_conn.rollback()
        assert "least open load 2/" in owner_of(list(b.handle(registered(4), b_conn)))[1]
