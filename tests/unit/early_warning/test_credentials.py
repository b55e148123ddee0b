"""The early warning worker's faust app is given the same broker security as the others."""

from __future__ import annotations

import ssl

import faust
import pytest
from pydantic import SecretStr

from services.early_warning.app import credentials
from services.kernel.errors import ConfigError
from services.kernel.settings import Settings


def test_sasl_ssl_becomes_faust_sasl_credentials_with_a_tls_context():
    s = Settings(
        kafka_bootstrap_servers="k1:9093,k2:9093",
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="SCRAM-SHA-512",
        kafka_sasl_username="cf",
        kafka_sasl_password=SecretStr("s3cret"),
    )
    got = credentials(s.kafka("early_warning"))
    assert isinstance(got, faust.SASLCredentials)
    assert (got.protocol.value, got.mechanism.value) == ("SASL_SSL", "SCRAM-SHA-512")
    assert (got.username, got.password) == ("cf", "s3cret")
    assert got.ssl_context is not None and got.ssl_context.verify_mode == ssl.CERT_REQUIRED
    assert got.ssl_context.check_hostname


def test_ssl_without_hostname_check_and_plaintext():
    s = Settings(
        kafka_bootstrap_servers="k:9093",
        kafka_security_protocol="SSL",
        kafka_ssl_check_hostname=False,
    )
    got = credentials(s.kafka())
    assert isinstance(got, faust.SSLCredentials) and not got.context.check_hostname
    assert credentials(Settings(kafka_bootstrap_servers="k:9092").kafka()) is None


def test_an_unknown_protocol_is_named():
    s = Settings(kafka_bootstrap_servers="k:9092", kafka_security_protocol="TLS")
    with pytest.raises(ConfigError, match="CF_KAFKA_SECURITY_PROTOCOL='TLS'"):
        credentials(s.kafka())
