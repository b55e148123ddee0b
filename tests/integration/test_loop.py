"""The worker loop itself, on the real broker and database: whatever fails, wherever it fails,
every input record ends exactly once as an output or a dead letter, and the committed offsets
are the end of every partition."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import psycopg
import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import KafkaTimeoutError
from pydantic import BaseModel, field_serializer

from schemas.envelope import CloudEvent, derived_event_id
from schemas.registry import REJECTED, TopicSpec
from services.kernel.emit import Emit
from services.kernel.errors import RetryableError
from services.kernel.handler import Handler, Record, Rejected
from services.kernel.kafka import ensure_topics
from services.kernel.loop import WorkerRunner

pytestmark = pytest.mark.integration


class Out(BaseModel):
    partition: int
    offset: int
    text: str

    @field_serializer("text")
    def _text(self, text: str) -> str:
        if text == "unserialisable":
            raise ValueError("this output cannot be serialised")
        return text


IN = TopicSpec(
    name="loop.in.v1",
    key="k",
    schema=Out,
    ce_type="test.loop.in",
    description="",
    writers=(),
    partitions=3,
)
OUT = TopicSpec(
    name="loop.out.v1",
    key="k",
    schema=Out,
    ce_type="test.loop.out",
    description="",
    writers=(),
    partitions=3,
)


@dataclass
class Faults:
    """What goes wrong, and how many more times."""

    tick: int = 0
    along: int = 0
    flush: int = 0
    commit: int = 0
    kill_db_at: set[bytes] = field(default_factory=set)
    transient: dict[bytes, int] = field(default_factory=dict)


FAULTS = Faults()


class Echo(Handler):
    """Records each input in its table and echoes it; some inputs misbehave on purpose."""

    name = "looptest"
    inputs = (IN,)
    schema = "looptest"
    migrations = (
        (
            1,
            "CREATE TABLE {schema}.seen (part int, off bigint, PRIMARY KEY (part, off));"
            "CREATE TABLE {schema}.ticks (n int PRIMARY KEY);",
        ),
    )

    def start(self, conn: psycopg.Connection) -> None:
        self.ticked = False

    def handle(self, record: Record, conn: psycopg.Connection) -> Iterable[Emit]:
        value = record.value or b""
        if value in FAULTS.kill_db_at:
            FAULTS.kill_db_at.discard(value)
            with psycopg.connect(self.settings.db_url(), autocommit=True) as other:
                other.execute("SELECT pg_terminate_backend(%s)", (conn.info.backend_pid,))
        if FAULTS.transient.get(value, 0) > 0:
            FAULTS.transient[value] -= 1
            raise RetryableError("an outage this record met, that goes away")
        if value == b"bug":
            raise ValueError("a bug while handling this record")
        conn.execute(
            "INSERT INTO looptest.seen VALUES (%s, %s) ON CONFLICT DO NOTHING",
            (record.partition, record.offset),
        )
        text = "x" * 2_000_000 if value == b"big" else value.decode()
        return [_echo(record, text)]

    def tick(self, conn: psycopg.Connection) -> Iterable[Emit]:
        if self.ticked:
            return ()
        if FAULTS.tick > 0:
            FAULTS.tick -= 1
            raise RuntimeError("the periodic job failed")
        conn.execute("INSERT INTO looptest.ticks VALUES (1)")
        self.after_commit(lambda: setattr(self, "ticked", True))
        event = CloudEvent(id="tick", type=OUT.ce_type, source="/test", time=self.clock.now())
        return [Emit(OUT, "tick", Out(partition=-1, offset=-1, text="tick"), event)]


class BatchEcho(Echo):
    """The same, set-based: a poll that holds a `bomb` fails as a whole."""

    batched = True

    def handle_batch(
        self, records: list[Record], conn: psycopg.Connection
    ) -> Iterable[Emit | Rejected]:
        if len(records) > 1 and any(r.value == b"bomb" for r in records):
            raise RuntimeError("the set-based statement failed")
        out: list[Emit | Rejected] = []
        for rec in records:
            out.extend(self.handle(rec, conn))
        return out

    def handle(self, record: Record, conn: psycopg.Connection) -> Iterable[Emit]:
        if record.value == b"bomb":
            raise RuntimeError("the set-based statement failed")
        return super().handle(record, conn)


class SmallPolls(BatchEcho):
    """Asks for polls of at most four records, and notes the size of each it gets."""

    sizes: list[int] = []

    def batch_limit(self) -> int | None:
        return 4

    def handle_batch(
        self, records: list[Record], conn: psycopg.Connection
    ) -> Iterable[Emit | Rejected]:
        SmallPolls.sizes.append(len(records))
        return super().handle_batch(records, conn)


class NothingDue(Echo):
    """Its periodic work is never due: the loop must not run it (nor open its transaction)."""

    def tick_due(self) -> bool:
        return False


class WithPolls(BatchEcho):
    """Has one output due that goes out with a poll (see `Handler.with_poll`), once."""

    def batch_limit(self) -> int | None:
        return 4  # polls enough for the due work's failures and its success

    def start(self, conn: psycopg.Connection) -> None:
        super().start(conn)
        self.along = False

    def with_poll(self, conn: psycopg.Connection) -> Iterable[Emit]:
        if self.along:
            return ()
        conn.execute("INSERT INTO looptest.ticks VALUES (2)")
        if FAULTS.along > 0:
            FAULTS.along -= 1
            raise RuntimeError("the work due with the poll failed")
        self.after_commit(lambda: setattr(self, "along", True))
        event = CloudEvent(id="along", type=OUT.ce_type, source="/test", time=self.clock.now())
        return [Emit(OUT, "along", Out(partition=-2, offset=-2, text="along"), event)]


def _echo(record: Record, text: str) -> Emit:
    event = CloudEvent(
        id=derived_event_id("echo", record.partition, record.offset),
        type=OUT.ce_type,
        source="/test",
        time=datetime.now(UTC),
    )
    return Emit(
        OUT,
        str(record.offset),
        Out(partition=record.partition, offset=record.offset, text=text),
        event,
    )


class FaultyRunner(WorkerRunner):
    """The real loop, with the broker's answers to flush and commit made to fail on demand."""

    def _produce(self, out):  # type: ignore[no-untyped-def]
        if out and FAULTS.flush > 0:
            FAULTS.flush -= 1
            super()._produce(out)  # sent and acknowledged, then "timed out" all the same
            raise KafkaTimeoutError("flush timed out")
        super()._produce(out)

    def _commit_offsets(self, *, wait: bool = False) -> None:
        if self._uncommitted and not wait and FAULTS.commit > 0:
            FAULTS.commit -= 1
            real = self.consumer.commit_async

            def failing(offsets: object, callback: Callable[..., None]) -> None:
                self.consumer.commit_async = real  # type: ignore[method-assign]
                callback(offsets, RuntimeError("the group coordinator went away"))

            self.consumer.commit_async = failing  # type: ignore[method-assign]
        super()._commit_offsets(wait=wait)


