"""The consume → handle → produce → commit loop shared by every worker.

At-least-once with deterministic event ids: outputs are flushed, then the database
transaction commits, then offsets commit. A crash anywhere replays the batch, and the
replayed outputs carry the same `ce_id`, so consumers de-duplicate them.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import signal
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import psycopg
from kafka import KafkaProducer, TopicPartition
from kafka.consumer.subscription_state import ConsumerRebalanceListener
from kafka.errors import KafkaError
from kafka.structs import MemberState
from prometheus_client import CollectorRegistry, disable_created_metrics
from psycopg_pool import ConnectionPool

from schemas.envelope import CloudEvent, derived_event_id
from schemas.registry import RAW, REJECTED, TopicSpec
from schemas.rejected import DeadLetter
from services.runtime import kafka as kf
from services.runtime.clock import Clock, SystemClock
from services.runtime.config import Settings
from services.runtime.db import Migration, migrate, open_pool
from services.runtime.errors import PoisonMessage, RetryableError
from services.runtime.http import OpsServer
from services.runtime.metrics import Metrics
from services.runtime.sealing import Sealer

log = logging.getLogger(__name__)
MAX_KEPT = 256 * 1024
"""Most bytes of an original a dead letter keeps (sealed and base64 it stays under 1 MB)."""
MEMBERSHIP_GRACE_S = 60.0
"""How long a member may stay out of a stable group before its consumer is replaced."""


@dataclass(frozen=True)
class Record:
    """One consumed message with where it came from."""

    spec: TopicSpec
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]
    timestamp_ms: int

    @property
    def where(self) -> str:
        return f"{self.topic}[{self.partition}]@{self.offset}"


@dataclass(frozen=True)
class Rejected:
    """A record a batch handler refuses: the runtime dead-letters it."""

    record: Record
    error: PoisonMessage


class Handler:
    """What a worker does; the runtime owns Kafka, the database and metrics around it."""

    name: str = "worker"
    inputs: tuple[TopicSpec, ...] = ()
    schema: str = ""
    migrations: tuple[Migration, ...] = ()
    batched: bool = False
    """True when `handle_batch` does set-based work for a whole poll at once."""

    def __init__(self, settings: Settings, metrics: Metrics, clock: Clock) -> None:
        self.settings = settings
        self.metrics = metrics
        self.clock = clock
        self.reject: Callable[[Record, PoisonMessage], kf.Emit] = _no_dead_letters

    def handle_batch(
        self, records: list[Record], conn: psycopg.Connection
    ) -> Iterable[kf.Emit | Rejected]:
        """Process a whole poll; if it raises, the runtime retries the records one by one."""
        out: list[kf.Emit | Rejected] = []
        for rec in records:
            out.extend(self.handle(rec, conn))
        return out

    def start(self, conn: psycopg.Connection) -> None:
        """Called once after migrations, before the first poll."""

    def serve(self, producer: KafkaProducer) -> Callable[[], None] | None:
        """Start any extra endpoint the worker offers; returns how to stop it."""
        return None

    def handle(self, record: Record, conn: psycopg.Connection) -> Iterable[kf.Emit]:
        """Process one record; raise PoisonMessage to dead-letter it."""
        raise PoisonMessage("unhandled_topic", [f"{self.name} does not read {record.topic}"])

    def tick(self, conn: psycopg.Connection) -> Iterable[kf.Emit]:
        """Periodic work between polls (timers, aggregates)."""
        return ()

    def next_wakeup(self) -> float | None:
        """Seconds until `tick` has something to do, if sooner than the poll timeout."""
        return None

    def assigned(self, partitions: set[int], conn: psycopg.Connection) -> None:
        """Partitions (of the co-partitioned input topics) now owned by this instance."""

    def revoked(self, partitions: set[int]) -> None:
        """Partitions no longer owned by this instance."""


def _no_dead_letters(record: Record, error: PoisonMessage) -> kf.Emit:
    raise error


class _Rebalance(ConsumerRebalanceListener):
    def __init__(self, runner: WorkerRunner) -> None:
        self.runner = runner

    def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        self.runner._partitions_revoked({tp.partition for tp in revoked})

    def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        self.runner._partitions_assigned({tp.partition for tp in assigned})


class WorkerRunner:
    """Runs one Handler against the broker and database until stopped."""

    def __init__(
        self,
        handler_cls: type[Handler],
        settings: Settings,
        *,
        registry: CollectorRegistry | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.settings = settings
        disable_created_metrics()  # `_created` series double the scrape for nothing we use
        self.registry = registry or CollectorRegistry()
        self.metrics = Metrics.create(self.registry)
        self.handler = handler_cls(settings, self.metrics, clock or SystemClock())
        self.handler.reject = self.dead_letter
        self._raw_sealer = Sealer(settings.pii_secret(), "dead-letters")
        self.name = self.handler.name
        self.group = settings.group(self.name)
        self._client_id = f"{self.name}-{settings.instance}"
        self._stop = threading.Event()
        self._last_loop = time.monotonic()
        self._ready = False
        self._lag_at = 0.0
        self._unstable_since: float | None = None
        self._pool: ConnectionPool | None = None
        self._by_topic = {settings.topic(s.name): s for s in self.handler.inputs}
        self.ops = OpsServer(
            self.registry,
            host=settings.metrics_host,
            port=settings.metrics_port,
            healthy=lambda: time.monotonic() - self._last_loop < 60,
            ready=lambda: self._ready,
        )

    def stop(self, *_: Any) -> None:
        self._stop.set()

    def run(self) -> None:
        """Serve ops endpoints, migrate, then consume until `stop()` or SIGTERM/SIGINT."""
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, self.stop)
            signal.signal(signal.SIGINT, self.stop)
        self.ops.start()
        log.info("%s serving ops endpoints on %s", self.name, self.ops.url)
        self._pool = open_pool(self.settings.db_url(), name=self.name)
        try:
            with self._pool.connection() as conn:
                if self.handler.migrations:
                    migrate(conn, self.handler.schema, self.handler.migrations)
                self.handler.start(conn)
            self._consume()
        finally:
            self._pool.close()
            self.ops.stop()

    def _consume(self) -> None:
        self.producer = kf.producer(self.settings, client_id=self._client_id)
        self._join()
        stop_serving = self.handler.serve(self.producer)
        try:
            while not self._stop.is_set():
                self._last_loop = time.monotonic()
                self._safely_once()
        finally:
            if stop_serving is not None:
                stop_serving()
            try:
                self.consumer.commit()  # what was processed, before leaving the group
            except Exception as exc:  # the records will come again, de-duplicated
                log.warning("%s: final offset commit failed: %s", self.name, exc)
            try:
                self.producer.flush(timeout=10)
            finally:
                self.producer.close(timeout=10)
                self.consumer.close()
            log.info("%s stopped", self.name)

    def _join(self) -> None:
        """A new consumer, subscribed to the inputs in the worker's group."""
        self.consumer = kf.consumer(self.settings, group=self.group, client_id=self._client_id)
        self._await_metadata()
        self.consumer.subscribe(topics=list(self._by_topic), listener=_Rebalance(self))
        log.info("%s consuming %s as group %s", self.name, sorted(self._by_topic), self.group)

    def _watch_membership(self) -> None:
        """Replace a consumer whose join was dropped, or that stays out of a stable group.

        kafka-python 3.0 can leave a member "rebalancing" with no join under way: it then
        fetches nothing and polls in a tight loop while the group carries on without it.
        Its records go to the other members; leaving and joining again with a new consumer
        gets this instance its share back.
        """
        state = self.consumer.group_metadata().state
        now = time.monotonic()
        if state == MemberState.STABLE:
            self._unstable_since = None
            return
        if self._unstable_since is None:
            self._unstable_since = now
        waited = now - self._unstable_since
        dropped = state == MemberState.REBALANCING and not self._join_wanted()
        if self._stop.is_set() or not (dropped or waited >= MEMBERSHIP_GRACE_S):
            return
        log.warning(
            "%s: %s (%s); joining again with a new consumer",
            self.name,
            "its group join was dropped" if dropped else f"not a stable member for {waited:.0f} s",
            state,
        )
        self.metrics.consumer_rejoins.labels(self.name).inc()
        owned = {tp.partition for tp in self.consumer.assignment()}
        if owned:
            self._partitions_revoked(owned)
        try:
            self.consumer.close(autocommit=False)
        except Exception as exc:  # a broken member may not leave cleanly; the broker expires it
            log.warning("%s: closing the stuck consumer failed: %s", self.name, exc)
        self._ready = False
        self._unstable_since = None
        self._join()

    def _join_wanted(self) -> bool:
        """Whether the client will still take up a join under way.

        It drives a join only while it wants one; a join that started because the group's
        metadata changed stops being wanted once the leader has assigned the new metadata.
        If the poll that sent it returned before its answer (a short poll on a busy machine,
        typically the second join of a fresh member), nothing ever takes that answer up: the
        member stays "rebalancing", its heartbeats off, until the broker drops it.
        """
        return bool(self.consumer._coordinator.need_rejoin())

    def _await_metadata(self, timeout: float = 60) -> None:
        """Know every input topic's partitions before joining the group: a member that joins
        without them is assigned nothing and may not rejoin for minutes."""
        deadline = time.monotonic() + timeout
        for topic in self._by_topic:
            while not self.consumer.partitions_for_topic(topic):
                if time.monotonic() > deadline or self._stop.is_set():
                    raise RuntimeError(f"topic {topic} does not exist (create it: topics --create)")
                time.sleep(0.2)

    def _safely_once(self) -> None:
        """One poll; whatever goes wrong is logged and retried, never the end of the worker."""
        try:
            self._once()
            self._watch_membership()
        except Exception:
            log.exception("%s: unexpected failure in the loop; retrying in 1 s", self.name)
            self._stop.wait(1.0)

    def _poll_timeout_ms(self) -> int:
        timeout = self.settings.poll_timeout_ms / 1000
        wake = self.handler.next_wakeup()
        if wake is not None:
            timeout = max(0.0, min(timeout, wake))
        return int(timeout * 1000)

    def _once(self) -> None:
        batch = self.consumer.poll(
            timeout_ms=self._poll_timeout_ms(), max_records=self.settings.max_batch
        )
        if self.consumer.assignment():
            self._ready = True
        records = [rec for recs in batch.values() for rec in recs]
        assert self._pool is not None
        try:
            # One transaction per poll: outputs are flushed and acknowledged inside it, so the
            # database commits only what the broker has; records get savepoints within it.
            with self._pool.connection() as conn, conn.transaction():
                emits = self._process(records, conn)
                emits += list(self.handler.tick(conn))
                futures = [kf.send(self.producer, self.settings, e) for e in emits]
                if futures:
                    self.producer.flush()
                    for fut in futures:
                        fut.get(timeout=60)
        except (RetryableError, psycopg.OperationalError, KafkaError) as exc:
            log.warning("%s: passing failure, retrying the batch: %s", self.name, exc)
            self._rewind(records)
            self._stop.wait(1.0)
            return
        if records:
            try:
                self.consumer.commit()
            except KafkaError as exc:  # a rebalance: the records come again, de-duplicated
                log.warning(
                    "%s: offset commit failed (%s); records will be redelivered", self.name, exc
                )
        self._report_lag()

    def _process(self, records: list[Any], conn: psycopg.Connection) -> list[kf.Emit]:
        recs = [
            Record(
                spec=self._by_topic[raw.topic],
                topic=raw.topic,
                partition=raw.partition,
                offset=raw.offset,
                key=raw.key,
                value=raw.value,
                headers=list(raw.headers or []),
                timestamp_ms=raw.timestamp,
            )
            for raw in records
        ]
        out: list[kf.Emit] | None = None
        if self.handler.batched and recs:
            out = self._process_batch(recs, conn)
        if out is None:
            out = []
            for rec in recs:
                out.extend(self._process_one(rec, conn))
        counts: dict[str, int] = {}
        now = self.handler.clock.now().timestamp()
        latency = self.metrics.stage_latency.labels(self.name)
        for rec in recs:
            counts[rec.spec.name] = counts.get(rec.spec.name, 0) + 1
            # CreateTime is when the upstream stage (or call center) sent the event.
            latency.observe(max(0.0, now - rec.timestamp_ms / 1000))
        for topic, n in counts.items():
            self.metrics.events_processed.labels(self.name, topic).inc(n)
        return out

    def _process_batch(self, recs: list[Record], conn: psycopg.Connection) -> list[kf.Emit] | None:
        try:
            with conn.transaction():
                results = list(self.handler.handle_batch(recs, conn))
        except (RetryableError, psycopg.OperationalError):
            raise
        except Exception:
            log.exception("%s: batch of %d failed; retrying one by one", self.name, len(recs))
            return None
        return [
            self.dead_letter(r.record, r.error) if isinstance(r, Rejected) else r for r in results
        ]

    def _process_one(self, rec: Record, conn: psycopg.Connection) -> list[kf.Emit]:
        try:
            with conn.transaction():
                if self.handler.batched:
                    results = list(self.handler.handle_batch([rec], conn))
                    for r in results:
                        if isinstance(r, Rejected):
                            raise r.error
                    return [r for r in results if isinstance(r, kf.Emit)]
                return list(self.handler.handle(rec, conn))
        except PoisonMessage as exc:
            return [self.dead_letter(rec, exc)]
        except (RetryableError, psycopg.OperationalError):
            raise
        except Exception as exc:  # a bug must not stop the worker nor lose the message
            log.exception("%s: unexpected error at %s", self.name, rec.where)
            return [self.dead_letter(rec, PoisonMessage("handler_error", [repr(exc)]))]

    def dead_letter(self, rec: Record, exc: PoisonMessage) -> kf.Emit:
        """The dead letter of a record: original bytes, where it came from, every reason."""
        log.warning(
            "%s: dead-lettered %s (%s): %s",
            self.name,
            rec.where,
            exc.reason,
            "; ".join(exc.errors)[:500],
        )
        self.metrics.dead_letters.labels(self.name, exc.reason).inc()
        sealed = rec.spec.name == RAW.name  # raw input may carry customer data in clear
        original = rec.value or b""
        kept = original[:MAX_KEPT]  # a dead letter must itself fit in a Kafka message
        letter = DeadLetter(
            worker=self.name,
            reason=exc.reason,
            errors=exc.errors,
            source_topic=rec.spec.name,
            source_partition=rec.partition,
            source_offset=rec.offset,
            source_event_id=exc.event_id,
            original_key_b64=base64.b64encode(rec.key).decode() if rec.key else None,
            original_value_b64=base64.b64encode(
                self._raw_sealer.seal(kept) if sealed else kept
            ).decode(),
            original_size=len(original),
            original_sha256=hashlib.sha256(original).hexdigest(),
            original_truncated=len(kept) < len(original),
            original_sealed=sealed,
            original_headers={
                k: v.decode("utf-8", "replace")[:256]
                for k, v in rec.headers
                if k.startswith("ce_") and v is not None
            },
            rejected_at=self.handler.clock.now(),
        )
        key = exc.event_id or f"{rec.spec.name}-{rec.partition}-{rec.offset}"
        event = CloudEvent(
            id=derived_event_id("rejected", self.name, rec.spec.name, rec.partition, rec.offset),
            type=REJECTED.ce_type,
            source=f"/complaintflow/{self.name}",
            time=letter.rejected_at,
        )
        return kf.Emit(REJECTED, key, letter, event)

    def _rewind(self, records: list[Any]) -> None:
        first: dict[TopicPartition, int] = {}
        for raw in records:
            tp = TopicPartition(raw.topic, raw.partition)
            first[tp] = min(first.get(tp, raw.offset), raw.offset)
        for tp, offset in first.items():
            self.consumer.seek(tp, offset)

    def _report_lag(self) -> None:
        now = time.monotonic()
        if now - self._lag_at < 5:
            return
        self._lag_at = now
        per_topic: dict[str, int] = {}
        for tp in self.consumer.assignment():
            # The high watermark comes with every fetch response: no broker round trip that
            # would wait behind a long-poll fetch and stall the timers of this loop.
            end = self.consumer.highwater(tp)
            if end is None:
                continue
            try:
                position = self.consumer.position(tp)
            except Exception:  # lag is advisory; never let it stop the loop
                continue
            if position is not None:
                per_topic[tp.topic] = per_topic.get(tp.topic, 0) + max(0, end - position)
        for topic, lag in per_topic.items():
            spec = self._by_topic.get(topic)
            self.metrics.consumer_lag.labels(self.group, spec.name if spec else topic).set(lag)

    def _partitions_assigned(self, partitions: set[int]) -> None:
        assert self._pool is not None
        with self._pool.connection() as conn:
            self.handler.assigned(partitions, conn)

    def _partitions_revoked(self, partitions: set[int]) -> None:
        self.handler.revoked(partitions)
