"""Sending, asynchronous to consumption: threads per channel take due notices from the outbox
and record what became of each.

Why threads and not the worker's `tick`: a tick runs on the loop's thread, so a slow mail
server would hold up consumption; here a slow or failing channel holds up only its own threads.

At most once per notification key: a notice is claimed (`sending`, under a lease) and that is
committed before the provider is called; the outcome is recorded after. A worker killed between
the two leaves the row `sending`; when the lease expires it becomes `unknown` and is never sent
again (the provider also gets the key as Message-ID / idempotency key). Outcomes go to
`notification.outcomes`; the worker's loop publishes them (`Notification.tick`).
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
from services.notification.retry import RetryPolicy

log = logging.getLogger(__name__)
Resolve = Callable[[psycopg.Connection, str, str], tuple[str, str | None]]
"""(conn, audience, recipient) → (address, name); raises Permanent when there is none."""
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
    ) -> None:
        self.db_url, self.channels, self.resolve = db_url, channels, resolve
        self.policy, self.lease, self.clock = policy, lease, clock
        self.threads = threads
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
                if not self.send_one(conn, channel):
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
        try:
            address, name = self.resolve(conn, claimed.audience, claimed.recipient)
            conn.commit()
            message = Message(key, address, name, claimed.subject, claimed.text, claimed.html)
            answer = self.channels[channel].send(message)
        except Permanent as exc:
            store.settle(
                conn, key, state="dead", attempts=attempts, now=self.clock.now(), detail=exc.detail
            )
        except Transient as exc:
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
            store.settle(
                conn, key, state="sent", attempts=attempts, now=self.clock.now(), detail=answer
            )
        conn.commit()
        return True
