"""The dev stack's PostgreSQL asks for a password over TCP; the password lives in CF_HOME."""

from __future__ import annotations

import stat
from pathlib import Path

import psycopg
import pytest

from services.devstack.local_postgres import LocalPostgres

pytestmark = pytest.mark.integration


def hba_methods(pg: LocalPostgres) -> set[str]:
    lines = (pg.data / "pg_hba.conf").read_text().splitlines()
    return {line.split()[-1] for line in lines if line.strip() and not line.startswith("#")}


# A generous connect timeout: on a loaded machine a refused login can take seconds, and a
# timeout would raise OperationalError too, without the word "password".
def anyone(pg: LocalPostgres) -> str:
    return f"postgresql://postgres@127.0.0.1:{pg.port}/postgres?passfile=/nonexistent"


def test_the_local_database_wants_the_generated_password(tmp_path: Path):
    pg = LocalPostgres(tmp_path).start()
    try:
        # Then a local user without the password is refused
        with pytest.raises(psycopg.OperationalError, match="password"):
            psycopg.connect(anyone(pg), connect_timeout=60).close()
        # And the stack's own URL works, without the password in it
        assert "passfile=" in pg.url and pg.password not in pg.url
        with psycopg.connect(pg.url) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
        assert "trust" not in hba_methods(pg)
        secret = tmp_path / "postgres.pgpass"
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600
        # And a data directory made when the stack trusted everyone is closed on its next start
        hba = pg.data / "pg_hba.conf"
        hba.write_text(hba.read_text().replace("scram-sha-256", "trust"))
    finally:
        assert pg.proc is not None
        LocalPostgres.stop_pid(pg.proc.pid)
    again = LocalPostgres(tmp_path).start()
    try:
        assert "trust" not in hba_methods(again)
        with pytest.raises(psycopg.OperationalError, match="password"):
            psycopg.connect(anyone(again), connect_timeout=60).close()
        with psycopg.connect(again.url) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
    finally:
        assert again.proc is not None
        LocalPostgres.stop_pid(again.proc.pid)
