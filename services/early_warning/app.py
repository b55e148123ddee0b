"""The early-warning worker as a faust-streaming app: two agents over changelog-backed tables.

`join` reads `complaints.registered.v1` and `complaints.routed.v1` (co-partitioned by
complaint id) and keeps each half in the `pending` table until routing's first decision meets
its complaint; the joined signal goes to a one-partition internal topic, so that one `detect`
agent sees every complaint and owns the `state` table of counts, places, texts and open
episodes. The detection itself is `detector.py`'s; this module decodes, calls and emits.
"""

from __future__ import annotations

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
from services.kernel.errors import PoisonMessage
from services.kernel.handler import Record
from services.kernel.metrics import Metrics
from services.kernel.sealing import Sealer

log = logging.getLogger(__name__)
NAME = "early_warning"
SOURCE = f"/complaintflow/{NAME}"
TICK_SECONDS = 30.0
COMMIT_SECONDS = 2.0
"""How often the group commits the offsets of what the agents have finished (faust commits
an event once its agent has asked for the next one, after the producer's flush: the signal,
the alerts and the tables' changelog are on the broker first). The group's lag on its inputs
(what KEDA's scaler and the bench's flood read) falls to 0 within this of its last event."""


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
        datadir = settings.home / "early-warning"
        datadir.mkdir(parents=True, exist_ok=True)
        self.app = faust.App(
            settings.group(NAME),
            broker=f"kafka://{conn.bootstrap_servers}",
            store="memory://",
            web_enabled=False,
            datadir=str(datadir),
            topic_replication_factor=settings.topic_replication,
            processing_guarantee="exactly_once" if settings.ew_exactly_once else "at_least_once",
            consumer_auto_offset_reset="earliest",
            broker_commit_interval=COMMIT_SECONDS,
            table_standby_replicas=0,
            producer_max_request_size=4 * 1024 * 1024,
        )
        raw = {"key_serializer": "raw", "value_serializer": "raw"}
        self.inputs = {settings.topic(s.name): s for s in (REGISTERED, ROUTED)}
        self.source = self.app.topic(*self.inputs, **raw)  # type: ignore[arg-type]
        self.signals = self.app.topic(
            settings.topic("early_warning.signals.v1"),
            partitions=1,
            internal=True,
            **raw,  # type: ignore[arg-type]
        )
        self.alerts = self.app.topic(settings.topic(ALERTS.name), **raw)  # type: ignore[arg-type]
        self.rejected = self.app.topic(settings.topic(REJECTED.name), **raw)  # type: ignore[arg-type]
        self.pending = self.app.Table("pending", default=None, partitions=REGISTERED.partitions)
        self._newest: dict[int, float] = {}
        self._pruned: dict[int, float] = {}
        self.state = self.app.Table("state", default=None, partitions=1)
        self.app.agent(self.source, name="join")(self._join)
        self.app.agent(self.signals, name="detect")(self._detect)
        self.app.timer(TICK_SECONDS)(self._tick)
        self.app.timer(1.0)(self._heartbeat)

    # -- join: registered + routed → signal --------------------------------------------------
    async def _join(self, stream: Any) -> None:
        async for event in stream.events():
            self.beat = time.monotonic()
            spec = self.inputs[event.message.topic]
            try:
                model, _ = decode(spec, event.value, _headers(event))
            except PoisonMessage as exc:
                await self._dead_letter(event, spec, exc)
                continue
            part = event.message.partition
            signal = self._pair(model, part)
            if signal is not None:
                # On the broker before the pair is marked done: a crash in between sends it
                # again, and the detector counts a complaint once.
                sent = await self.signals.send(key=b"all", value=_json(signal.as_json()))
                await sent
                self.pending[signal.complaint_id] = pending.done(signal.occurred_at, part)
            self._prune(part, model.occurred_at.timestamp())
            self.flow.events_processed.labels(NAME, spec.name).inc()

    def _pair(self, model: Any, part: int) -> Signal | None:
        """Keep one half until the other comes; the signal once both are here (first routing
        decision only: re-routes change no count)."""
        cid = model.complaint_id
        held = self.pending.get(cid)
        if pending.is_done(held):
            return None
        half = dict(held or {})
        if isinstance(model, RegisteredComplaint):
            half["reg"] = model.model_dump(mode="json")
        elif isinstance(model, RoutedComplaint) and "route" not in half:
            half["route"] = model.model_dump(mode="json")
        if "reg" in half and "route" in half:
            return join(
                RegisteredComplaint.model_validate(half["reg"]),
                RoutedComplaint.model_validate(half["route"]),
                min_confidence=self.settings.ew_min_confidence,
                part=part,
            )
        half.update(pending.stamp(model.occurred_at.timestamp(), part))
        self.pending[cid] = half
        return None

    def _prune(self, part: int, occurred_at: float) -> None:
        """Now and then (an hour of event time on this partition), forget this partition's
        done markers and lone halves older than any window they could still count in."""
        newest = self._newest[part] = max(self._newest.get(part, occurred_at), occurred_at)
        last = self._pruned.setdefault(part, newest)
        if newest - last < pending.PRUNE_EVERY_SECONDS:
            return
        self._pruned[part] = newest
        horizon = newest - pending.horizon(self.rules)
        for key in pending.stale(self.pending.items(), part, horizon):
            del self.pending[key]  # this partition's key, in this partition's changelog

    async def _dead_letter(self, event: EventT, spec: TopicSpec, exc: PoisonMessage) -> None:
        msg = event.message
        rec = Record(
            spec, msg.topic, msg.partition, msg.offset, msg.key, msg.value, _headers(event), 0
        )
        log.warning("%s: dead-lettered %s (%s)", NAME, rec.where, exc.reason)
        self.flow.dead_letters.labels(NAME, exc.reason).inc()
        letter = dead_letter(rec, exc, worker=NAME, sealer=self.sealer, now=datetime.now(UTC))
        await self._send(self.rejected, letter)

    # -- detect: signal → alerts -------------------------------------------------------------
    async def _detect(self, stream: Any) -> None:
        overlay = Overlay(self.state)
        detector = Detector(overlay, self.rules)
        redone = False
        async for event in stream.events():
            self.beat = time.monotonic()
            if not redone:  # the first event after recovery: finish what a crash cut short
                await self._redo()
                redone = True
            offset = event.message.offset
            if offset <= (self.state.get("applied") or -1):
                continue  # already applied before a crash: its offset was not committed
            started = time.perf_counter()
            found = _loads(event.value)
            if "tick" in found:
                outcome = detector.advance(float(found["tick"]))
            else:
                signal = Signal.from_json(found)
                outcome = detector.observe(signal)
                behind = max(0.0, self.wall() - signal.occurred_at)
                self.flow.stage_latency.labels(NAME).observe(behind)
            self.metrics.detect_seconds.observe(time.perf_counter() - started)
            body = overlay.take()
            body["alerts"] = [a.model_dump(mode="json") for a in outcome.alerts]
            body["offset"] = offset
            self.state["journal"] = body
            apply(self.state, body)
            await self._publish(outcome)
            self.state["applied"] = offset
            self.flow.events_processed.labels(NAME, "signals").inc()

    async def _redo(self) -> None:
        """A journal entry newer than the applied mark is applied again, its alerts sent
        again (the same `ce_id`: readers de-duplicate on it)."""
        body = self.state.get("journal")
        if body and body["offset"] > (self.state.get("applied") or -1):
            log.warning("%s: finishing step %d cut short by a crash", NAME, body["offset"])
            apply(self.state, body)
            alerts = [Alert.model_validate(a) for a in body["alerts"]]
            await self._publish(Outcome(alerts=alerts), again=True)
            self.state["applied"] = body["offset"]

    async def _publish(self, outcome: Outcome, *, again: bool = False) -> None:
        if outcome.late:
            self.metrics.late_complaints.inc(outcome.late)
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
            await self._send(self.alerts, out)

    async def _send(self, topic: Any, out: Emit) -> None:
        """Send and wait until the broker has it (what follows in the tables may rely on it)."""
        sent = await topic.send(
            key=out.key.encode(), value=encode(out.value), headers=out.event.headers()
        )
        await sent

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

    # -- health ------------------------------------------------------------------------------
    def healthy(self) -> bool:
        return time.monotonic() - self.beat < 60

    def ready(self) -> bool:
        return self._ready and self.healthy()


def _headers(event: EventT) -> list[tuple[str, bytes]]:
    found = event.headers or {}
    items = found.items() if isinstance(found, dict) else found
    return [(k, v) for k, v in items if v is not None]


def _json(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()


def _loads(raw: bytes) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(raw)
    return found