@pytest.fixture
def loop(cf) -> Iterator[Callable[..., dict]]:
    """Produce inputs, run a worker until it is idle, and read back where everything went."""
    ensure_topics(cf, [IN, OUT])
    global FAULTS
    FAULTS = Faults()

    def run(values: list[bytes], handler: type[Handler] = Echo) -> dict:
        producer = KafkaProducer(**cf.kafka("loop-test").as_dict(), acks="all")
        sent = {}
        for i, value in enumerate(values):
            meta = producer.send(
                cf.topic(IN.name), key=f"k{i}".encode(), value=value, partition=i % 3
            ).get(timeout=30)
            sent[(meta.partition, meta.offset)] = value
        producer.close()
        runner = FaultyRunner(handler, cf)
        thread = threading.Thread(target=runner.run, kwargs={"until_idle": True}, daemon=True)
        thread.start()
        thread.join(timeout=180)
        if thread.is_alive():
            runner.stop()
            thread.join(timeout=30)
            pytest.fail("the worker did not become idle within 180 s")
        return {
            "sent": sent,
            "outputs": _read(cf, OUT.name),
            "dead": _read(cf, REJECTED.name),
            "committed": _committed(cf, runner.group),
            "ends": _ends(cf),
            "runner": runner,
        }

    return run


