"""`complaintflow keys`: rotate the PII key ring, reseal stored data under its primary key,
and count what is sealed under which key (so an operator knows when a key can go).

Customer tokens and status secrets are keyed hashes under the ring's token key, which none
of this touches: rotating the ring changes no token, no status code, no repeat link.
"""

from __future__ import annotations

import base64
import fcntl
import secrets
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import psycopg

from schemas.registry import REJECTED
from services.kernel.keyfile import replace_atomically
from services.kernel.sealing import KeyNotInRing, KeyRing, Sealer, fingerprint
from services.kernel.settings import Settings, pii_key_file, pii_ring_path, read_ring_file

Progress = Callable[[str, int, int], None]
"""(what, done, total): called as work advances."""


@dataclass(frozen=True)
class SealedTable:
    """A table with a column of sealed bytes, the purpose they were sealed for, its key."""

    name: str
    purpose: str
    key: tuple[str, ...]


SEALED_TABLES = (
    SealedTable("intake.contacts", "vault", ("complaint_id",)),  # the PII vault
    SealedTable("intake.pending", "held-events", ("source", "event_id")),  # held raw input
)
"""Every table whose rows are sealed under the PII key ring. Dead letters live on the
rejected topic only (a topic cannot be rewritten: their keys stay while they are kept)."""

UNKNOWN = "unknown"
"""Sealed under a key no longer named in the data nor held by the ring."""

# The key a sealed value names (`cf1.<fingerprint>.`), or NULL when it names none.
_NAMED_KEY = (
    "CASE WHEN substring(sealed from 1 for 4) = 'cf1.'::bytea"
    " AND substring(sealed from 17 for 1) = '.'::bytea"
    " THEN convert_from(substring(sealed from 5 for 12), 'SQL_ASCII') END"
)


# --- rotate -----------------------------------------------------------------------------


def rotate(settings: Settings) -> tuple[bool, str]:
    """Add a new primary key to the local ring file; (rotated, what to tell the operator).

    Keys given by the environment are not this command's to change: it says what to do.
    """
    if settings.pii_keys is not None or settings.pii_key is not None:
        return False, _env_runbook(settings)
    path = pii_ring_path(settings.home)
    with _locked(settings):
        if path.exists():
            ring = read_ring_file(path)
        else:
            ring = [pii_key_file(settings.home).read().encode()]  # the original key
        new = secrets.token_hex(32).encode()
        keys = [new, *ring]
        replace_atomically(path, "".join(k.decode() + "\n" for k in keys))
    prints = ", ".join(fingerprint(k) for k in keys)
    return True, (
        f"New primary PII key {fingerprint(new)} added to {path} (ring, newest first: "
        f"{prints}).\nRestart the workers (stop and start `make run`, or have their "
        "supervisor restart them) so they seal under it, then run "
        "`complaintflow keys reseal`.\n"
        "Customer tokens and status codes stay as they are "
        f"(token key {fingerprint(settings.pii_secret())})."
    )


def _env_runbook(settings: Settings) -> str:
    ring = settings.pii_ring()
    held = ",".join(["<new key>", *(f"<key {fp}>" for fp in ring.fingerprints())])
    token = "CF_PII_TOKEN_KEY" if settings.pii_token_key is not None else "CF_PII_KEY"
    return (
        "The PII keys come from the environment; nothing was changed. To rotate:\n"
        "  1. Make a key: `openssl rand -hex 32`.\n"
        f"  2. Set CF_PII_KEYS={held} in the secret every worker reads "
        "(Compose: deploy/docker/secrets/complaintflow.env; Kubernetes: the "
        "complaintflow-secrets Secret), newest first.\n"
        f"  3. Keep {token} as it is: it is the token key "
        f"({fingerprint(ring.token_key)}) of customer tokens and status codes.\n"
        "  4. Restart every worker (`docker compose up -d --force-recreate`, or `kubectl "
        "rollout restart deployment -l app.kubernetes.io/name=complaintflow`),\n"
        "     then run `complaintflow keys reseal` with the same environment."
    )


