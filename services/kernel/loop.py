"""The consume → handle → produce → commit loop shared by every worker.

One poll is one database transaction: the records are handled (each in its own savepoint
when the handler works record by record), their outputs are produced and acknowledged by
the broker, the transaction commits, and only then are the offsets committed — exactly
`offset + 1` of the last record the transaction covered, per partition, never "wherever
the consumer is". Any failure before the commit, of any kind, rolls the transaction back
and rewinds every partition of the poll to its first record, which is tried again with
backoff. A passing outage (database, broker) is retried for as long as it lasts; anything
else counts as a failure of the records: after a few, they are tried one at a time, and a
record that still fails is dead-lettered with the reason. Nothing is ever stepped over.

Replayed outputs carry the same `ce_id`, so consumers de-duplicate them.
"""

from __future__ import annotations

import logging
import re
import signal
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

import psycopg
from kafka import TopicPartition
from kafka.consumer.subscription_state import ConsumerRebalanceListener
from kafka.errors import KafkaError
from kafka.structs import MemberState, OffsetAndMetadata
from prometheus_client import CollectorRegistry, disable_created_metrics
from psycopg_pool import ConnectionPool

from schemas.envelope import complaint_id_for, encode
from schemas.registry import RAW
from services.kernel import kafka as kf
from services.kernel.clock import Clock, SystemClock
from services.kernel.db import migrate, open_pool
from services.kernel.dead_letter import dead_letter
from services.kernel.emit import Emit
from services.kernel.errors import PoisonMessage, RetryableError
from services.kernel.handler import Handler, Record, Rejected
from services.kernel.logs import handling
from services.kernel.metrics import Metrics
from services.kernel.ops_http import OpsServer
from services.kernel.sealing import Sealer
from services.kernel.settings import Settings

log = logging.getLogger(__name__)
_T = TypeVar("_T")
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
MEMBERSHIP_GRACE_S = 60.0
"""How long a member may stay out of a stable group before its consumer is replaced."""
BATCH_TRIES = 3
"""Failures of a poll at the same offsets before its records are tried one at a time."""
RECORD_TRIES = 3
"""Failures of one record tried alone before it is dead-lettered."""
ALONG_S = 5.0
"""How long, at most, work falling due is fired while a transaction's acks are outstanding."""
ACK_CHECK_S = 0.005
"""How often outstanding acks and work falling due are looked at meanwhile."""
BACKOFF_S = (0.2, 0.5, 1.0, 2.0, 5.0, 10.0)
"""Waits between tries of a failing poll (the last repeats)."""


@dataclass(frozen=True)
class Outgoing:
    """An output encoded and ready to produce (encoding happens where its record is handled)."""

    topic: str
    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]


@dataclass
class _Trouble:
    """Consecutive failures of one partition at one offset."""

    offset: int
    tries: int
    error: str


class LoopFailure(Exception):
    """A failure of one step of the loop, naming the step."""

    def __init__(self, stage: str, cause: BaseException) -> None:
        super().__init__(f"{stage}: {cause!r}")
        self.stage = stage
        self.cause = cause


def passing(exc: BaseException) -> bool:
    """An outage that goes away by itself: retried for as long as it lasts, never counted
    against the records."""
    if isinstance(exc, LoopFailure):
        exc = exc.cause
    if isinstance(exc, RetryableError | psycopg.OperationalError):
        return True
    return isinstance(exc, KafkaError) and bool(getattr(exc, "retriable", False))


class _Rebalance(ConsumerRebalanceListener):
    def __init__(self, runner: WorkerRunner) -> None:
        self.runner = runner

    def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        self.runner._partitions_revoked(revoked)

    def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        self.runner._partitions_assigned(assigned)


