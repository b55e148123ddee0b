"""Rotating the PII key on the real broker and database: what was sealed under the old key
stays readable through the ring, `keys reseal` moves it under the new one, and nothing a
customer holds (their token's repeat links, the status code they were mailed) changes."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import threading
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import psycopg
import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr

from schemas.envelope import complaint_id_for
from schemas.registry import RAW
from services.analytics.app import Analytics
from services.analytics.settings import AnalyticsSettings
from services.commands import keys, replay
from services.devstack.ports import free_port
from services.intake import store
from services.intake.app import Intake
from services.intake.migrations import MIGRATIONS
from services.intake.pii import Vault
from services.kernel.db import migrate
from services.kernel.kafka import producer
from services.kernel.loop import WorkerRunner
from services.kernel.sealing import KeyNotInRing, Sealer, derive_key, fingerprint, status_secret
from services.kernel.settings import Settings
from services.notification.channels import Permanent
from services.notification.contacts import Contacts
from services.notification.directory import Directory
from tests.conftest import settings_env, wait_for
from tests.e2e.test_pipeline import new_complaint, submit
from tests.kafka_helpers import TopicReader

pytestmark = pytest.mark.integration
NOT_JSON = b"not json, phone +86 139 1234 5678"


def ring(cf: Settings, keys_: str) -> Settings:
    """`cf` with the PII key ring `keys_` (its own CF_PII_KEY stays the token key)."""
    return cf.model_copy(update={"pii_keys": SecretStr(keys_)})


class Running:
    """One in-process intake, stopped (and gone) before the next starts: a restart."""

    def __init__(self, settings: Settings) -> None:
        self.runner = WorkerRunner(
            Intake, settings.model_copy(update={"metrics_port": free_port()})
        )
        self.thread = threading.Thread(target=self.runner.run, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.runner.stop()
        self.thread.join(60)
        assert not self.thread.is_alive(), "intake did not stop"


@pytest.fixture
def intake_runs() -> Iterator[list[Running]]:
    runs: list[Running] = []
    yield runs
    for r in runs:
        if r.thread.is_alive():
            r.stop()


def complaint_row(cf: Settings, ref: str) -> tuple[str, str, int] | None:
    with psycopg.connect(cf.db_url()) as conn:
        row = conn.execute(
            "SELECT customer_token, reference, repeat_count FROM intake.complaints"
            " WHERE complaint_id = %s",
            (complaint_id_for("e2e-cc", ref),),
        ).fetchone()
    return (row[0], row[1], row[2]) if row else None


def sealed_contacts(cf: Settings) -> list[bytes]:
    with psycopg.connect(cf.db_url()) as conn:
        return [bytes(r[0]) for r in conn.execute("SELECT sealed FROM intake.contacts")]


def by_key(found: list[keys.KeyCounts], store_name: str) -> dict[str, int]:
    return dict(next(c for c in found if c.store.startswith(store_name)).by_key)


def keys_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "services.commands.cli", "keys", *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)


def status_of(port: int, reference: str, secret: str) -> int:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/v1/status/{reference}", headers={"X-Status-Secret": secret}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except urllib.error.URLError:
        return 0  # not listening yet


def test_rotation_keeps_repeats_status_codes_and_dead_letters(cf, intake_runs, runner_factory):
    a = cf.pii_key.get_secret_value()
    b = f"rotated-pii-key-{uuid.uuid4().hex}"
    rotated, only_b = ring(cf, f"{b},{a}"), ring(cf, b)
    fp_a, fp_b = fingerprint(a.encode()), fingerprint(b.encode())

    # Given intake sealing under key A: a complaint, and raw input it dead-letters (sealed)
    intake_runs.append(Running(cf))
    submit(cf, [new_complaint("KR-1", "ev-kr-1", "billing", "账单错误")])
    sender = producer(cf, client_id="test-keys")
    sender.send(cf.topic(RAW.name), key=b"e2e-cc:KR-X", value=NOT_JSON).get(timeout=60)
    sender.close()
    rejected = TopicReader(cf, "complaints.rejected.v1")
    letters = rejected.wait(lambda m: json.loads(m.value)["source_topic"] == RAW.name)
    reason = json.loads(letters[0].value)["reason"]
    first = wait_for(lambda: complaint_row(cf, "KR-1"), what="KR-1 registered")
    token, reference, _ = first  # type: ignore[misc]
    mailed = status_secret(cf.pii_secret(), reference)  # the code in the acknowledgement

    # And a mail to the customer with a ring that lacks A is refused, naming A
    contacts = Contacts(Directory({}, {}), only_b.pii_ring())
    with psycopg.connect(cf.db_url()) as conn, pytest.raises(Permanent, match=f"key {fp_a}"):
        contacts.address(conn, "email", "customer", token)

    # When the ring becomes [B, A] and intake restarts with it
    intake_runs[0].stop()
    intake_runs.append(Running(rotated))
    submit(cf, [new_complaint("KR-2", "ev-kr-2", "billing", "又多扣费了")])

    # Then the same customer's new complaint links to the first as a repeat (same token)
    second = wait_for(lambda: complaint_row(cf, "KR-2"), what="KR-2 registered")
    assert second[0] == token and second[2] == 1  # type: ignore[index]
    # And the new contact row is sealed under B, the old one still under A
    found = keys.status(rotated)
    assert by_key(found, "intake.contacts") == {fp_a: 1, fp_b: 1}
    assert by_key(found, cf.topic("complaints.rejected.v1")) == {fp_a: 1}
    text = keys.render_status(rotated.pii_ring(), found)
    assert f"Still needed: {fp_a}" in text and a not in text and b not in text

    # And a ring without A names A's fingerprint rather than failing obscurely
    old_row = next(s for s in sealed_contacts(cf) if fp_a.encode() in s[:20])
    with pytest.raises(KeyNotInRing, match=f"sealed under key {fp_a}, which is not in"):
        Vault(only_b.pii_ring()).open(old_row)
    [lost] = replay.letters(only_b, replay.Chosen(reasons=(reason,)))
    assert lost.value is None and fp_a in lost.why
    # And with the ring the dead letter sealed before the rotation still opens for replay
    [kept] = replay.letters(rotated, replay.Chosen(reasons=(reason,)))
    assert kept.value == NOT_JSON

    # When the stored rows are resealed (a dry run first, then twice: idempotent)
    [dry, *_] = keys.reseal(rotated, dry_run=True)
    assert (dry.store, dry.pending, dry.resealed) == ("intake.contacts", 1, 0)
    assert keys.reseal(rotated, batch_size=1)[0].resealed == 1
    assert keys.reseal(rotated)[0].pending == 0

    # Then every row is under B and opens with B alone; A is no longer needed by the tables
    assert by_key(keys.status(rotated, topic=False), "intake.contacts") == {fp_b: 2}
    vault = Vault(only_b.pii_ring())
    assert {vault.open(s)["name"] for s in sealed_contacts(cf)} == {"王芳"}
    with psycopg.connect(cf.db_url()) as conn:
        assert store.contact_of(conn, only_b.pii_ring(), token)["email"] == "wf@example.com"  # type: ignore[index]

    # And the status code mailed before the rotation still opens the customer's status
    api = AnalyticsSettings.of(rotated).model_copy(
        update={
            "analytics_http_port": free_port(),
            "analytics_api_keys": SecretStr("team=rotation-test-key-0001"),
        }
    )
    runner_factory(Analytics, api)
    port = api.analytics_http_port
    assert port is not None
    wait_for(lambda: status_of(port, reference, mailed) == 200, what="the status lookup")
    wrong = status_secret(b.encode(), reference)  # a code under the new key is not the customer's
    assert status_of(port, reference, wrong) == 404


def test_reseal_covers_held_events_and_old_format_rows_resumably(cf):
    a, b, c = (f"pii-key-{n}-{uuid.uuid4().hex}" for n in "abc")
    rotated = ring(cf, f"{b},{a}")
    now = datetime.now(UTC)
    legacy = Fernet(base64.urlsafe_b64encode(derive_key(a.encode(), "vault")))
    vault_a, held_a = Vault(a.encode()), Sealer(a.encode(), "held-events")
    with psycopg.connect(cf.db_url()) as conn:
        migrate(conn, "intake", MIGRATIONS)
        rows = [(f"cid-{i}", f"cus_{i}", vault_a.seal({"name": f"n{i}"}), now) for i in range(5)]
        # sealed before sealed values named their key: a bare token
        rows += [(f"old-{i}", f"cus_o{i}", legacy.encrypt(b'{"name": "o"}'), now) for i in range(3)]
        rows.append(("lost", "cus_l", Vault(c.encode()).seal({"name": "x"}), now))
        store.save_contacts(conn, rows)
        store.hold(
            conn,
            [
                store.Held("s", f"ev-{i}", f"cid-{i}", "raw", 0, i, held_a.seal(b"{}"), now)
                for i in range(4)
            ],
        )
        conn.commit()

    # Given the status before resealing: old-format rows are found by trying the ring
    before = keys.status(rotated, topic=False)
    assert by_key(before, "intake.contacts") == {
        fingerprint(a.encode()): 8,
        fingerprint(c.encode()): 1,
    }
    assert by_key(before, "intake.pending") == {fingerprint(a.encode()): 4}

    # When a reseal is stopped after its first batch
    class Interrupted(Exception):
        """The reseal stopped on purpose, as an operator's Ctrl-C would."""

    def stop_after_first(what: str, done: int, total: int) -> None:
        raise Interrupted

    with pytest.raises(Interrupted):
        keys.reseal(rotated, batch_size=3, progress=stop_after_first)

    # Then the next run finishes the rest and leaves the row it cannot open as it is
    seen: list[tuple[str, int, int]] = []
    done = {
        r.store: r for r in keys.reseal(rotated, batch_size=3, progress=lambda *p: seen.append(p))
    }
    assert done["intake.contacts"].pending == 6  # 3 done before the stop, C's row among these
    assert done["intake.contacts"].resealed == 5
    assert dict(done["intake.contacts"].unreadable) == {fingerprint(c.encode()): 1}
    assert done["intake.pending"].resealed == 4
    assert seen[-1] == ("intake.pending", 4, 4)
    after = keys.status(rotated, topic=False)
    assert by_key(after, "intake.contacts") == {
        fingerprint(b.encode()): 8,
        fingerprint(c.encode()): 1,
    }
    text = keys.render_status(rotated.pii_ring(), after)
    assert f"Can be retired (nothing here is sealed under it): {fingerprint(a.encode())}" in text
    assert f"Missing from the ring (data cannot be opened): {fingerprint(c.encode())}" in text
    # And the commands say the same, never a key
    env = settings_env(rotated, CF_PII_KEYS=f"{b},{a}")
    shown = keys_cli(env, "status", "--no-topic")
    assert shown.returncode == 0 and "Can be retired" in shown.stdout, shown.stderr
    again = keys_cli(env, "reseal", "--quiet")
    assert again.returncode == 1 and f"sealed under key {fingerprint(c.encode())}" in again.stdout
    assert "intake.contacts: 0 of 1 row(s) resealed" in again.stdout
    assert not any(k in shown.stdout + again.stdout for k in (a, b, c))
    # And the held events open with B alone
    with psycopg.connect(cf.db_url()) as conn:
        held = [bytes(r[0]) for r in conn.execute("SELECT sealed FROM intake.pending")]
    assert [Sealer(b.encode(), "held-events").open(h) for h in held] == [b"{}"] * 4