@contextmanager
def _locked(settings: Settings) -> Iterator[None]:
    """One rotation at a time on this home: two at once would each drop the other's key."""
    settings.home.mkdir(parents=True, exist_ok=True)
    with open(settings.home / "pii.keys.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        yield


# --- status -----------------------------------------------------------------------------


@dataclass
class KeyCounts:
    """What one store holds, by key fingerprint (`UNKNOWN`: opened by no key of the ring)."""

    store: str
    by_key: Counter[str] = field(default_factory=Counter)

    @property
    def total(self) -> int:
        return sum(self.by_key.values())


def status(
    settings: Settings, *, topic: bool = True, progress: Progress | None = None
) -> list[KeyCounts]:
    """How many sealed rows (and dead letters on the rejected topic) each key holds."""
    ring = settings.pii_ring()
    out: list[KeyCounts] = []
    with psycopg.connect(settings.db_url()) as conn:
        for table in _present(conn):
            out.append(_count(conn, table, Sealer(ring, table.purpose), progress))
    if topic:
        out.append(_count_dead_letters(settings, Sealer(ring, "dead-letters")))
    return out


def _present(conn: psycopg.Connection) -> list[SealedTable]:
    """The sealed tables this database has (none before intake first ran)."""
    found = []
    for table in SEALED_TABLES:
        row = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (table.name,)).fetchone()
        if row and row[0]:
            found.append(table)
    return found


def _count(
    conn: psycopg.Connection, table: SealedTable, sealer: Sealer, progress: Progress | None
) -> KeyCounts:
    counts = KeyCounts(table.name)
    rows = conn.execute(f"SELECT {_NAMED_KEY}, count(*) FROM {table.name} GROUP BY 1").fetchall()
    unnamed = 0
    for fp, n in rows:
        if fp is None:
            unnamed = n
        else:
            counts.by_key[fp] += n
    if unnamed:  # sealed before values named their key: find it by trying the ring
        done = 0
        for batch in _batches(conn, table, f"{_NAMED_KEY} IS NULL", ()):
            for _, sealed in batch:
                counts.by_key[sealer.key_of(sealed) or UNKNOWN] += 1
            done += len(batch)
            if progress:
                progress(table.name, done, unnamed)
    return counts


def _count_dead_letters(settings: Settings, sealer: Sealer) -> KeyCounts:
    from services.commands.dead_letters import read_all

    counts = KeyCounts(f"{settings.topic(REJECTED.name)} (sealed dead letters)")
    for d in read_all(settings):
        if d.get("original_sealed"):
            sealed = base64.b64decode(str(d["original_value_b64"]))
            counts.by_key[sealer.key_of(sealed) or UNKNOWN] += 1
    return counts


def render_status(ring: KeyRing, found: list[KeyCounts]) -> str:
    """The ring, then each store's rows by key, then which old keys can be retired."""
    fps = ring.fingerprints()
    role = {fp: "in ring" for fp in fps} | {fps[0]: "primary"}
    lines = [f"PII key ring (newest first): {', '.join(fps)}"]
    lines.append(f"Token key (customer tokens, status codes): {fingerprint(ring.token_key)}")
    for c in found:
        lines.append(f"{c.store}: {c.total:,} sealed")
        for fp, n in sorted(c.by_key.items(), key=lambda kv: (kv[0] not in role, -kv[1])):
            where = role.get(fp, "NOT IN RING" if fp != UNKNOWN else "no key of the ring")
            lines.append(f"  {fp:<14} {where:<18} {n:>10,}")
    used = {fp for c in found for fp, n in c.by_key.items() if n}
    idle = [fp for fp in fps[1:] if fp not in used]
    missing = sorted(used - set(fps))
    if missing:
        lines.append(f"Missing from the ring (data cannot be opened): {', '.join(missing)}")
    if len(fps) > 1:
        still = [fp for fp in fps[1:] if fp in used]
        if still:
            lines.append(
                f"Still needed: {', '.join(still)} (tables: `complaintflow keys reseal`; "
                "dead letters on the topic: until they expire)"
            )
        if idle:
            lines.append(f"Can be retired (nothing here is sealed under it): {', '.join(idle)}")
    return "\n".join(lines)