class WorkerRunner:
    """Runs one Handler against the broker and database until stopped (or idle)."""

    def __init__(
        self,
        handler_cls: type[Handler],
        settings: Settings,
        *,
        registry: CollectorRegistry | None = None,
        clock: Clock | None = None,
    ) -> None:
        disable_created_metrics()  # `_created` series double the scrape for nothing we use
        self.registry = registry or CollectorRegistry()
        self.metrics = Metrics.create(self.registry)
        self.handler = handler_cls(settings, self.registry, clock or SystemClock())
        self.settings = settings = self.handler.settings
        self.handler.reject = self.dead_letter
        self._raw_sealer = Sealer(settings.pii_ring(), "dead-letters")
        self.name = self.handler.name
        self.group = settings.group(self.name)
        self._client_id = f"{self.name}-{settings.instance}"
        self._stop = threading.Event()
        self._signal: str | None = None
        self._last_loop = time.monotonic()
        self._ready = False
        self._lag_at = 0.0
        self._unstable_since: float | None = None
        self._pool: ConnectionPool | None = None
        self._by_topic = {settings.topic(s.name): s for s in self.handler.inputs}
        self._trouble: dict[TopicPartition, _Trouble] = {}
        self._failing_since: float | None = None
        self._tick_failing_since: float | None = None
        """Since when the periodic work has failed without a success (None: it works)."""
        self._failures = 0
        self._uncommitted: dict[TopicPartition, int] = {}
        self._committing: dict[TopicPartition, int] = {}
        """Offsets of an asynchronous commit the broker has not answered yet."""
        self._committed: dict[TopicPartition, int] = {}
        self._generation = 0
        """Counts the rebalances: an answer to a commit sent before the last is not news."""
        self._tick_after = 0.0
        self._tick_failures = 0
        self._until_idle = False
        self.ops = OpsServer(
            self.registry,
            host=settings.metrics_host,
            port=settings.metrics_port,
            healthy=lambda: time.monotonic() - self._last_loop < 60,
            ready=self.ready,
            problems=self.handler.problems.current,
            worker=self.name,
        )
        # Read at scrape time, so Prometheus sees what `/readyz` would answer.
        self.metrics.ready.set_function(lambda: 1.0 if self.ready() else 0.0)

    def stop(self, signum: int | None = None, _frame: Any = None) -> None:
        """End the loop: the poll in flight finishes and commits (database, then offsets),
        the consumer leaves its group, and `run` returns. The SIGTERM/SIGINT handler: it
        only takes note (logging here could re-enter a write the signal interrupted)."""
        if signum is not None and self._signal is None:
            self._signal = signal.Signals(signum).name
        self._stop.set()

    def ready(self) -> bool:
        """Partitions assigned and the loop making progress: neither its records nor its
        periodic work (which needs the database even while no record comes) failing for
        longer than `stalled_after_seconds` (a minute).

        Configuration problems the handler runs on with do not make it unready: it still
        processes its records (on a fallback); `/readyz` lists them, and the
        `config_problems` gauge is what alerts.
        """
        now, window = time.monotonic(), self.settings.stalled_after_seconds
        stalled = any(
            since is not None and now - since > window
            for since in (self._failing_since, self._tick_failing_since)
        )
        return self._ready and not stalled

    def run(self, *, until_idle: bool = False) -> None:
        """Serve ops endpoints, migrate, then consume until `stop()` or SIGTERM/SIGINT.

        `until_idle` returns once every input partition has been processed to its end and
        nothing is failing (component tests drive a worker to completion this way).
        """
        self._until_idle = until_idle
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, self.stop)
            signal.signal(signal.SIGINT, self.stop)
        self.ops.start()
        log.info("%s serving ops endpoints on %s", self.name, self.ops.url)
        try:
            self._pool = self._once_up(
                "PostgreSQL", lambda: open_pool(self.settings.db_url(), name=self.name)
            )
            if self._pool is not None and self._once_up("PostgreSQL", self._start_handler):
                self._consume()
        finally:
            if self._pool is not None:
                self._pool.close()
            self.ops.stop()

    def _start_handler(self) -> bool:
        """Migrate the worker's schema and start its handler."""
        assert self._pool is not None
        with self._pool.connection() as conn:
            if self.handler.migrations:
                migrate(conn, self.handler.schema, self.handler.migrations)
            self.handler.start(conn)
        return True

    def _once_up(self, service: str, step: Callable[[], _T]) -> _T | None:
        """`step`, tried again with backoff for as long as `service` is out (a passing
        outage); None when the worker is stopped while waiting.

        A worker started before its broker or database waits for them instead of exiting:
        alive all along (`/healthz`), not ready (`/readyz` 503) until it consumes.
        """
        tries = 0
        while True:
            try:
                return step()
            except Exception as exc:
                if not passing(exc):
                    raise
                wait = BACKOFF_S[min(tries, len(BACKOFF_S) - 1)]
                tries += 1
                said = str(exc).strip()
                if not said.startswith(type(exc).__name__):
                    said = f"{type(exc).__name__}: {said}"
                log.warning(
                    "%s: waiting for %s (%s); trying again in %.1f s (try %d)",
                    self.name,
                    service,
                    said,
                    wait,
                    tries,
                )
            self._last_loop = time.monotonic()  # waiting for a service is not a stall
            if self._stop.wait(wait):
                return None

    def _consume(self) -> None:
        producer = self._once_up(
            "Kafka", lambda: kf.producer(self.settings, client_id=self._client_id)
        )
        if producer is None or not self._join(producer):
            return
        self.producer = producer
        stop_serving = self.handler.serve(self.producer)
        try:
            while not self._stop.is_set():
                self._last_loop = time.monotonic()
                self._safely_once()
            if self._signal is not None:
                log.info(
                    "%s: %s received; the poll in flight is done, committing and leaving the group",
                    self.name,
                    self._signal,
                )
        finally:
            if stop_serving is not None:
                stop_serving()
            # what was processed and not yet committed (or not yet answered), before leaving
            self._commit_offsets(wait=True)
            try:
                self.producer.flush(timeout=10)
            finally:
                self.producer.close(timeout=10)
                self.consumer.close(autocommit=False)
            log.info("%s stopped", self.name)

    def _join(self, producer: Any = None) -> bool:
        """A new consumer, subscribed to the inputs in the worker's group; False when the
        worker was stopped while waiting for the broker (`producer`, made for this start,
        is then closed)."""
        consumer = self._once_up(
            "Kafka",
            lambda: kf.consumer(self.settings, group=self.group, client_id=self._client_id),
        )
        if consumer is None:
            if producer is not None:
                producer.close(timeout=10)
            return False
        self.consumer = consumer
        self._await_metadata()
        self.consumer.subscribe(topics=list(self._by_topic), listener=_Rebalance(self))
        log.info("%s consuming %s as group %s", self.name, sorted(self._by_topic), self.group)
        return True

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
        owned = self.consumer.assignment()
        if owned:
            self._partitions_revoked(set(owned))
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
                if self._stop.is_set():
                    return  # stopped while starting: nothing to finish, leave cleanly
                if time.monotonic() > deadline:
                    raise RuntimeError(f"topic {topic} does not exist (create it: topics --create)")
                time.sleep(0.2)

    def _safely_once(self) -> None:
        """One poll; whatever goes wrong is logged and retried, never the end of the worker."""
        try:
            self._once()
            self._watch_membership()
        except Exception:
            # Only the poll itself or the membership watchdog can get here; the records of a
            # poll are rewound by `_once` before anything escapes it.
            log.exception("%s: unexpected failure in the loop; retrying in 1 s", self.name)
            self.metrics.loop_failures.labels(self.name, "loop").inc()
            self._stop.wait(1.0)

    def _poll_timeout_ms(self) -> int:
        timeout = self.settings.poll_timeout_ms / 1000
        wake = self.handler.next_wakeup()
        if wake is not None:
            timeout = max(0.0, min(timeout, wake))
        return int(timeout * 1000)

    # --- one poll --------------------------------------------------------------------------

    def _once(self) -> None:
        limit = self.handler.batch_limit()
        batch = self.consumer.poll(
            timeout_ms=self._poll_timeout_ms(),
            max_records=self.settings.max_batch if limit is None else max(1, limit),
        )
        if self.consumer.assignment():
            self._ready = True
        polled = [raw for recs in batch.values() for raw in recs]
        try:
            records = [self._record(raw) for raw in polled]
        except BaseException:
            self._rewind(polled)
            raise
        if records and self._in_trouble(records):
            self._one_at_a_time(records)
        elif records:
            self._poll_records(records, alone=False)
        self._tick()
        self._commit_offsets()  # a commit that failed earlier is retried even when idle
        self._report_lag()
        if self._until_idle and not records and self._idle():
            self._stop.set()

    def _in_trouble(self, records: list[Record]) -> bool:
        """True when a partition of this poll keeps failing at the offset it starts from."""
        for tp, first in _firsts(records).items():
            seen = self._trouble.get(tp)
            if seen is not None and seen.offset == first and seen.tries >= BATCH_TRIES:
                return True
        return False

    def _one_at_a_time(self, records: list[Record]) -> None:
        """Each record in a transaction of its own, to find the one that fails; it is tried
        alone a few times, then dead-lettered. Whatever follows a failure comes again."""
        for i, rec in enumerate(records):
            if not self._poll_records([rec], alone=True):
                self._rewind(records[i:])
                return

    def _poll_records(self, records: list[Record], *, alone: bool) -> bool:
        """Handle records in one transaction; False (and rewound) if it rolled back."""
        trouble = self._trouble.get(_tp(records[0])) if alone else None
        give_up = (
            trouble is not None
            and trouble.offset == records[0].offset
            and trouble.tries >= BATCH_TRIES + RECORD_TRIES
        )
        try:
            if give_up:
                assert trouble is not None
                reason = PoisonMessage(
                    "processing_failed",
                    [f"failed {trouble.tries} times; the last: {trouble.error}"],
                )
                self._transaction(lambda conn: [self._encode(self.dead_letter(records[0], reason))])
            else:
                self._transaction(
                    lambda conn: self._process(records, conn) + self._along(conn), along=True
                )
        except Exception as exc:
            self._failed(records, exc, alone=alone)
            return False
        self._progressed(records)
        return True

    def _transaction(
        self, work: Callable[[psycopg.Connection], list[Outgoing]], *, along: bool = False
    ) -> None:
        """Run `work` in one transaction; its outputs are acknowledged before it commits.
        `along`: work falling due meanwhile goes out in it too (see `_produce_along`)."""
        assert self._pool is not None
        hooks = self.handler.hooks
        hooks.begin()
        try:
            with self._pool.connection() as conn, conn.transaction():
                out = work(conn)
                if along and type(self.handler).with_poll is not Handler.with_poll:
                    self._produce_along(out, conn)
                else:
                    self._produce(out)
        except BaseException:
            hooks.rolled_back()
            raise
        hooks.committed()

    def _produce(self, out: list[Outgoing]) -> None:
        self._acknowledged(self._send(out))

    def _produce_along(self, out: list[Outgoing], conn: psycopg.Connection) -> None:
        """Produce `out`, and while the broker's acknowledgements of it are outstanding (for
        up to ALONG_S), fire the handler's work as it falls due (`Handler.with_poll`) in the same
        transaction and produce it too: a deadline passing during that wait — most of a
        pass on a loaded broker — is not left for the next pass."""
        futures = self._send(out)
        first = list(futures)  # waited for; what fires meanwhile is acknowledged after them
        until = time.monotonic() + ALONG_S
        firing = True  # until a try brings nothing (a failure, or only stale work)
        while first and not all(f.is_done for f in first) and time.monotonic() < until:
            wake = self.handler.next_wakeup() if firing else None
            if wake is not None and wake <= 0:
                more = self._along(conn)
                firing = bool(more)
                futures += self._send(more)
            else:
                time.sleep(ACK_CHECK_S if wake is None else min(wake, ACK_CHECK_S))
        self._acknowledged(futures)

    def _send(self, out: list[Outgoing]) -> list[Any]:
        try:
            return [
                self.producer.send(o.topic, key=o.key, value=o.value, headers=o.headers)
                for o in out
            ]
        except Exception as exc:
            raise LoopFailure("send", exc) from exc

    def _acknowledged(self, futures: list[Any]) -> None:
        if not futures:
            return
        try:
            self.producer.flush(timeout=60)
            for fut in futures:
                fut.get(timeout=60)
        except Exception as exc:
            raise LoopFailure("flush", exc) from exc

    def _failed(self, records: list[Record], exc: BaseException, *, alone: bool) -> None:
        """A poll's transaction rolled back: rewind, count, back off."""
        now = time.monotonic()
        if self._failing_since is None:
            self._failing_since = now
        self._failures += 1
        stage = exc.stage if isinstance(exc, LoopFailure) else "handle"
        self._rewind(records)
        extra = about(records[0]) if len(records) == 1 else None
        if passing(exc):
            log.warning(
                "%s: passing failure (%s), retrying %d record(s) from %s: %s",
                self.name,
                stage,
                len(records),
                records[0].where,
                exc,
                extra=extra,
            )
            self.metrics.loop_failures.labels(self.name, "passing").inc()
        else:
            log.exception(
                "%s: %d record(s) from %s failed (%s); rewound, will retry",
                self.name,
                len(records),
                records[0].where,
                stage,
                exc_info=exc,
                extra=extra,
            )
            self.metrics.loop_failures.labels(self.name, stage).inc()
            for tp, first in _firsts(records).items():
                seen = self._trouble.get(tp)
                if seen is not None and seen.offset == first:
                    tries = seen.tries + 1
                else:  # a record failing alone is past the tries of whole polls
                    tries = BATCH_TRIES + 1 if alone else 1
                error = f"{stage}: {exc.cause if isinstance(exc, LoopFailure) else exc!r}"
                self._trouble[tp] = _Trouble(first, tries, error[:1000])
        self._stop.wait(BACKOFF_S[min(self._failures - 1, len(BACKOFF_S) - 1)])

    def _progressed(self, records: list[Record]) -> None:
        self._failing_since = None
        self._failures = 0
        for tp, last in _lasts(records).items():
            self._trouble.pop(tp, None)
            self._uncommitted[tp] = last + 1
        self._commit_offsets()
        counts: dict[str, int] = {}
        now = self.handler.clock.now().timestamp()
        latency = self.metrics.stage_latency.labels(self.name)
        for rec in records:
            counts[rec.spec.name] = counts.get(rec.spec.name, 0) + 1
            # CreateTime is when the upstream stage (or call center) sent the event.
            latency.observe(max(0.0, now - rec.timestamp_ms / 1000))
        for topic, n in counts.items():
            self.metrics.events_processed.labels(self.name, topic).inc(n)

    def _commit_offsets(self, *, wait: bool = False) -> None:
        """Commit exactly what committed transactions covered, without waiting for the
        broker's answer: it comes with a later poll, and the next poll's records need not
        wait a round trip for it. A failed commit is retried with the next one (the records
        in between come again only after a rebalance, and are then de-duplicated).

        `wait`: before partitions go (a rebalance, the stop), synchronously, with what was
        sent and not answered yet."""
        if wait:
            self._commit_now()
            return
        if not self._uncommitted:
            return
        sent, self._uncommitted = self._uncommitted, {}
        self._committing.update(sent)
        generation = self._generation
        offsets = {tp: OffsetAndMetadata(n, "", -1) for tp, n in sent.items()}
        try:
            self.consumer.commit_async(
                offsets, callback=lambda _, res: self._commit_answered(sent, res, generation)
            )
        except Exception as exc:
            self._commit_answered(sent, exc, generation)

    def _commit_answered(
        self, sent: dict[TopicPartition, int], response: object, generation: int
    ) -> None:
        """The broker's answer to an asynchronous commit (answers may come in any order)."""
        if generation != self._generation:
            return  # sent before a rebalance, whose synchronous commit covered it
        for tp, n in sent.items():
            if self._committing.get(tp) == n:
                del self._committing[tp]
        if isinstance(response, Exception):
            self._commit_failed(response)
            for tp, n in sent.items():  # unless a later commit covers it (or is on its way)
                if n > max(self._committing.get(tp, -1), self._committed.get(tp, -1)):
                    self._uncommitted.setdefault(tp, n)
            return
        for tp, n in sent.items():
            self._committed[tp] = max(n, self._committed.get(tp, n))

    def _commit_now(self) -> None:
        pending = {**self._committing, **self._uncommitted}
        if not pending:
            return
        offsets = {tp: OffsetAndMetadata(n, "", -1) for tp, n in pending.items()}
        try:
            self.consumer.commit(offsets)
        except Exception as exc:
            self._commit_failed(exc)
            return
        self._committed.update(pending)
        self._uncommitted, self._committing = {}, {}

    def _commit_failed(self, exc: BaseException) -> None:
        self.metrics.loop_failures.labels(self.name, "commit").inc()
        log.warning("%s: offset commit failed (%s); retried with the next one", self.name, exc)

    def _tick(self) -> None:
        """The handler's periodic work, in its own transaction: a failing periodic job
        cannot sink a poll's records, and it is retried with backoff."""
        now = time.monotonic()
        if now < self._tick_after or not self.handler.tick_due():
            return
        try:
            self._transaction(lambda conn: self._encode_all(self.handler.tick(conn)), along=True)
        except Exception as exc:
            if self._tick_failing_since is None:
                self._tick_failing_since = now
            self._tick_failures += 1
            delay = BACKOFF_S[min(self._tick_failures - 1, len(BACKOFF_S) - 1)]
            self._tick_after = now + delay
            self.metrics.loop_failures.labels(
                self.name, "passing" if passing(exc) else "tick"
            ).inc()
            log.warning("%s: periodic work failed, again in %.1f s: %r", self.name, delay, exc)
            return
        self._tick_failures = 0
        self._tick_after = 0.0
        self._tick_failing_since = None

    # --- handling records ------------------------------------------------------------------

    def _record(self, raw: Any) -> Record:
        return Record(
            spec=self._by_topic[raw.topic],
            topic=raw.topic,
            partition=raw.partition,
            offset=raw.offset,
            key=raw.key,
            value=raw.value,
            headers=list(raw.headers or []),
            timestamp_ms=raw.timestamp,
        )

    def _process(self, recs: list[Record], conn: psycopg.Connection) -> list[Outgoing]:
        out: list[Outgoing] | None = None
        if self.handler.batched:
            out = self._process_batch(recs, conn)
        if out is None:
            out = []
            for rec in recs:
                out.extend(self._process_one(rec, conn))
        return out

    def _along(self, conn: psycopg.Connection) -> list[Outgoing]:
        """The handler's due work that goes out with this poll (see `Handler.with_poll`)."""
        mark = self.handler.hooks.mark()
        try:
            with conn.transaction():
                return self._encode_all(self.handler.with_poll(conn))
        except Exception as exc:
            self.handler.hooks.savepoint_rolled_back(mark)
            if passing(exc):
                raise
            self.metrics.loop_failures.labels(self.name, "tick").inc()
            log.warning(
                "%s: periodic work with a poll failed, left to the next pass: %r", self.name, exc
            )
            return []

    def _process_batch(self, recs: list[Record], conn: psycopg.Connection) -> list[Outgoing] | None:
        mark = self.handler.hooks.mark()
        topics = {r.topic for r in recs}  # a batch names its records itself, one by one
        context = handling(topic=topics.pop() if len(topics) == 1 else None)
        try:
            with context, conn.transaction():
                results = list(self.handler.handle_batch(recs, conn))
                return self._encode_all(
                    self.dead_letter(r.record, r.error) if isinstance(r, Rejected) else r
                    for r in results
                )
        except Exception as exc:
            self.handler.hooks.savepoint_rolled_back(mark)
            if passing(exc):
                raise
            log.exception("%s: batch of %d failed; retrying one by one", self.name, len(recs))
            return None

    def _process_one(self, rec: Record, conn: psycopg.Connection) -> list[Outgoing]:
        with handling(**about(rec)):
            return self._process_one_here(rec, conn)

    def _process_one_here(self, rec: Record, conn: psycopg.Connection) -> list[Outgoing]:
        mark = self.handler.hooks.mark()
        try:
            with conn.transaction():
                if self.handler.batched:
                    emits: list[Emit] = []
                    for r in self.handler.handle_batch([rec], conn):
                        if isinstance(r, Rejected):
                            raise r.error
                        emits.append(r)
                else:
                    emits = list(self.handler.handle(rec, conn))
                return self._encode_all(emits)
        except PoisonMessage as exc:
            self.handler.hooks.savepoint_rolled_back(mark)
            return [self._encode(self.dead_letter(rec, exc))]
        except Exception as exc:
            self.handler.hooks.savepoint_rolled_back(mark)
            if passing(exc):
                raise
            # A bug must not stop the worker nor lose the message.
            log.exception("%s: unexpected error at %s", self.name, rec.where)
            return [
                self._encode(self.dead_letter(rec, PoisonMessage("handler_error", [repr(exc)])))
            ]

    def _encode_all(self, emits: Iterable[Emit]) -> list[Outgoing]:
        return [self._encode(e) for e in emits]

    def _encode(self, emit: Emit) -> Outgoing:
        return Outgoing(
            topic=self.settings.topic(emit.topic.name),
            key=emit.key.encode(),
            value=encode(emit.value),
            headers=emit.event.headers(),
        )

    def dead_letter(self, rec: Record, exc: PoisonMessage) -> Emit:
        """The dead letter of a record: original bytes, where it came from, every reason."""
        log.warning(
            "%s: dead-lettered %s (%s): %s",
            self.name,
            rec.where,
            exc.reason,
            "; ".join(exc.errors)[:500],
            extra=about(rec),
        )
        self.handler.after_commit(self.metrics.dead_letters.labels(self.name, exc.reason).inc)
        self.handler.dead_lettered(rec, exc)
        return dead_letter(
            rec, exc, worker=self.name, sealer=self._raw_sealer, now=self.handler.clock.now()
        )

    # --- positions -------------------------------------------------------------------------

    def _rewind(self, records: list[Any]) -> None:
        """Seek every partition of `records` (ours, or as polled) back to its first one."""
        for tp, offset in _firsts(records).items():
            if tp in self.consumer.assignment():
                self.consumer.seek(tp, offset)

    def _idle(self) -> bool:
        owned = self.consumer.assignment()
        busy = (
            owned & set(self._trouble)
            or self._uncommitted
            or self._committing
            or self._tick_failures
        )
        if not owned or busy or self._failing_since is not None:
            return False
        ends = self.consumer.end_offsets(list(owned))
        return all(self.consumer.position(tp) >= end for tp, end in ends.items())

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
            # Lag counts from what is committed, not from the consumer's position: a
            # partition that keeps failing shows its records as not yet consumed.
            done = self._uncommitted.get(tp, self._committing.get(tp, self._committed.get(tp)))
            if done is None:
                try:
                    done = self.consumer.position(tp)
                except Exception:  # lag is advisory; never let it stop the loop
                    continue
            if done is not None:
                per_topic[tp.topic] = per_topic.get(tp.topic, 0) + max(0, end - done)
        for topic, lag in per_topic.items():
            spec = self._by_topic.get(topic)
            self.metrics.consumer_lag.labels(self.group, spec.name if spec else topic).set(lag)

    def _partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        assert self._pool is not None
        self._generation += 1
        for tp in assigned:
            self._committed.pop(tp, None)
        with self._pool.connection() as conn:
            self.handler.assigned({tp.partition for tp in assigned}, conn)

    def _partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        self._commit_offsets(wait=True)
        self._generation += 1
        for tp in revoked:
            # Troubles are kept: they name an offset, so they count again only if the
            # partition comes back to this instance still stuck there.
            self._uncommitted.pop(tp, None)
            self._committing.pop(tp, None)
            self._committed.pop(tp, None)
        self.handler.revoked({tp.partition for tp in revoked})


