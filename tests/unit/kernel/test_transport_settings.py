"""Transport security settings: what the Kafka client and libpq are given."""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr

from services.kernel.settings import Settings

URL = "postgresql://cf@db:5432/complaintflow?passfile=/run/pg.pass"


def test_sasl_ssl_reaches_the_kafka_client():
    s = Settings(
        kafka_bootstrap_servers="k1:9093,k2:9093",
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="SCRAM-SHA-512",
        kafka_sasl_username="cf",
        kafka_sasl_password=SecretStr("s3cret"),
        kafka_ssl_cafile=Path("/etc/kafka/ca.pem"),
    )
    cfg = s.kafka("intake").as_dict()
    assert cfg["bootstrap_servers"] == ["k1:9093", "k2:9093"]
    assert cfg["security_protocol"] == "SASL_SSL" and cfg["sasl_mechanism"] == "SCRAM-SHA-512"
    assert (cfg["sasl_plain_username"], cfg["sasl_plain_password"]) == ("cf", "s3cret")
    assert cfg["ssl_cafile"] == "/etc/kafka/ca.pem" and cfg["ssl_check_hostname"] is True
    assert "ssl_certfile" not in cfg


def test_plaintext_gives_the_client_no_tls_options():
    cfg = Settings(kafka_bootstrap_servers="k:9092", kafka_ssl_cafile=Path("/ca.pem")).kafka()
    assert not any(k.startswith("ssl_") for k in cfg.as_dict())


def test_database_tls_is_added_to_the_url_it_keeps():
    s = Settings(
        database_url=URL, database_sslmode="verify-full", database_sslrootcert=Path("/ca.pem")
    )
    assert s.db_url() == URL + "&sslmode=verify-full&sslrootcert=/ca.pem"
    assert Settings(database_url=URL).db_url() == URL


def test_a_url_that_names_its_sslmode_keeps_it():
    s = Settings(database_url=URL + "&sslmode=require", database_sslmode="verify-full")
    assert s.db_url() == URL + "&sslmode=require"
