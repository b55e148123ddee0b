"""A real PostgreSQL server for the local stack, from the binaries the `pgserver` wheel ships."""

from __future__ import annotations

import importlib.util
import os
import pwd
import signal
import subprocess
import time
from pathlib import Path

import psycopg

from services.devstack.ports import free_port

DB_NAME = "complaintflow"
SYSTEM_USER = "complaintflow"
"""PostgreSQL refuses to run as root; as root we run it as this system user."""


def _bin_dir() -> Path:
    """The `bin` directory of the PostgreSQL build the pgserver wheel ships.

    Found without importing pgserver, whose import has side effects we do not want.
    """
    spec = importlib.util.find_spec("pgserver")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the pgserver package is not installed (pip install pgserver)")
    return Path(list(spec.submodule_search_locations)[0]) / "pginstall" / "bin"


def _as_user() -> dict[str, object]:
    """As root, the keyword arguments that run a child process as the PostgreSQL user."""
    if os.geteuid() != 0:
        return {}
    try:
        pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "-s", "/usr/sbin/nologin", SYSTEM_USER],
            check=True,
            capture_output=True,
        )
    return {"user": SYSTEM_USER}


def _grant(path: Path) -> None:
    """As root: let the PostgreSQL user own its data and reach it and the binaries."""
    if os.geteuid() != 0:
        return
    entry = pwd.getpwnam(SYSTEM_USER)
    for target in (path, _bin_dir().parent):
        for parent in [target, *target.parents]:
            mode = parent.stat().st_mode
            if mode & 0o005 != 0o005:
                parent.chmod(mode | 0o005)  # others may traverse (and list) the way there
    for root, dirs, files in os.walk(_bin_dir().parent):
        for name in files:
            full = os.path.join(root, name)
            os.chmod(
                full, os.stat(full).st_mode | 0o044 | (0o011 if os.access(full, os.X_OK) else 0)
            )
        for name in dirs:
            full = os.path.join(root, name)
            os.chmod(full, os.stat(full).st_mode | 0o055)
    os.chown(path, entry.pw_uid, entry.pw_gid)
    for root, dirs, files in os.walk(path):
        for name in [*dirs, *files]:
            os.chown(os.path.join(root, name), entry.pw_uid, entry.pw_gid)


class LocalPostgres:
    """One PostgreSQL server in `home/postgres`, listening on 127.0.0.1 only."""

    def __init__(self, home: Path, port: int | None = None) -> None:
        self.dir = home.resolve() / "postgres"
        self.data = self.dir / "data"
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{DB_NAME}"

    def start(self, timeout: float = 60) -> LocalPostgres:
        self.dir.mkdir(parents=True, exist_ok=True)
        user = _as_user()
        _grant(self.dir)
        if not (self.data / "PG_VERSION").exists():
            subprocess.run(
                [
                    str(_bin_dir() / "initdb"),
                    "-D",
                    str(self.data),
                    "--auth=trust",
                    "--encoding=UTF8",
                    "--locale=C",
                    "-U",
                    "postgres",
                ],
                check=True,
                capture_output=True,
                **user,  # type: ignore[call-overload]
            )
        log = open(self.dir / "postgres.log", "ab")  # noqa: SIM115 - owned by the child process
        self.proc = subprocess.Popen(
            [
                str(_bin_dir() / "postgres"),
                "-D",
                str(self.data),
                "-p",
                str(self.port),
                "-h",
                "127.0.0.1",
                "-k",
                str(self.dir),
                "-c",
                "max_connections=200",
                "-c",
                "shared_buffers=128MB",
                "-c",
                "synchronous_commit=off",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            **user,  # type: ignore[call-overload]
        )
        self._wait_ready(timeout)
        return self

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        admin = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        while True:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"PostgreSQL exited with {self.proc.returncode}; "
                    f"see {self.dir / 'postgres.log'}"
                )
            try:
                with psycopg.connect(admin, autocommit=True, connect_timeout=2) as conn:
                    if (
                        conn.execute(
                            "SELECT 1 FROM pg_database WHERE datname = %s", (DB_NAME,)
                        ).fetchone()
                        is None
                    ):
                        conn.execute(f'CREATE DATABASE "{DB_NAME}"')
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"PostgreSQL not ready after {timeout:.0f}s; "
                        f"see {self.dir / 'postgres.log'}"
                    ) from None
                time.sleep(0.2)

    @staticmethod
    def stop_pid(pid: int, timeout: float = 30) -> None:
        """Fast shutdown (SIGINT): roll back open transactions, checkpoint, exit."""
        from services.devstack.ports import stop_process

        stop_process(pid, signal.SIGINT, timeout)
