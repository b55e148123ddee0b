"""The first start of a fresh installation: all five workers at once, no key anywhere yet."""

from __future__ import annotations

import re
import signal

import pytest

from services.commands.workers import WORKERS
from services.kernel.sealing import fingerprint
from tests.conftest import wait_ready

pytestmark = pytest.mark.e2e
ROUNDS = 5


def test_all_workers_started_together_on_a_fresh_home_share_one_key(cf, worker_factory, tmp_path):
    for round_ in range(ROUNDS):
        # Given a fresh data directory and no CF_PII_KEY: the key file is the only source
        home = tmp_path / f"home-{round_}"
        fresh = cf.model_copy(update={"home": home, "pii_key": None})

        # When the five workers start at the same moment
        workers = [worker_factory(name, fresh) for name in WORKERS]

        # Then every one becomes ready and none died
        wait_ready(workers, timeout=60)
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
