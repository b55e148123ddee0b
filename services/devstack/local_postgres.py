"""A real PostgreSQL server for the local stack, from the binaries the `pgserver` wheel ships."""

from __future__ import annotations

import importlib.util
import os
import pwd
import re
import secrets
import signal
import subprocess
import time
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

import psycopg
from psycopg import sql

from services.devstack.ports import free_port
from services.devstack.tls import make_server_tls
from services.kernel.keyfile import KeyFile

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


def _tls_bin_dir() -> Path:
    """The `bin` directory of a PostgreSQL built with TLS: Debian's (the `postgresql`
    package), since pgserver's build has none."""
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/postgres"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if not found:
        raise RuntimeError(
            "PostgreSQL with TLS needs Debian's build: apt-get install postgresql "
            "(pgserver's build has no TLS)"
        )
    return found[-1].parent


def _as_user() -> dict[str, object]:
    """As root, the keyword arguments that run a child process as the PostgreSQL user."""
    if os.geteuid() != 0:
        return {}
    try:
        entry = pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "-s", "/usr/sbin/nologin", SYSTEM_USER],
            check=True,
            capture_output=True,
        )
        entry = pwd.getpwnam(SYSTEM_USER)
    # Its own group too: keeping root's would make root-group permission bits apply to it.
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


def _grant(path: Path, bin_dir: Path) -> None:
    """As root: let the PostgreSQL user own its data and reach it and the binaries."""
    if os.geteuid() != 0:
        return
    entry = pwd.getpwnam(SYSTEM_USER)
    for target in (path, bin_dir.parent):
        for parent in [target, *target.parents]:
            mode = parent.stat().st_mode
            if mode & 0o005 != 0o005:
                parent.chmod(mode | 0o005)  # others may traverse (and list) the way there
    for root, dirs, files in os.walk(bin_dir.parent):
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


def password_file(home: Path) -> KeyFile:
    """The database password of the local stack, as a libpq password file (mode 0600)."""
    return KeyFile(
        home / "postgres.pgpass",
        make=lambda: f"127.0.0.1:*:*:postgres:{secrets.token_urlsafe(24)}\n",
        pattern=re.compile(r"127\.0\.0\.1:\*:\*:postgres:[A-Za-z0-9_-]{24,}"),
        expected="one line 127.0.0.1:*:*:postgres:PASSWORD",
        remedy=(
            "Restore it from a backup, or delete it together with the postgres directory "
            "beside it to have a new (empty) local database made."
        ),
    )


