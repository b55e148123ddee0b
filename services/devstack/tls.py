"""A private certificate authority and a server certificate for the local stack's TLS
listeners (PEM files), so TLS can be tried end to end without a real PKI."""

from __future__ import annotations

import ipaddress
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALID = timedelta(days=825)


@dataclass(frozen=True)
class ServerTls:
    ca: Path
    """The CA certificate clients trust (`CF_KAFKA_SSL_CAFILE`)."""
    certificate: Path
    """The server's certificate followed by the CA's."""
    key: Path
    """The server's private key (unencrypted PKCS#8, mode 0600)."""
    keystore: Path
    """Key and certificate chain in one PEM file (a Kafka `PEM` keystore)."""


def _name(common: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "ComplaintFlow local stack"),
            x509.NameAttribute(NameOID.COMMON_NAME, common),
        ]
    )


def _pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def make_server_tls(
    directory: Path, *, hosts: tuple[str, ...] = ("127.0.0.1", "localhost")
) -> ServerTls:
    """A new CA and a server certificate for `hosts` (IP addresses or DNS names), in
    `directory`; made once, reused while the files are there."""
    out = ServerTls(
        directory / "ca.pem",
        directory / "server.pem",
        directory / "server.key",
        directory / "server-keystore.pem",
    )
    if all(p.exists() for p in (out.ca, out.certificate, out.key, out.keystore)):
        return out
    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC) - timedelta(minutes=5)  # a client clock a little behind
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name(f"ComplaintFlow local CA {secrets.token_hex(4)}")  # one name per CA
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + VALID)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(hosts[0]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + VALID)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_pem = ca.public_bytes(serialization.Encoding.PEM)
    chain = cert.public_bytes(serialization.Encoding.PEM) + ca_pem
    out.ca.write_bytes(ca_pem)
    out.certificate.write_bytes(chain)
    for path, data in ((out.key, _pem(key)), (out.keystore, _pem(key) + chain)):
        path.touch(mode=0o600)
        path.write_bytes(data)
    return out
