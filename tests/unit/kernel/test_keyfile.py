"""Keys made once per data directory: one winner of a race, never half a key, bad keys refused."""

from __future__ import annotations

import multiprocessing
import os
import re
import stat
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from services.commands.cli import _intake_api
from services.intake.settings import IntakeSettings
from services.kernel.errors import ConfigError
from services.kernel.keyfile import create_atomically
from services.kernel.settings import Settings, pii_key_file

PROCESSES = 20
ROUNDS = 25


def _race(homes: list[str], barrier: Any, results: Any) -> None:
    """In a child process: for each fresh home, start together with the others, read the key."""
    for home in homes:
        barrier.wait(timeout=60)
        try:
            results.put((home, Settings(home=Path(home)).pii_secret().decode()))
        except Exception as exc:  # reported to the test, which names it
            results.put((home, f"{type(exc).__name__}: {exc}"))


def test_racing_processes_on_a_fresh_home_all_read_one_valid_key(tmp_path):
    # Given 20 processes and fresh data directories with no key yet
    homes = [str(tmp_path / f"home-{i}") for i in range(ROUNDS)]
    ctx = multiprocessing.get_context("fork")  # children start at once, modules loaded
    barrier, results = ctx.Barrier(PROCESSES), ctx.Queue()
    procs = [ctx.Process(target=_race, args=(homes, barrier, results)) for _ in range(PROCESSES)]

    # When they all look for the key at the same moment, round after round
    for p in procs:
        p.start()
    got = [results.get(timeout=120) for _ in range(PROCESSES * ROUNDS)]
    for p in procs:
        p.join(timeout=30)
        assert p.exitcode == 0

    # Then in every home each process read the same complete key, the one in the file
    for home in homes:
        keys = {key for h, key in got if h == home}
        on_disk = (Path(home) / "pii.key").read_text()
        assert keys == {on_disk}, f"{home}: {keys}"
        assert re.fullmatch(r"[0-9a-f]{64}", on_disk)
        assert os.listdir(home) == ["pii.key"]  # no temporary file left behind


def test_racing_threads_all_read_one_valid_key(tmp_path):
    # Given 32 threads, all about to read the key of a fresh home
    home = tmp_path / "home"
    barrier = threading.Barrier(32)
    got: list[str] = []

    def read() -> None:
        barrier.wait(timeout=30)
        got.append(Settings(home=home).pii_secret().decode())

    # When they start together
    threads = [threading.Thread(target=read) for _ in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)

    # Then one key was made, and every thread read it whole
    assert len(got) == 32 and set(got) == {(home / "pii.key").read_text()}


def test_the_key_file_is_private_and_the_loser_of_a_race_keeps_the_winners(tmp_path):
    path = tmp_path / "keys" / "pii.key"
    assert create_atomically(path, "a" * 64) is True
    assert create_atomically(path, "b" * 64) is False
    assert path.read_text() == "a" * 64
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert os.listdir(path.parent) == ["pii.key"]


def test_a_key_made_by_an_earlier_version_is_read_as_it_is(tmp_path):
    # Given a key file with a trailing newline (written by hand or an earlier version)
    key = "0123456789abcdef" * 4
    (tmp_path / "pii.key").write_text(key + "\n")
    # Then it is the key, and nothing replaces it
    assert Settings(home=tmp_path).pii_secret() == key.encode()
    assert pii_key_file(tmp_path).ensure() is False


@pytest.mark.parametrize(
    ("content", "problem"),
    [("", "is empty"), ("  \n", "is empty"), ("abc123", "is malformed"), ("z" * 64, "malformed")],
)
def test_an_empty_or_malformed_key_file_is_refused_naming_the_file(tmp_path, content, problem):
    (tmp_path / "pii.key").write_text(content)
    with pytest.raises(ConfigError) as err:
        Settings(home=tmp_path).pii_secret()
    message = str(err.value)
    assert str(tmp_path / "pii.key") in message and problem in message
    assert "64 hexadecimal characters" in message


@pytest.mark.parametrize(("value", "problem"), [("", "is empty"), ("short-key", "is too short")])
def test_an_empty_or_short_configured_key_is_refused_naming_the_variable(tmp_path, value, problem):
    s = Settings(home=tmp_path, pii_key=SecretStr(value))
    with pytest.raises(ConfigError, match=f"CF_PII_KEY {problem}.*at least 16 characters") as err:
        s.pii_secret()
    assert not value or value not in str(err.value)  # the key itself is never echoed
    assert not (tmp_path / "pii.key").exists()


def test_a_configured_key_is_used_as_it_is(tmp_path):
    s = Settings(home=tmp_path, pii_key=SecretStr("a configured key, 32 characters"))
    assert s.pii_secret() == b"a configured key, 32 characters"
    assert not (tmp_path / "pii.key").exists()


def test_the_intake_api_key_is_made_once_and_a_malformed_one_refused(tmp_path):
    # Given a fresh home, the key is made and offered for every source
    first = _intake_api(IntakeSettings(home=tmp_path))["env"]["CF_INTAKE_API_KEYS"]
    again = _intake_api(IntakeSettings(home=tmp_path))["env"]["CF_INTAKE_API_KEYS"]
    assert first == again == f"*={(tmp_path / 'intake-api.key').read_text()}"
    # When the file is cut short, it is refused with its name
    (tmp_path / "intake-api.key").write_text("abc")
    with pytest.raises(ConfigError, match=r"intake-api\.key is malformed"):
        _intake_api(IntakeSettings(home=tmp_path))


def test_a_worker_with_an_empty_key_file_stops_with_the_message_not_a_traceback(tmp_path):
    # Given a data directory whose key file is empty (a crash mid-write of an earlier version)
    (tmp_path / "pii.key").write_text("")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CF_")}
    env.update(
        CF_HOME=str(tmp_path),
        KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:9",
        DATABASE_URL="postgresql://127.0.0.1:9/none",
    )
    # When a worker starts
    done = subprocess.run(
        [sys.executable, "-m", "services.commands.cli", "worker", "analytics"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    # Then it exits non-zero with one line naming the file and what was expected
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert f"complaintflow: {tmp_path / 'pii.key'} is empty; expected" in done.stderr