def _read(cf, name: str) -> list[tuple[dict[str, bytes], dict]]:
    consumer = KafkaConsumer(**cf.kafka(f"reader-{uuid.uuid4().hex[:6]}").as_dict())
    topic = cf.topic(name)
    parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or []]
    consumer.assign(parts)
    consumer.seek_to_beginning()
    ends = consumer.end_offsets(parts)
    out = []
    while any(consumer.position(tp) < ends[tp] for tp in parts):
        for recs in consumer.poll(timeout_ms=500).values():
            out.extend((dict(r.headers), json.loads(r.value)) for r in recs)
    consumer.close()
    return out


def _committed(cf, group: str) -> dict[int, int | None]:
    consumer = KafkaConsumer(**cf.kafka("offsets-check").as_dict(), group_id=group)
    topic = cf.topic(IN.name)
    found = {p: consumer.committed(TopicPartition(topic, p)) for p in range(3)}
    consumer.close()
    return found


def _ends(cf) -> dict[int, int]:
    consumer = KafkaConsumer(**cf.kafka("offsets-check").as_dict())
    topic = cf.topic(IN.name)
    ends = consumer.end_offsets([TopicPartition(topic, p) for p in range(3)])
    consumer.close()
    return {tp.partition: n for tp, n in ends.items()}


def accounted(result: dict) -> tuple[set, dict]:
    """Every input once, as an output or a dead letter (never both, never neither), and the
    dead letters' reasons by input."""
    echoed = {(d["partition"], d["offset"]) for _, d in result["outputs"] if d["offset"] >= 0}
    dead = {(d["source_partition"], d["source_offset"]): d for _, d in result["dead"]}
    assert echoed.isdisjoint(dead), "a record both processed and dead-lettered"
    assert echoed | set(dead) == set(result["sent"]), "a record neither processed nor dead"
    assert result["committed"] == result["ends"], "offsets are not at the end of each partition"
    return echoed, dead


def values(n: int, **special: int) -> list[bytes]:
    """`n` ordinary inputs with special ones at the given positions."""
    out = [f"ok-{i}".encode() for i in range(n)]
    for value, at in special.items():
        out[at] = value.encode()
    return out


def test_a_bug_in_handle_dead_letters_that_record_and_nothing_else(loop):
    result = loop(values(30, bug=7))
    _, dead = accounted(result)
    assert [d["reason"] for d in dead.values()] == ["handler_error"]
    assert "a bug while handling" in next(iter(dead.values()))["errors"][0]


def test_a_failing_set_based_batch_is_retried_record_by_record(loop):
    result = loop(values(30, bomb=4), handler=BatchEcho)
    echoed, dead = accounted(result)
    assert len(echoed) == 29 and [d["reason"] for d in dead.values()] == ["handler_error"]


def test_a_handler_asking_for_small_polls_gets_them_and_everything_once(loop):
    # Given 30 records waiting, and a handler that asks for at most 4 per poll
    SmallPolls.sizes.clear()
    result = loop(values(30), handler=SmallPolls)
    # Then no poll held more, and every record was processed once
    echoed, dead = accounted(result)
    assert len(echoed) == 30 and not dead
    assert sum(SmallPolls.sizes) == 30 and max(SmallPolls.sizes) <= 4