def about(rec: Record) -> dict[str, object]:
    """What a log line says of a record: where it is, and its complaint when the key tells
    (the complaint id itself, or a raw event's `source:complaint_ref`, which derives it)."""
    out: dict[str, object] = {"topic": rec.topic, "partition": rec.partition, "offset": rec.offset}
    key = rec.key.decode("utf-8", "replace") if rec.key else None
    if key and rec.spec.key == "complaint_id":
        if _UUID.fullmatch(key):  # whatever else a stray producer put there stays out
            out["complaint_id"] = key
    elif key and rec.spec is RAW and ":" in key:
        out["complaint_id"] = complaint_id_for(*key.split(":", 1))
    return out


def _tp(rec: Any) -> TopicPartition:
    return TopicPartition(rec.topic, rec.partition)


def _firsts(records: list[Any]) -> dict[TopicPartition, int]:
    out: dict[TopicPartition, int] = {}
    for rec in records:
        tp = _tp(rec)
        out[tp] = min(out.get(tp, rec.offset), rec.offset)
    return out


def _lasts(records: list[Record]) -> dict[TopicPartition, int]:
    out: dict[TopicPartition, int] = {}
    for rec in records:
        tp = _tp(rec)
        out[tp] = max(out.get(tp, rec.offset), rec.offset)
    return out
