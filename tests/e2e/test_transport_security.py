"""Transport security end to end: the workers (kafka-python's and the early warning's faust
app), the `submit` command and the admin client talk to a real broker over SASL_SSL
(SCRAM-SHA-512), and intake to PostgreSQL over TLS; each server's certificate is checked
against the CA it was issued by."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from kafka import KafkaAdminClient
from kafka.errors import KafkaError
from pydantic import SecretStr

from schemas.envelope import complaint_id_for
from services.devstack.local_kafka import SASL_MECHANISM, LocalKafka
from services.devstack.local_postgres import LocalPostgres
from services.devstack.ports import stop_process
from services.kernel.kafka import ensure_topics
from services.kernel.settings import Settings
from tests.conftest import settings_env, wait_for, wait_ready
from tests.e2e.test_pipeline import new_complaint
from tests.kafka_helpers import TopicReader, committed_all

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def secured_broker() -> Iterator[LocalKafka]:
    """A broker of its own with a SASL_SSL listener (the session's has none)."""
    home = Path("/tmp") / f"cf-sasl-{uuid.uuid4().hex[:8]}"
    home.mkdir()
    kafka = LocalKafka(home, heap="384m", sasl_ssl=True).start()
    try:
        yield kafka
    finally:
        assert kafka.proc is not None
        stop_process(kafka.proc.pid, signal.SIGTERM, 60)
        subprocess.run(["rm", "-rf", str(home)], check=False)


@pytest.fixture(scope="module")
def secured_postgres() -> Iterator[LocalPostgres]:
    """A PostgreSQL of its own that takes TLS connections (the session's takes none)."""
    home = Path("/tmp") / f"cf-tls-{uuid.uuid4().hex[:8]}"
    home.mkdir()
    pg = LocalPostgres(home, ssl=True).start()
    try:
        yield pg
    finally:
        assert pg.proc is not None
        LocalPostgres.stop_pid(pg.proc.pid)
        subprocess.run(["rm", "-rf", str(home)], check=False)


def secured(cf: Settings, kafka: LocalKafka, pg: LocalPostgres, **overrides: object) -> Settings:
    return cf.model_copy(
        update={
            "database_url": pg.url,
            "database_sslmode": "verify-full",
            "database_sslrootcert": pg.ca_file,
            "kafka_bootstrap_servers": kafka.sasl_bootstrap,
            "kafka_security_protocol": "SASL_SSL",
            "kafka_sasl_mechanism": SASL_MECHANISM,
            "kafka_sasl_username": kafka.sasl_user,
            "kafka_sasl_password": SecretStr(kafka.sasl_password),
            "kafka_ssl_cafile": kafka.ca_file,
            **overrides,
        }
    )


def security_env(settings: Settings) -> dict[str, str]:
    assert settings.kafka_sasl_password is not None
    return {
        "CF_KAFKA_SECURITY_PROTOCOL": settings.kafka_security_protocol,
        "CF_KAFKA_SASL_MECHANISM": settings.kafka_sasl_mechanism or "",
        "CF_KAFKA_SASL_USERNAME": settings.kafka_sasl_username or "",
        "CF_KAFKA_SASL_PASSWORD": settings.kafka_sasl_password.get_secret_value(),
        "CF_KAFKA_SSL_CAFILE": str(settings.kafka_ssl_cafile),
        "CF_DATABASE_SSLMODE": settings.database_sslmode or "",
        "CF_DATABASE_SSLROOTCERT": str(settings.database_sslrootcert),
    }


def refused(settings: Settings) -> bool:
    try:
        admin = KafkaAdminClient(
            **settings.kafka("test-refused").as_dict(), api_version_auto_timeout_ms=10_000
        )
    except KafkaError:
        return True
    try:
        admin.list_topics()
    except KafkaError:
        return True
    finally:
        admin.close()
    return False


def tls_connections(settings: Settings, application: str) -> list[bool]:
    """Whether each database connection of `application` is encrypted."""
    with psycopg.connect(settings.db_url(), autocommit=True) as conn:
        rows = conn.execute(
            "SELECT s.ssl FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid)"
            " WHERE a.application_name = %s",
            (application,),
        ).fetchall()
    return [bool(ssl) for (ssl,) in rows]


def test_a_worker_and_the_cli_work_over_sasl_ssl_and_tls(
    cf, secured_broker, secured_postgres, worker_factory
):
    secure = secured(cf, secured_broker, secured_postgres)
    # Given the registry's topics, made through the admin client over SASL_SSL
    assert "complaints.raw.v1" in [t.removeprefix(cf.topic_prefix) for t in ensure_topics(secure)]

    # And a broker that refuses a wrong password
    wrong = SecretStr("not-the-password")
    assert refused(secured(cf, secured_broker, secured_postgres, kafka_sasl_password=wrong))

    # And a database whose certificate is checked: against another CA, it is refused
    other_ca = secure.model_copy(update={"database_sslrootcert": secured_broker.ca_file})
    with pytest.raises(psycopg.OperationalError, match="certificate verify failed"):
        psycopg.connect(other_ca.db_url()).close()

    # When intake runs against the SASL_SSL listener and complaints are submitted through it
    intake = worker_factory("intake", secure, **security_env(secure))
    wait_ready([intake])
    refs = ("SEC-1", "SEC-2")
    submitted = subprocess.run(
        [sys.executable, "-m", "services.commands.cli", "submit", "-", "--quiet"],
        input="".join(new_complaint(r, f"ev-{r}", "billing", "账单错误") + "\n" for r in refs),
        text=True,
        capture_output=True,
        env=settings_env(secure, **security_env(secure)),
        timeout=120,
        check=False,
    )
    assert submitted.returncode == 0, submitted.stderr
    assert "sent 2, failed 0" in submitted.stdout

    # Then they are registered, read back over SASL_SSL too
    registered = TopicReader(secure, "complaints.registered.v1")
    wait_for(lambda: len(registered.poll()) >= len(refs), timeout=90, what="registrations")
    ids = {json.loads(m.value)["complaint_id"] for m in registered.messages}
    assert ids == {complaint_id_for("e2e-cc", r) for r in refs}

    # And every database connection of the worker is encrypted
    connections = tls_connections(secure, "complaintflow-intake")
    assert connections and all(connections), connections

    # And the early warning worker (a faust app, not kafka-python) takes them in over
    # SASL_SSL too: its internal topics made, its group joined, the registrations committed
    early_warning = worker_factory("early_warning", secure, **security_env(secure))
    wait_ready([early_warning])
    admin = KafkaAdminClient(**secure.kafka("test-admin").as_dict())
    try:
        wait_for(
            lambda: committed_all(admin, secure.group("early_warning"), registered),
            timeout=120,
            what="the registrations committed by early_warning over SASL_SSL",
        )
    finally:
        admin.close()
    registered.close()