def test_an_output_that_cannot_be_serialised_dead_letters_its_record(loop):
    result = loop(values(20, unserialisable=3))
    _, dead = accounted(result)
    (letter,) = dead.values()
    assert letter["reason"] == "handler_error" and "cannot be serialised" in letter["errors"][0]


def test_an_output_the_broker_refuses_ends_as_a_dead_letter_after_bounded_tries(loop):
    result = loop(values(20, big=11))
    echoed, dead = accounted(result)
    (letter,) = dead.values()
    assert letter["reason"] == "processing_failed"
    assert "MessageSizeTooLarge" in letter["errors"][0]
    assert len(echoed) == 19
    failures = result["runner"].metrics.loop_failures.labels("looptest", "send")._value.get()
    assert 0 < failures <= 6


def test_a_record_meeting_a_passing_outage_is_processed_once_it_passes(loop):
    FAULTS.transient[b"ok-5"] = 2
    result = loop(values(12))
    echoed, dead = accounted(result)
    assert len(echoed) == 12 and not dead
    assert FAULTS.transient[b"ok-5"] == 0


def test_a_failing_periodic_job_does_not_sink_the_records(loop):
    FAULTS.tick = 3
    result = loop(values(25))
    echoed, dead = accounted(result)
    assert len(echoed) == 25 and not dead
    ticks = [d for _, d in result["outputs"] if d["offset"] == -1]
    assert ticks and all(h["ce_id"] == b"tick" for h, d in result["outputs"] if d["offset"] == -1)


def test_periodic_work_runs_only_when_the_handler_says_it_is_due(loop):
    # Given a handler whose periodic work is never due (the same work as Echo's, which runs)
    result = loop(values(10), handler=NothingDue)
    # Then the records are processed, and the periodic work never ran
    echoed, dead = accounted(result)
    assert len(echoed) == 10 and not dead
    assert not [d for _, d in result["outputs"] if d["offset"] == -1]
    assert result["runner"].handler.ticked is False


def test_work_due_with_a_poll_goes_out_with_it_and_its_failure_sinks_no_record(loop, cf):
    # Given a handler with work due, failing the first two times it is tried with a poll,
    # and more polls than that
    FAULTS.along = 2
    result = loop(values(25), handler=WithPolls)
    # Then every record went through once, none dead-lettered
    echoed, dead = accounted(result)
    assert len(echoed) == 25 and not dead
    # And the due work went out once, its failed tries rolled back alone
    along = [d for _, d in result["outputs"] if d["offset"] == -2]
    assert len(along) == 1 and FAULTS.along == 0
    with psycopg.connect(cf.db_url()) as conn:
        assert conn.execute("SELECT count(*) FROM looptest.ticks WHERE n = 2").fetchone() == (1,)


def test_a_flush_that_times_out_is_retried_without_loss(loop):
    FAULTS.flush = 2
    result = loop(values(40))
    echoed, dead = accounted(result)
    assert len(echoed) == 40 and not dead
    ids = [h["ce_id"] for h, d in result["outputs"] if d["offset"] >= 0]
    assert len(set(ids)) == 40  # replays carry the same ids: consumers de-duplicate


def test_a_failed_offset_commit_is_made_good_by_the_next(loop):
    FAULTS.commit = 1
    result = loop(values(20))
    echoed, dead = accounted(result)
    assert len(echoed) == 20 and not dead
    failed = result["runner"].metrics.loop_failures.labels("looptest", "commit")._value.get()
    assert failed == 1


def test_the_database_going_away_mid_batch_loses_nothing(loop, cf):
    FAULTS.kill_db_at.add(b"ok-9")
    result = loop(values(30))
    echoed, dead = accounted(result)
    assert len(echoed) == 30 and not dead
    with psycopg.connect(cf.db_url()) as conn:
        assert conn.execute("SELECT count(*) FROM looptest.seen").fetchone() == (30,)
    passing = result["runner"].metrics.loop_failures.labels("looptest", "passing")._value.get()
    assert passing >= 1