class LocalPostgres:
    """One PostgreSQL server in `home/postgres`, listening on 127.0.0.1 only; connections
    need the password kept in `home/postgres.pgpass` (SCRAM), the URL only names that file."""

    def __init__(self, home: Path, port: int | None = None, *, ssl: bool = False) -> None:
        self.home = home.resolve()
        self.dir = self.home / "postgres"
        self.data = self.dir / "data"
        self.port = port or free_port()
        self.ssl = ssl
        """Also take TLS connections, with a certificate from a CA made in `postgres/tls`."""
        self.bin = _tls_bin_dir() if ssl else _bin_dir()
        self.proc: subprocess.Popen[bytes] | None = None
        self.passfile = password_file(self.home)

    @property
    def ca_file(self) -> Path:
        """The CA certificate a client checks the server's against (with `ssl`)."""
        return self.dir / "tls" / "ca.pem"

    @property
    def password(self) -> str:
        return self.passfile.read().rsplit(":", 1)[1]

    def url_of(self, database: str) -> str:
        where = quote(str(self.passfile.path), safe="/")
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}?passfile={where}"

    @property
    def url(self) -> str:
        return self.url_of(DB_NAME)

    def start(self, timeout: float = 60) -> LocalPostgres:
        self.dir.mkdir(parents=True, exist_ok=True)
        password = self.password
        user = _as_user()
        tls: list[str] = []
        if self.ssl:  # made before the grant: the key must belong to the server's user
            made = make_server_tls(self.dir / "tls")
            tls = ["-c", "ssl=on", "-c", f"ssl_cert_file={made.certificate}"]
            tls += ["-c", f"ssl_key_file={made.key}"]
        _grant(self.dir, self.bin)
        if not (self.data / "PG_VERSION").exists():
            self._initdb(password, user)
        log = open(self.dir / "postgres.log", "ab")  # noqa: SIM115 - owned by the child process
        self.proc = subprocess.Popen(
            [
                str(self.bin / "postgres"),
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
                # A flood writes the archive's history at thousands of rows a second: fewer,
                # later checkpoints, and index lookups priced as on a disk that seeks for free
                # (the working set is in memory or on SSD), as README's settings recommend
                "-c",
                "max_wal_size=4GB",
                "-c",
                "checkpoint_timeout=15min",
                "-c",
                "random_page_cost=1.1",
                *tls,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            **user,  # type: ignore[call-overload]
        )
        self._wait_ready(timeout)
        self._close_trust(password)
        return self

    def _initdb(self, password: str, user: dict[str, object]) -> None:
        pwfile = self.dir / ".initdb-password"
        pwfile.write_text(password + "\n")
        pwfile.chmod(0o600)
        if user:
            os.chown(pwfile, int(user["user"]), int(user["group"]))  # type: ignore[call-overload]
        try:
            subprocess.run(
                [
                    str(self.bin / "initdb"),
                    "-D",
                    str(self.data),
                    "--auth-host=scram-sha-256",
                    "--auth-local=scram-sha-256",
                    f"--pwfile={pwfile}",
                    "--encoding=UTF8",
                    "--locale=C",
                    "-U",
                    "postgres",
                ],
                check=True,
                capture_output=True,
                **user,  # type: ignore[call-overload]
            )
        finally:
            pwfile.unlink(missing_ok=True)

    def _close_trust(self, password: str) -> None:
        """A data directory made when the local stack trusted every local user: give the
        superuser the password and ask for it from now on."""
        hba = self.data / "pg_hba.conf"
        lines = hba.read_text().splitlines()
        rule = re.compile(r"^(\s*(?:local|host)\S*\s.*\s)trust(\s*)$")
        fixed = [rule.sub(r"\1scram-sha-256\2", line) for line in lines]
        if fixed == lines:
            return
        with psycopg.connect(self.url_of("postgres"), autocommit=True) as conn:
            conn.execute(sql.SQL("ALTER ROLE postgres PASSWORD {}").format(sql.Literal(password)))
            hba.write_text("\n".join(fixed) + "\n")
            loaded = _conf_loaded_at(conn)
            conn.execute("SELECT pg_reload_conf()")
        # The reload only signals the server: until it has re-read pg_hba.conf, it still
        # trusts everyone. New sessions inherit the server's load time; wait until it moves.
        deadline = time.monotonic() + 60
        while True:
            with psycopg.connect(self.url_of("postgres"), autocommit=True) as conn:
                if _conf_loaded_at(conn) > loaded:
                    return
            if time.monotonic() > deadline:
                raise RuntimeError(f"PostgreSQL did not reload {hba} within 60 s")
            time.sleep(0.1)

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        admin = self.url_of("postgres")
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

    def stop(self, timeout: float = 30) -> None:
        """Stop the server this object started (`stop_pid`); its data stays."""
        if self.proc is not None:
            self.stop_pid(self.proc.pid, timeout)
            self.proc = None

    @staticmethod
    def stop_pid(pid: int, timeout: float = 30) -> None:
        """Fast shutdown (SIGINT): roll back open transactions, checkpoint, exit."""
        from services.devstack.ports import stop_process

        stop_process(pid, signal.SIGINT, timeout)


def _conf_loaded_at(conn: psycopg.Connection) -> datetime:
    """When the server last loaded its configuration files (as this session knows it)."""
    row = conn.execute("SELECT pg_conf_load_time()").fetchone()
    assert row is not None
    loaded: datetime = row[0]
    return loaded
