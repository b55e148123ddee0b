"""The first start of a fresh installation: all six workers at once, no key anywhere yet."""

from __future__ import annotations

import re
import signal
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest

from services.commands.workers import WORKERS
from services.kernel.sealing import fingerprint
from tests.conftest import wait_ready

pytestmark = pytest.mark.e2e
ROUNDS = 2
"""Each round is a whole first start (fresh data directory and fresh database: the key and
every worker's migrations race). The key race itself is run many times over, with far more
processes meeting at a barrier, in tests/unit/kernel/test_keyfile.py."""


@contextmanager
def fresh_database(stack, round_: int) -> Iterator[str]:
    """A new empty database for one round (the first round uses the test's own)."""
    name = f"cf_first_{uuid.uuid4().hex[:8]}_{round_}"
    with psycopg.connect(stack.admin_db_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield stack.db_url(name)
    finally:
        with psycopg.connect(stack.admin_db_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_all_workers_started_together_on_a_fresh_home_share_one_key(
    cf, stack, worker_factory, tmp_path
):
    for round_ in range(ROUNDS):
        with fresh_database(stack, round_) as db_url:
            fresh = cf.model_copy(update={"database_url": db_url})
            _first_start(fresh, worker_factory, tmp_path, round_)


def _first_start(cf, worker_factory, tmp_path, round_: int) -> None:
    # Given a fresh data directory and no CF_PII_KEY: the key file is the only source
    home = tmp_path / f"home-{round_}"
    fresh = cf.model_copy(update={"home": home, "pii_key": None})

    # When the six workers start at the same moment, on an empty database
    workers = [worker_factory(name, fresh) for name in WORKERS]

    # Then every one becomes ready and none died
    wait_ready(workers, timeout=120)
    assert [w.name for w in workers if w.proc.poll() is not None] == []

    # And they all read the one key that was made, whole
    key = (home / "pii.key").read_text()
    assert re.fullmatch(r"[0-9a-f]{64}", key)
    expected = f"PII key from {home / 'pii.key'} (fingerprint {fingerprint(key.encode())})"
    for w in workers:
        log = w.log.read_text()
        assert expected in log, f"round {round_}: {w.name} logged {_key_lines(log)}"
        assert "Traceback" not in log

    for w in workers:
        w.proc.send_signal(signal.SIGTERM)
    for w in workers:
        assert w.proc.wait(timeout=30) == 0


def _key_lines(log: str) -> list[str]:
    return [line for line in log.splitlines() if "PII key" in line or "pii.key" in line]
