"""Sending, asynchronous to consumption: threads per channel take due notices from the outbox
and record what became of each.

Why threads and not the worker's `tick`: a tick runs on the loop's thread, so a slow mail
server would hold up consumption; here a slow or failing channel holds up only its own threads.

At most once per notification key: a notice is claimed (`sending`, under a lease) and that is
committed before the provider is called; the outcome is recorded after. A worker killed between
the two leaves the row `sending`; when the lease expires it becomes `unknown` and is never sent
again (the provider also gets the key as Message-ID / idempotency key). Outcomes go to
`notification.outcomes`; the worker's loop publishes them (`Notification.tick`).

Each channel has a circuit (`circuit.py`): after N consecutive transient failures its threads
stop claiming for a cool-down, then one probe goes; a token bucket paces each channel, and one
recipient gets at most so many non-urgent notices per hour per channel (the rest wait,
`deferred`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import timedelta

import psycopg

from services.kernel.clock import Clock
from services.notification import store
from services.notification.channels import Channel, DeliveryError, Message, Permanent, Transient
from services.notification.circuit import Circuit
from services.notification.limits import TokenBucket
from services.notification.metrics import NotificationMetrics
from services.notification.retry import RetryPolicy

log = logging.getLogger(__name__)
Resolve = Callable[[psycopg.Connection, str, str, str], tuple[str, str | None]]
"""(conn, channel, audience, recipient) → (address, name); raises Permanent when there is none."""
HOUR = timedelta(hours=1)
IDLE_S = 1.0
LEASE_SWEEP_S = 5.0


class Sender:
    def __init__(
        self,
        db_url: str,
        channels: dict[str, Channel],
        resolve: Resolve,
        *,
        policy: RetryPolicy,
        lease: timedelta,
        clock: Clock,
        threads: int = 2,
        circuit: tuple[int, float] = (5, 60.0),
        rate_per_second: float = 50.0,
        recipient_per_hour: int = 6,
        metrics: NotificationMetrics | None = None,
    ) -> None:
        self.db_url, self.channels, self.resolve = db_url, channels, resolve
        self.policy, self.lease, self.clock = policy, lease, clock
        self.threads = threads
        self.circuits = {name: Circuit(*circuit) for name in channels}
        self.buckets = {name: TokenBucket(rate_per_second) for name in channels}
        self.recipient_per_hour = recipient_per_hour
        self.metrics = metrics
        for name in channels:
            if metrics is not None:
                metrics.circuit_open.labels(name).set(0)
        self._stop = threading.Event()
        self._poke = threading.Event()
        self._workers: list[threading.Thread] = []

    def start(self) -> Callable[[], None]:
        for name in self.channels:
            for i in range(self.threads):
                t = threading.Thread(
                    target=self._run, args=(name, i == 0), name=f"send-{name}-{i}", daemon=True
                )
                t.start()
                self._workers.append(t)
        return self.stop

    def stop(self) -> None:
        self._stop.set()
        self._poke.set()
        for t in self._workers:
            t.join(timeout=30)

    def poke(self) -> None:
        """New notices were committed: look now rather than at the next idle wake-up."""
        self._poke.set()

    def _run(self, channel: str, sweeps: bool) -> None:
        swept = 0.0
        conn: psycopg.Connection | None = None
        while not self._stop.is_set():
            try:
                if conn is None or conn.closed:
                    conn = psycopg.connect(self.db_url)
                if sweeps and time.monotonic() - swept > LEASE_SWEEP_S:
                    swept = time.monotonic()
                    if store.expire_leases(conn, self.clock.now()):
                        log.warning("notices left mid-send by a stopped worker marked unknown")
                    conn.commit()
                circuit = self.circuits[channel]
                if not circuit.allow():
                    self._stop.wait(min(IDLE_S, max(0.05, circuit.wait())))
                    continue
                pause = self.buckets[channel].take()
                if pause:
                    circuit.idle()
                    self._stop.wait(pause)
                    continue
                if not self.send_one(conn, channel):
                    circuit.idle()
                    self._idle(conn, channel)
            except psycopg.Error as exc:
                log.warning("sender %s: database unavailable (%s); retrying in 1 s", channel, exc)
                if conn is not None:
                    conn.close()
                conn = None
                self._stop.wait(1.0)
        if conn is not None:
            conn.close()

    def _idle(self, conn: psycopg.Connection, channel: str) -> None:
        due = store.next_due(conn, channel)
        conn.commit()
        wait = IDLE_S
        if due is not None:
            wait = max(0.0, min(wait, (due - self.clock.now()).total_seconds()))
        self._poke.wait(wait)
        self._poke.clear()

    def send_one(self, conn: psycopg.Connection, channel: str) -> bool:
        """Send the most overdue notice of `channel`, if any; True if one was taken."""
        claimed = store.claim(conn, channel, self.clock.now(), self.lease)
        conn.commit()  # the intent is durable before the provider hears of it
        if claimed is None:
            return False
        key, attempts = claimed.key, claimed.attempts
        if limited(claimed.audience, urgent=claimed.urgent) and self._over_limit(conn, claimed):
            conn.commit()
            return True
        try:
            address, name = self.resolve(conn, channel, claimed.audience, claimed.recipient)
            conn.commit()
            message = Message(
                key,
                address,
                name,
                claimed.subject,
                claimed.text,
                claimed.html,
                kind=claimed.kind,
                complaint_id=claimed.complaint_id,
            )
            answer = self.channels[channel].send(message)
        except Permanent as exc:
            self.circuits[channel].idle()  # the endpoint's health is not in question
            store.settle(
                conn, key, state="dead", attempts=attempts, now=self.clock.now(), detail=exc.detail
            )
        except Transient as exc:
            self._failed(channel)
            now = self.clock.now()
            again = self.policy.next_attempt(attempts, now)
            if again is None:
                store.settle(
                    conn,
                    key,
                    state="dead",
                    attempts=attempts,
                    now=now,
                    detail=f"{exc.detail} (gave up after {attempts} attempts)",
                )
            else:
                store.settle(
                    conn,
                    key,
                    state="retrying",
                    attempts=attempts,
                    now=now,
                    detail=exc.detail,
                    next_attempt_at=again,
                )
        except DeliveryError as exc:
            self.circuits[channel].idle()
            store.settle(
                conn,
                key,
                state="unknown",
                attempts=attempts,
                now=self.clock.now(),
                detail=exc.detail,
            )
        except psycopg.Error:
            raise
        except Exception as exc:  # we cannot tell whether it went: never again (at most once)
            self.circuits[channel].idle()
            log.exception("sender %s: unexpected failure sending %s", channel, key)
            store.settle(
                conn,
                key,
                state="unknown",
                attempts=attempts,
                now=self.clock.now(),
                detail=f"unexpected {type(exc).__name__}; not sent again",
            )
        else:
            self._succeeded(channel)
            store.settle(
                conn, key, state="sent", attempts=attempts, now=self.clock.now(), detail=answer
            )
        conn.commit()
        return True

    def _over_limit(self, conn: psycopg.Connection, claimed: store.Claimed) -> bool:
        """Hold back a notice to a recipient who has had their fill this hour."""
        now = self.clock.now()
        count, earliest = store.sent_recently(conn, claimed.recipient, claimed.channel, now - HOUR)
        if count < self.recipient_per_hour or earliest is None:
            return False
        store.hold_back(
            conn,
            claimed.key,
            until=earliest + HOUR,
            attempts=claimed.attempts,
            now=now,
            detail=f"rate limit: {self.recipient_per_hour} an hour to one recipient on"
            f" {claimed.channel}",
        )
        return True

    def _failed(self, channel: str) -> None:
        if self.circuits[channel].failed():
            log.warning(
                "channel %s: circuit open after repeated failures; probing again in %.0f s",
                channel,
                self.circuits[channel].cooldown,
            )
            if self.metrics is not None:
                self.metrics.circuit_open.labels(channel).set(1)
                self.metrics.circuit_opened.labels(channel).inc()

    def _succeeded(self, channel: str) -> None:
        if self.circuits[channel].succeeded():
            log.warning("channel %s: circuit closed, the provider answers again", channel)
            if self.metrics is not None:
                self.metrics.circuit_open.labels(channel).set(0)


def limited(audience: str, *, urgent: bool) -> bool:
    """Whether a notice counts against its recipient's hourly limit: only a customer's
    non-urgent ones. Staff are told of every assignment, warning and escalation when it
    happens (an owner told hours late of a complaint is the failure the limit would cause)."""
    return audience == "customer" and not urgent
