"""The early-warning worker as a faust-streaming app: two agents over changelog-backed tables.

`join` reads `complaints.registered.v1` and `complaints.routed.v1` (co-partitioned by
complaint id) and keeps each half in the `pending` table until routing's first decision meets
its complaint; the joined signal goes to a one-partition internal topic, so that one `detect`
agent sees every complaint and owns the `state` table of counts, places, texts and open
episodes. The detection itself is `detector.py`'s; this module decodes, calls and emits.

Both agents take their input in batches (`stream.take_events`): a batch's signals are sent
together and awaited once, and a batch's table changes are written once per key, after it —
the state one event at a time would leave, at a fraction of the changelog sends and broker
round trips.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import faust
from faust.types import EventT
from prometheus_client import CollectorRegistry

from schemas.alerts import Alert
from schemas.envelope import encode
from schemas.registered import RegisteredComplaint
from schemas.registry import ALERTS, REGISTERED, REJECTED, ROUTED, TopicSpec
from schemas.routed import RoutedComplaint
from services.early_warning import pending
from services.early_warning.detector import Detector, Outcome
from services.early_warning.journal import Overlay, apply
from services.early_warning.metrics import EarlyWarningMetrics
from services.early_warning.settings import EarlyWarningSettings
from services.early_warning.signals import Signal, join
from services.kernel.dead_letter import dead_letter
from services.kernel.emit import Emit, decode, emit
from services.kernel.errors import ConfigError, PoisonMessage
from services.kernel.handler import Record
from services.kernel.metrics import Metrics
from services.kernel.sealing import Sealer
from services.kernel.settings import KafkaConnection

log = logging.getLogger(__name__)
NAME = "early_warning"
SOURCE = f"/complaintflow/{NAME}"
SIGNALS_TOPIC = "early_warning.signals.v1"
"""The internal topic of joined signals (one partition: one `detect` agent sees them all)."""
TICK_SECONDS = 30.0
LAG_SECONDS = 5.0
"""How often `complaintflow_consumer_lag` is worked out (as the other workers do)."""
JOIN_BATCH = 500
DETECT_BATCH = 100
"""Events an agent takes at most in one batch."""
PACK = 50
"""Signals sent in one message on the internal topic (a message of one signal, as earlier
versions sent, is read too)."""
JOURNAL_STEPS = 100
"""Steps of the detector after which their table changes are written as one journal entry
(a bounded value; a message's steps are never split)."""
BATCH_SECONDS = 0.05
"""How long an agent waits for a batch to fill before it takes what has come."""
COMMIT_SECONDS = 2.0
"""How often the group commits the offsets of what the agents have finished (faust commits
an event once its agent has finished the batch it came in and asked for the next, after the
producer's flush: the signal, the alerts and the tables' changelog are on the broker first).
The group's lag on its inputs (what KEDA's scaler and the bench's flood read) falls to 0
within this of its last event."""
TAIL_SECONDS = 15.0
"""How long a source partition's read mark may stand still behind the partition's end before
the rest is read past the stream (`_tails`)."""
TAIL_READ = 5000
"""Events `_tails` reads at most from one partition at a time."""
METADATA_SECONDS = 5
"""How often the consumer refreshes the topics' metadata (a topic that appears after the
group's join is assigned within this)."""


class Table(faust.Table):  # type: ignore[type-arg]
    """faust's table, whose writes may name their changelog partition (`writing_to`): the
    agents write a batch's changes after the batch, outside the iteration of the event each
    comes from, so they say whose partition that is (faust reads it off the current event)."""

    writing_to: int | None = None

    def partition_for_key(self, key: Any) -> int | None:
        if self.writing_to is not None:
            return self.writing_to
        found: int | None = super().partition_for_key(key)
        return found


@dataclasses.dataclass
class _JoinBatch:
    """What a batch of the join makes, before any of it is written: the signals to send, and
    the `pending` entries as its events leave them (complaint id → source partition, value;
    a key written twice in a batch is written once, as its last event left it). A sweep of a
    partition ends a batch: it reads the table as written so far."""

    signals: list[Signal] = dataclasses.field(default_factory=list)
    writes: dict[str, tuple[int, Any]] = dataclasses.field(default_factory=dict)
    sweep: int | None = None
    handled: dict[str, int] = dataclasses.field(default_factory=dict)
    read: dict[str, int] = dataclasses.field(default_factory=dict)
    """Each source partition's last offset handled in the batch (`pending.read_mark`)."""


class EarlyWarningApp:
    """The faust app, its topics, tables and agents, built from settings."""

    def __init__(
        self,
        settings: EarlyWarningSettings,
        registry: CollectorRegistry,
        *,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.rules = dataclasses.replace(settings.rules(), sources=REGISTERED.partitions)
        self.metrics = EarlyWarningMetrics.create(registry)
        self.flow = Metrics.create(registry)
        self.wall = wall
        self.beat = time.monotonic()
        self._ready = False
        self.sealer = Sealer(settings.pii_secret(), "dead-letters")
        conn = settings.kafka(NAME)
        self.group = settings.group(NAME)
        datadir = settings.home / "early-warning"
        datadir.mkdir(parents=True, exist_ok=True)
        self.app = faust.App(
            self.group,
            broker=[f"kafka://{server}" for server in conn.bootstrap_servers.split(",")],
            broker_credentials=credentials(conn),
            store="memory://",
            web_enabled=False,
            datadir=str(datadir),
            topic_replication_factor=settings.topic_replication,
            processing_guarantee="exactly_once" if settings.ew_exactly_once else "at_least_once",
            consumer_auto_offset_reset="earliest",
            broker_commit_interval=COMMIT_SECONDS,
            # The group's first join can come before the broker's metadata names the internal
            # topics faust has just created: they are left out of the assignment (faust logs
            # "Ignoring missing topic") until a metadata refresh shows them and the client
            # joins again — five minutes by default, during which `detect` reads nothing.
            consumer_metadata_max_age_ms=METADATA_SECONDS * 1000,
            table_standby_replicas=0,
            producer_max_request_size=4 * 1024 * 1024,
            # as the other workers' producers: a batch's signals and changelog writes go in
            # a few requests, not one each
            producer_linger=0.005,
            producer_max_batch_size=64 * 1024,
            Table=Table,
        )
        raw = {"key_serializer": "raw", "value_serializer": "raw"}
        self.inputs = {settings.topic(s.name): s for s in (REGISTERED, ROUTED)}
        self.source = self.app.topic(*self.inputs, **raw)  # type: ignore[arg-type]
        self.signals = self.app.topic(
            settings.topic(SIGNALS_TOPIC),
            partitions=1,
            internal=True,
            **raw,  # type: ignore[arg-type]
        )
        self.alerts = self.app.topic(settings.topic(ALERTS.name), **raw)  # type: ignore[arg-type]
        self.rejected = self.app.topic(settings.topic(REJECTED.name), **raw)  # type: ignore[arg-type]
        self.pending: Table = self.app.Table(
            "pending", default=None, partitions=REGISTERED.partitions
        )  # type: ignore[assignment]
        self._newest: dict[int, float] = {}
        self._pruned: dict[int, float] = {}
        self.state: Table = self.app.Table("state", default=None, partitions=1)  # type: ignore[assignment]
        self.state.writing_to = 0
        # Offsets between two signals: 1, or 2 with transactions (each commit's marker takes
        # an offset); a larger step is a hole (`_missed`).
        self._hole = 2 if settings.ew_exactly_once else 1
        self.app.agent(self.source, name="join")(self._join)
        self.app.agent(self.signals, name="detect")(self._detect)
        self.app.timer(TICK_SECONDS)(self._tick)
        self.app.timer(1.0)(self._heartbeat)
        self.app.timer(LAG_SECONDS)(self._lag)
        self.app.timer(TAIL_SECONDS)(self._tails)
        self._joining = asyncio.Lock()
        self._moved: dict[str, float] = {}  # a source partition's read mark → when it moved

    # -- join: registered + routed → signal --------------------------------------------------
    async def _join(self, stream: Any) -> None:
        async for events in stream.take_events(JOIN_BATCH, within=BATCH_SECONDS):
            self.beat = time.monotonic()
            async with self._joining:
                batch = _JoinBatch()
                for event in events:
                    msg = event.message
                    spec = self.inputs[msg.topic]
                    mark = pending.read_mark(msg.topic, msg.partition)
                    last = batch.read.get(mark, pending.read_offset(self.pending.get(mark)))
                    if last is not None and msg.offset <= last:
                        continue  # handled before a restart: its offset was not committed
                    todo = [Record(spec, msg.topic, msg.partition, msg.offset, msg.key,
                                   msg.value, _headers(event), 0)]  # fmt: skip
                    if last is not None and msg.offset > last + 1:  # never delivered
                        todo[:0] = await self._missed_source(
                            spec, msg.partition, last + 1, msg.offset
                        )
                    for rec in todo:
                        batch = await self._take(rec, batch)
                await self._settle(batch)

    async def _take(self, rec: Record, batch: _JoinBatch) -> _JoinBatch:
        """One source event into the batch (which a sweep settles: then a new one)."""
        mark = pending.read_mark(rec.topic, rec.partition)
        batch.read[mark] = rec.offset
        self._moved[mark] = time.monotonic()
        try:
            model, _ = decode(rec.spec, rec.value, rec.headers)
        except PoisonMessage as exc:
            await self._dead_letter(rec, exc)
            return batch
        self._pair(model, rec.partition, batch)
        batch.handled[rec.spec.name] = batch.handled.get(rec.spec.name, 0) + 1
        if self._sweep_due(rec.partition, model.occurred_at.timestamp()):
            batch.sweep = rec.partition
            await self._settle(batch)
            return _JoinBatch()
        return batch

    async def _tails(self) -> None:
        """A run the stream never delivered at the end of a partition shows no hole (no later
        message comes to reveal it): a source partition whose read mark has not moved for
        `TAIL_SECONDS` while its end is further on is read past the stream here, as `_join`
        would (under the same lock: never beside a batch); never while a rebalance or the
        tables' recovery is under way."""
        if not self._ready:
            return
        consumer = self.app.consumer
        try:
            assigned = consumer.assignment()
        except Exception:  # not started, or between assignments: the next pass looks
            return
        now = time.monotonic()
        for tp in assigned:
            spec = self.inputs.get(tp.topic)
            end = consumer.highwater(tp) if spec is not None else None
            if spec is None or end is None:
                continue
            mark = pending.read_mark(tp.topic, tp.partition)
            async with self._joining:
                last = pending.read_offset(self.pending.get(mark))
                stuck = now - self._moved.setdefault(mark, now) >= TAIL_SECONDS
                if last is None or last + 1 >= end or not stuck:
                    continue
                batch = _JoinBatch()
                upto = min(end, last + 1 + TAIL_READ)
                for rec in await self._missed_source(spec, tp.partition, last + 1, upto):
                    batch = await self._take(rec, batch)
                await self._settle(batch)
                self._moved[mark] = now

    async def _missed_source(
        self, spec: TopicSpec, partition: int, start: int, end: int
    ) -> list[Record]:
        """A source partition's events from `start` up to `end` (excluded), read past the
        stream (see `_missed`): the `pending` table keeps the offset of each source
        partition's last event the join handled, written with the batch's entries."""
        topic = self.settings.topic(spec.name)
        log.warning(
            "%s: %s[%d] %d to %d were not delivered by the stream; reading them", NAME, topic,
            partition, start, end - 1,
        )  # fmt: skip
        conn = self.settings.kafka(f"{NAME}-reread").as_dict()
        found = await asyncio.to_thread(read_range, conn, topic, partition, start, end)
        self.metrics.reread.labels(spec.name).inc(len(found))
        return [
            Record(spec, topic, partition, offset, key, value, headers, 0)
            for offset, key, value, headers in found
        ]

    def _pair(self, model: Any, part: int, batch: _JoinBatch) -> None:
        """Keep one half until the other comes; the signal once both are here (first routing
        decision only: re-routes change no count)."""
        cid = model.complaint_id
        held = batch.writes[cid][1] if cid in batch.writes else self.pending.get(cid)
        if pending.is_done(held):
            return
        half = dict(held or {})
        if isinstance(model, RegisteredComplaint):
            half["reg"] = model.model_dump(mode="json")
        elif isinstance(model, RoutedComplaint) and "route" not in half:
            half["route"] = model.model_dump(mode="json")
        if "reg" in half and "route" in half:
            signal = join(
                RegisteredComplaint.model_validate(half["reg"]),
                RoutedComplaint.model_validate(half["route"]),
                min_confidence=self.settings.ew_min_confidence,
                part=part,
            )
            batch.signals.append(signal)
            # Written once the signal is on the broker (`_settle`): a crash in between sends
            # it again, and the detector counts a complaint once.
            half = pending.done(signal.occurred_at, part)
        else:
            half.update(pending.stamp(model.occurred_at.timestamp(), part))
        batch.writes[cid] = (part, half)

    async def _settle(self, batch: _JoinBatch) -> None:
        """Send a batch's signals and wait until the broker has them all; then write its
        `pending` entries, and sweep."""
        sent = [
            await self.signals.send(
                key=b"all",
                value=_json({"signals": [s.as_json() for s in batch.signals[i : i + PACK]]}),
            )
            for i in range(0, len(batch.signals), PACK)
        ]
        if sent:
            await asyncio.gather(*sent)
        for key, (part, value) in batch.writes.items():
            self.pending.writing_to = part
            self.pending[key] = value
        for mark, offset in batch.read.items():  # after the signals and entries they made
            part = pending.read_partition(mark)
            self.pending.writing_to = part
            self.pending[mark] = pending.read_entry(offset, part)
        if batch.sweep is not None:
            self.pending.writing_to = batch.sweep
            self._sweep(batch.sweep)
        for topic, n in batch.handled.items():
            self.flow.events_processed.labels(NAME, topic).inc(n)

    def _sweep_due(self, part: int, occurred_at: float) -> bool:
        """Now and then (an hour of event time on this partition) this partition's done
        markers and lone halves older than any window they could still count in go."""
        newest = self._newest[part] = max(self._newest.get(part, occurred_at), occurred_at)
        last = self._pruned.setdefault(part, newest)
        if newest - last < pending.PRUNE_EVERY_SECONDS:
            return False
        self._pruned[part] = newest
        return True

    def _sweep(self, part: int) -> None:
        horizon = self._newest[part] - pending.horizon(self.rules)
        for key in pending.stale(self.pending.items(), part, horizon):
            del self.pending[key]  # this partition's key, in this partition's changelog

    async def _dead_letter(self, rec: Record, exc: PoisonMessage) -> None:
        log.warning("%s: dead-lettered %s (%s)", NAME, rec.where, exc.reason)
        self.flow.dead_letters.labels(NAME, exc.reason).inc()
        letter = dead_letter(rec, exc, worker=NAME, sealer=self.sealer, now=datetime.now(UTC))
        await self._send(self.rejected, letter)

    # -- detect: signal → alerts -------------------------------------------------------------
    async def _detect(self, stream: Any) -> None:
        overlay = Overlay(self.state)
        detector = Detector(overlay, self.rules)
        redone = False
        async for events in stream.take_events(DETECT_BATCH, within=BATCH_SECONDS):
            self.beat = time.monotonic()
            if not redone:  # the first batch after recovery: finish what a crash cut short
                await self._redo()
                redone = True
            last = self._applied()
            outcomes: list[Outcome] = []
            for event in events:
                offset = event.message.offset
                if offset <= last:
                    continue  # already applied before a crash: its offset was not committed
                todo: list[tuple[int, bytes]] = [(offset, event.value)]
                if offset > last + self._hole:  # signals never delivered: read them first
                    todo[:0] = await self._missed(last + 1, offset)
                for at, value in todo:
                    outcomes += self._step(detector, value)
                    last = at
                    if len(outcomes) >= JOURNAL_STEPS:
                        await self._commit(overlay, outcomes, at)
                        outcomes = []
            if outcomes:
                await self._commit(overlay, outcomes, last)

    def _step(self, detector: Detector, value: bytes) -> list[Outcome]:
        """The detector's steps for one message of the signals topic (a tick, or signals)."""
        found = _loads(value)
        outcomes: list[Outcome] = []
        if "tick" in found:
            started = time.perf_counter()
            outcomes.append(detector.advance(float(found["tick"])))
            self.metrics.detect_seconds.observe(time.perf_counter() - started)
        for doc in found.get("signals", [found] if "tick" not in found else []):
            started = time.perf_counter()
            signal = Signal.from_json(doc)
            outcomes.append(detector.observe(signal))
            self.metrics.detect_seconds.observe(time.perf_counter() - started)
            self.flow.stage_latency.labels(NAME).observe(max(0.0, self.wall() - signal.occurred_at))
        return outcomes

    async def _missed(self, start: int, end: int) -> list[tuple[int, bytes]]:
        """The signals from `start` up to `end` (excluded), read past the stream. faust 0.15
        can leave a run of a partition undelivered when a rebalance's seek races its fetch
        after a restart, and commit past it (its 'gaps' count as done): the detector would
        never see those complaints. Its `applied` mark says where it stopped; the stream's
        next offset shows the hole, which is read here with a plain consumer of no group."""
        log.warning(
            "%s: signals %d to %d were not delivered by the stream; reading them", NAME,
            start, end - 1,
        )  # fmt: skip
        conn = self.settings.kafka(f"{NAME}-reread").as_dict()
        topic = self.settings.topic(SIGNALS_TOPIC)
        found = await asyncio.to_thread(read_range, conn, topic, 0, start, end)
        self.metrics.reread.labels(SIGNALS_TOPIC).inc(len(found))
        return [(offset, value) for offset, _, value, _ in found]

    async def _commit(self, overlay: Overlay, outcomes: list[Outcome], offset: int) -> None:
        """The steps' writes up to `offset` (each key once, as the last step left it) as one
        journal entry, then applied, their alerts sent, then `offset` marked applied: all or
        nothing."""
        body = overlay.take()
        body["alerts"] = [a.model_dump(mode="json") for o in outcomes for a in o.alerts]
        body["offset"] = offset
        self.state["journal"] = body
        apply(self.state, body)
        for outcome in outcomes:
            await self._publish(outcome)
        self.state["applied"] = offset
        self.flow.events_processed.labels(NAME, "signals").inc(len(outcomes))

    async def _redo(self) -> None:
        """A journal entry newer than the applied mark is applied again, its alerts sent
        again (the same `ce_id`: readers de-duplicate on it)."""
        body = self.state.get("journal")
        if body and body["offset"] > self._applied():
            log.warning("%s: finishing step %d cut short by a crash", NAME, body["offset"])
            apply(self.state, body)
            alerts = [Alert.model_validate(a) for a in body["alerts"]]
            await self._publish(Outcome(alerts=alerts), again=True)
            self.state["applied"] = body["offset"]

    def _applied(self) -> int:
        """The offset of the last signal applied (-1 before the first; 0 is an offset)."""
        found = self.state.get("applied")
        return -1 if found is None else int(found)

    async def _publish(self, outcome: Outcome, *, again: bool = False) -> None:
        if outcome.late:
            self.metrics.late_complaints.inc(outcome.late)
        sent = []
        for alert in outcome.alerts:
            if not again:
                self.metrics.alerts.labels(alert.kind.value, alert.status.value).inc()
                if alert.status.value == "open":
                    self.metrics.emerging_issues.labels(alert.kind.value, alert.category).inc()
            log.info("%s %s r%d", alert.status.value, alert.alert_key, alert.revision)
            out = emit(
                ALERTS,
                alert.alert_key,
                alert,
                cause=("alert", alert.alert_key, alert.revision),
                source=SOURCE,
                time=datetime.now(UTC),
            )
            sent.append(await self._send_soon(self.alerts, out))
        if sent:
            await asyncio.gather(*sent)

    async def _send(self, topic: Any, out: Emit) -> None:
        """Send and wait until the broker has it (what follows in the tables may rely on it)."""
        await (await self._send_soon(topic, out))

    async def _send_soon(self, topic: Any, out: Emit) -> Any:
        """Send; the future of the broker's acknowledgement."""
        return await topic.send(
            key=out.key.encode(), value=encode(out.value), headers=out.event.headers()
        )

    async def _tick(self) -> None:
        """While the stream is live, the wall clock closes windows no complaint closes."""
        meta = self.state.get("meta")
        now = self.wall()
        newest = max((t for t, _ in (meta or {}).get("parts", {}).values()), default=None)
        if newest is not None and now - newest < self.settings.ew_live_seconds:
            mark = now - self.rules.lateness_seconds
            await self.signals.send(key=b"all", value=_json({"tick": mark}))

    async def _heartbeat(self) -> None:
        """On the event loop (the app's objects are not for the ops server's thread)."""
        self.beat = time.monotonic()
        recovery = getattr(self.app.tables, "recovery", None)
        done = recovery is not None and recovery.completed.is_set()
        self._ready = bool(done and not self.app.rebalancing and self.app.consumer.assignment())

    async def _lag(self) -> None:
        """`complaintflow_consumer_lag` of the source topics: records past what the group has
        committed (before its first commit here, past the consumer's position)."""
        consumer = self.app.consumer
        try:
            assigned = consumer.assignment()
        except Exception:  # not started, or between assignments: the next pass reports
            return
        committed = self.app.monitor.tp_committed_offsets
        behind: dict[str, int] = {}
        for tp in assigned:
            spec = self.inputs.get(tp.topic)
            end = consumer.highwater(tp) if spec is not None else None
            if spec is None or end is None:
                continue
            done = committed.get(tp)
            if done is None:
                try:
                    done = await consumer.position(tp)
                except Exception:  # lag is advisory; never let it stop the worker
                    continue
            if done is not None:
                behind[spec.name] = behind.get(spec.name, 0) + max(0, end - done)
        for name, lag in behind.items():
            self.flow.consumer_lag.labels(self.group, name).set(lag)

    # -- health ------------------------------------------------------------------------------
    def healthy(self) -> bool:
        return time.monotonic() - self.beat < 60

    def ready(self) -> bool:
        return self._ready and self.healthy()


def credentials(conn: KafkaConnection) -> faust.types.auth.CredentialsT | None:
    """faust's form of the connection settings every other worker gives kafka-python:
    TLS (with the CA, and a client certificate if one is set) and SASL."""
    context = conn.ssl_context()
    match conn.security_protocol:
        case "PLAINTEXT":
            return None
        case "SSL":
            return faust.SSLCredentials(context)
        case "SASL_PLAINTEXT" | "SASL_SSL":
            password = conn.sasl_password.get_secret_value() if conn.sasl_password else None
            return faust.SASLCredentials(
                username=conn.sasl_username,
                password=password,
                ssl_context=context,
                mechanism=conn.sasl_mechanism or "PLAIN",
            )
    raise ConfigError(
        f"CF_KAFKA_SECURITY_PROTOCOL={conn.security_protocol!r} is not a protocol the early"
        " warning worker knows: use PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL."
    )


def read_range(
    conn: dict[str, Any], topic: str, partition: int, start: int, end: int, timeout: float = 60
) -> list[tuple[int, bytes | None, bytes, list[tuple[str, bytes]]]]:
    """(offset, key, value, headers) of a partition from `start` up to `end` (excluded), read
    committed, with no group; what retention has deleted is not there."""
    from kafka import KafkaConsumer, TopicPartition

    tp = TopicPartition(topic, partition)
    consumer = KafkaConsumer(
        **conn,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
    )
    try:
        consumer.assign([tp])
        consumer.seek(tp, start)
        out: list[tuple[int, bytes | None, bytes, list[tuple[str, bytes]]]] = []
        deadline = time.monotonic() + timeout
        while consumer.position(tp) < end:
            if time.monotonic() > deadline:
                raise RuntimeError(f"could not read {topic}[{partition}] {start} to {end - 1}")
            for records in consumer.poll(timeout_ms=500).values():
                out += [
                    (r.offset, r.key, r.value, [(k, v) for k, v in r.headers if v is not None])
                    for r in records
                    if start <= r.offset < end
                ]
        return out
    finally:
        consumer.close()


def _headers(event: EventT) -> list[tuple[str, bytes]]:
    found = event.headers or {}
    items = found.items() if isinstance(found, dict) else found
    return [(k, v) for k, v in items if v is not None]


def _json(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()


def _loads(raw: bytes) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(raw)
    return found
