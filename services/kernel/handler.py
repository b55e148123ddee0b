"""What a worker implements: the Handler interface, the records it gets, and its commit hooks."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

import psycopg
from kafka import KafkaProducer
from prometheus_client import CollectorRegistry
from pydantic import BaseModel

from schemas.envelope import CloudEvent
from schemas.registry import TopicSpec
from services.kernel.clock import Clock
from services.kernel.db import Migration
from services.kernel.emit import Emit, decode, emit
from services.kernel.errors import PoisonMessage
from services.kernel.problems import ConfigProblems
from services.kernel.settings import Settings


class MetricsFactory(Protocol):
    """A worker's metrics class: `create(registry)` defines them on the worker's registry."""

    @classmethod
    def create(cls, registry: CollectorRegistry) -> Any: ...


class NoMetrics:
    @classmethod
    def create(cls, registry: CollectorRegistry) -> NoMetrics:
        return cls()


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


class Hooks:
    """Callbacks that follow the database transaction under way.

    A handler changes state outside the database (a heap, a cache, a counter) through
    `after_commit`, so a rolled-back transaction leaves no trace of it, and undoes what it
    already changed through `after_rollback`. Callbacks registered inside a savepoint that
    rolls back are settled at once: its commit callbacks dropped, its rollback callbacks run.
    Outside a transaction (a handler driven directly, as in component tests) there is
    nothing to wait for: commit callbacks run at once.
    """

    def __init__(self) -> None:
        self._open = False
        self._on_commit: list[Callable[[], None]] = []
        self._on_rollback: list[Callable[[], None]] = []

    def begin(self) -> None:
        self._open = True
        self._on_commit.clear()
        self._on_rollback.clear()

    def after_commit(self, fn: Callable[[], None]) -> None:
        if self._open:
            self._on_commit.append(fn)
        else:
            fn()

    def after_rollback(self, fn: Callable[[], None]) -> None:
        if self._open:
            self._on_rollback.append(fn)

    def mark(self) -> tuple[int, int]:
        """Where a savepoint starts (see `savepoint_rolled_back`)."""
        return len(self._on_commit), len(self._on_rollback)

    def savepoint_rolled_back(self, mark: tuple[int, int]) -> None:
        commits, rollbacks = mark
        undo = self._on_rollback[rollbacks:]
        del self._on_commit[commits:], self._on_rollback[rollbacks:]
        for fn in reversed(undo):
            fn()

    def committed(self) -> None:
        todo = self._settle()[0]
        for fn in todo:
            fn()

    def rolled_back(self) -> None:
        todo = self._settle()[1]
        for fn in reversed(todo):
            fn()

    def _settle(self) -> tuple[list[Callable[[], None]], list[Callable[[], None]]]:
        self._open = False
        out = (self._on_commit, self._on_rollback)
        self._on_commit, self._on_rollback = [], []
        return out


class Handler:
    """What a worker does; the runtime owns Kafka, the database and metrics around it."""

    name: str = "worker"
    inputs: tuple[TopicSpec, ...] = ()
    schema: str = ""
    migrations: tuple[Migration, ...] = ()
    batched: bool = False
    """True when `handle_batch` does set-based work for a whole poll at once."""
    settings_class: type[Settings] = Settings
    """The worker's own settings (its `settings.py`), a subclass of the shared ones."""
    metrics_class: type[MetricsFactory] = NoMetrics
    """The worker's own metrics (its `metrics.py`)."""

    def __init__(self, settings: Settings, registry: CollectorRegistry, clock: Clock) -> None:
        self.settings: Any = self.settings_class.of(settings)
        self.metrics: Any = self.metrics_class.create(registry)
        self.clock = clock
        self.problems = ConfigProblems.create(self.name, registry, clock)
        """Configuration problems this worker runs on with (see `config_problem`)."""
        self.hooks = Hooks()
        self.reject: Callable[[Record, PoisonMessage], Emit] = _no_dead_letters

    @property
    def source(self) -> str:
        """The CloudEvents source of what this worker emits."""
        return f"/complaintflow/{self.name}"

    def emit(
        self,
        spec: TopicSpec,
        key: str,
        model: BaseModel,
        *cause: object,
        subject: str | None = None,
    ) -> Emit:
        """The message of `model` on `spec`, its `ce_id` derived from `cause` (stable across
        replays), stamped with this worker's source and the clock's time."""
        return emit(
            spec,
            key,
            model,
            cause=cause,
            source=self.source,
            time=self.clock.now(),
            subject=subject,
        )

    def config_problem(self, kind: str, message: str, *, subject: str = "", count: int = 1) -> None:
        """Report a gap in the configuration the worker falls back from and runs on with.

        `kind` is a low-cardinality code (the metric label), `subject` what it is about (a
        policy, a calendar, a file; never a complaint id), `message` what is wrong and what the
        worker does instead. Logged once per distinct problem, counted each time, listed on
        `/readyz` until `config_fixed` — once the transaction under way commits, like every
        other count, so a batch that is rolled back and tried again counts once.
        """
        self.after_commit(lambda: self.problems.report(kind, message, subject=subject, count=count))

    def config_fixed(self, kind: str, *, subject: str = "") -> None:
        """The problem reported as (`kind`, `subject`) is gone (once the transaction commits)."""
        self.after_commit(lambda: self.problems.clear(kind, subject=subject))

    def after_commit(self, fn: Callable[[], None]) -> None:
        """Run `fn` once the transaction under way commits (never if it rolls back)."""
        self.hooks.after_commit(fn)

    def after_rollback(self, fn: Callable[[], None]) -> None:
        """Run `fn` if the transaction under way rolls back (to undo a change already made)."""
        self.hooks.after_rollback(fn)

    def dead_lettered(self, record: Record, error: PoisonMessage) -> None:
        """Called by the runtime, in the transaction under way, for each record it
        dead-letters (whoever refused it): count it here, through `after_commit`."""

    def handle_batch(
        self, records: list[Record], conn: psycopg.Connection
    ) -> Iterable[Emit | Rejected]:
        """Process a whole poll; if it raises, the runtime retries the records one by one."""
        out: list[Emit | Rejected] = []
        for rec in records:
            out.extend(self.handle(rec, conn))
        return out

    def start(self, conn: psycopg.Connection) -> None:
        """Called once after migrations, before the first poll."""

    def serve(self, producer: KafkaProducer) -> Callable[[], None] | None:
        """Start any extra endpoint the worker offers; returns how to stop it."""
        return None

    def handle(self, record: Record, conn: psycopg.Connection) -> Iterable[Emit]:
        """Process one record; raise PoisonMessage to dead-letter it."""
        raise PoisonMessage("unhandled_topic", [f"{self.name} does not read {record.topic}"])

    def tick(self, conn: psycopg.Connection) -> Iterable[Emit]:
        """Periodic work between polls (timers, aggregates), in a transaction of its own."""
        return ()

    def tick_due(self) -> bool:
        """Whether `tick` may have work now. False skips its transaction for this poll (a
        database round trip to begin it and one to commit it, which every poll's records
        would otherwise wait behind); a handler whose work comes every second or so says
        when."""
        return True

    def with_poll(self, conn: psycopg.Connection) -> Iterable[Emit]:
        """Periodic work due now that goes out with the poll under way: called in its
        transaction once its records are handled, before its outputs are produced, so what it
        emits shares the poll's wait for the broker's acknowledgements instead of waiting
        behind it for `tick` (under a backlog, that wait is most of a poll). A failure here is
        rolled back alone and left to `tick`: it never counts against the poll's records."""
        return ()

    def next_wakeup(self) -> float | None:
        """Seconds until `tick` has something to do, if sooner than the poll timeout."""
        return None

    def batch_limit(self) -> int | None:
        """At most this many records in the next poll (None: the `max_batch` setting). A
        handler whose `tick` must not wait behind a long batch asks for small ones while
        something falls due soon."""
        return None

    def assigned(self, partitions: set[int], conn: psycopg.Connection) -> None:
        """Partitions (of the co-partitioned input topics) now owned by this instance."""

    def revoked(self, partitions: set[int]) -> None:
        """Partitions no longer owned by this instance."""


Decoded = tuple[Record, Any, CloudEvent]
"""A record, the model its value holds and its CloudEvent."""


def poll_of_one(handler: Handler, record: Record, conn: psycopg.Connection) -> list[Emit]:
    """What `handler.handle_batch` emits for a poll of `record` alone; its refusal raised (a
    set-based handler's `handle`)."""
    out: list[Emit] = []
    for result in handler.handle_batch([record], conn):
        if isinstance(result, Rejected):
            raise result.error
        out.append(result)
    return out


def decode_all(records: list[Record]) -> tuple[list[Decoded], list[Rejected]]:
    """Decode a poll of our own envelopes: (record, model, event) of each good one, and the
    broken ones refused with their reason."""
    good: list[Decoded] = []
    refused: list[Rejected] = []
    for rec in records:
        try:
            model, event = decode(rec.spec, rec.value, rec.headers)
        except PoisonMessage as exc:
            refused.append(Rejected(rec, exc))
            continue
        good.append((rec, model, event))
    return good, refused


def _no_dead_letters(record: Record, error: PoisonMessage) -> Emit:
    raise error