# --- reseal -----------------------------------------------------------------------------


@dataclass
class Resealed:
    store: str
    pending: int = 0
    """Rows not under the primary key when the run began."""
    resealed: int = 0
    unreadable: Counter[str] = field(default_factory=Counter)
    """Rows left as they were: sealed under a key the ring lacks, by fingerprint."""


def reseal(
    settings: Settings,
    *,
    dry_run: bool = False,
    batch_size: int = 500,
    progress: Progress | None = None,
) -> list[Resealed]:
    """Seal every stored row under the ring's primary key, `batch_size` rows a transaction.

    Idempotent and resumable: rows already under the primary key are not touched, so a run
    stopped half way is finished by the next. A row written meanwhile by a worker is left to
    that worker (the update compares the old bytes). `dry_run` counts only.
    """
    ring = settings.pii_ring()
    out = []
    with psycopg.connect(settings.db_url()) as conn:
        for table in _present(conn):
            sealer = Sealer(ring, table.purpose)
            label = b"cf1." + sealer.primary.encode() + b"."
            stale = "substring(sealed from 1 for 17) IS DISTINCT FROM %s"
            row = conn.execute(
                f"SELECT count(*) FROM {table.name} WHERE {stale}", (label,)
            ).fetchone()
            result = Resealed(table.name, pending=row[0] if row else 0)
            out.append(result)
            if dry_run or not result.pending:
                continue
            done = 0
            for batch in _batches(conn, table, stale, (label,), batch_size):
                _reseal_batch(conn, table, sealer, batch, result)
                conn.commit()
                done += len(batch)
                if progress:
                    progress(table.name, done, result.pending)
    return out


def _reseal_batch(
    conn: psycopg.Connection,
    table: SealedTable,
    sealer: Sealer,
    batch: list[tuple[tuple[object, ...], bytes]],
    result: Resealed,
) -> None:
    match = " AND ".join(f"{k} = %s" for k in table.key)
    changed = []
    for key, sealed in batch:
        try:
            changed.append((sealer.reseal(sealed), *key, sealed))
        except KeyNotInRing as exc:
            result.unreadable[exc.wanted or UNKNOWN] += 1
    with conn.cursor() as cur:
        cur.executemany(
            f"UPDATE {table.name} SET sealed = %s WHERE {match} AND sealed = %s", changed
        )
    result.resealed += len(changed)


def _batches(
    conn: psycopg.Connection,
    table: SealedTable,
    where: str,
    params: tuple[object, ...],
    size: int = 500,
) -> Iterator[list[tuple[tuple[object, ...], bytes]]]:
    """The rows matching `where`, `size` at a time in key order (keyset paging)."""
    cols = ", ".join(table.key)
    after: tuple[object, ...] | None = None
    while True:
        since = f" AND ({cols}) > ({', '.join(['%s'] * len(table.key))})" if after else ""
        rows = conn.execute(
            f"SELECT {cols}, sealed FROM {table.name} WHERE {where}{since}"
            f" ORDER BY {cols} LIMIT %s",
            (*params, *(after or ()), size),
        ).fetchall()
        if not rows:
            return
        batch = [(tuple(r[:-1]), bytes(r[-1])) for r in rows]
        yield batch
        after = batch[-1][0]


def render_reseal(found: list[Resealed], *, dry_run: bool) -> str:
    if not found:
        return "No sealed tables in this database (intake has not run yet)."
    lines = []
    for r in found:
        if dry_run:
            lines.append(f"{r.store}: {r.pending:,} row(s) would be resealed")
            continue
        lines.append(f"{r.store}: {r.resealed:,} of {r.pending:,} row(s) resealed")
        for fp, n in r.unreadable.items():
            lines.append(f"  {n:,} left as they are: sealed under key {fp}, not in the ring")
    return "\n".join(lines)
