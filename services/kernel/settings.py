"""Typed settings every process shares, built once from the environment (and `.env` when
present). Each worker extends them with its own (`services/<worker>/settings.py`)."""

from __future__ import annotations

import logging
import os
import re
import secrets
import ssl
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pydantic import AliasChoices, BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.kernel.errors import ConfigError
from services.kernel.keyfile import KeyFile
from services.kernel.logs import LogFormat
from services.kernel.sealing import KeyRing, fingerprint
from services.kernel.signed_links import link_key_file

log = logging.getLogger(__name__)
DEFAULT_HOME = Path(".complaintflow")
S = TypeVar("S", bound="Settings")
PII_KEY_MIN_CHARS = 16
"""Shortest CF_PII_KEY accepted: anything shorter is a typo or a placeholder, not a key."""
_announced: set[str] = set()


def pii_key_file(home: Path) -> KeyFile:
    """This installation's own PII key, used when CF_PII_KEY is not set."""
    return KeyFile(
        home / "pii.key",
        make=lambda: secrets.token_hex(32),
        pattern=re.compile(r"[0-9a-fA-F]{64}"),
        expected="the 64 hexadecimal characters of the key made on the first start",
        remedy=(
            "Put back the key the data was sealed with, or delete the file to have a new one "
            "made (what was sealed under the old key then stays sealed)."
        ),
    )


def pii_ring_path(home: Path) -> Path:
    """The local key ring `keys rotate` writes: one key a line, newest first."""
    return home / "pii.keys"


def read_ring_file(path: Path) -> list[bytes]:
    """The keys of a ring file; ConfigError when it is unreadable, empty or a key is short."""
    try:
        lines = path.read_text(encoding="ascii").split()
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or "not ASCII text"
        raise ConfigError(f"{path}: cannot read the key ring: {reason}") from exc
    if not lines:
        raise ConfigError(f"{path} is empty; expected one key a line, newest first")
    return [_checked(str(path), SecretStr(line)) for line in lines]


def _checked(source: str, value: SecretStr) -> bytes:
    key = value.get_secret_value().strip()
    if len(key) < PII_KEY_MIN_CHARS:
        problem = "is empty" if not key else f"is too short ({len(key)} characters)"
        raise ConfigError(
            f"{source} {problem}; expected at least {PII_KEY_MIN_CHARS} characters, "
            "the same on every machine (e.g. `openssl rand -hex 32`), or unset it to "
            "use the key made in HOME/pii.key (each key of a ring alike)"
        )
    return key.encode()


class KafkaConnection(BaseModel):
    """How a client reaches the broker (kafka-python keyword arguments via `as_dict`)."""

    bootstrap_servers: str
    client_id: str = "complaintflow"
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_cafile: Path | None = None
    ssl_certfile: Path | None = None
    ssl_keyfile: Path | None = None
    ssl_check_hostname: bool = True

    def as_dict(self) -> dict[str, Any]:
        cfg: dict[str, Any] = {
            "bootstrap_servers": self.bootstrap_servers.split(","),
            "client_id": self.client_id,
            "security_protocol": self.security_protocol,
        }
        if self.security_protocol in ("SSL", "SASL_SSL"):
            cfg["ssl_check_hostname"] = self.ssl_check_hostname
            for name in ("ssl_cafile", "ssl_certfile", "ssl_keyfile"):
                path = getattr(self, name)
                if path is not None:
                    cfg[name] = str(path)
        if self.sasl_mechanism:
            cfg["sasl_mechanism"] = self.sasl_mechanism
            cfg["sasl_plain_username"] = self.sasl_username
            cfg["sasl_plain_password"] = (
                self.sasl_password.get_secret_value() if self.sasl_password else None
            )
        return cfg

    def ssl_context(self) -> ssl.SSLContext | None:
        """The TLS context of `as_dict`'s settings, for a client that takes one (the early
        warning's faust app): None unless the protocol is SSL or SASL_SSL."""
        if self.security_protocol not in ("SSL", "SASL_SSL"):
            return None
        context = ssl.create_default_context(
            cafile=str(self.ssl_cafile) if self.ssl_cafile else None
        )
        context.check_hostname = self.ssl_check_hostname
        if self.ssl_certfile is not None:
            context.load_cert_chain(
                str(self.ssl_certfile), str(self.ssl_keyfile) if self.ssl_keyfile else None
            )
        return context


class Settings(BaseSettings):
    """Everything a worker or command needs to know about its surroundings."""

    model_config = SettingsConfigDict(
        env_prefix="CF_", env_file=".env", extra="ignore", populate_by_name=True
    )

    kafka_bootstrap_servers: str | None = Field(
        default=None,
        validation_alias=AliasChoices("KAFKA_BOOTSTRAP_SERVERS", "CF_KAFKA_BOOTSTRAP_SERVERS"),
    )
    kafka_security_protocol: str = "PLAINTEXT"
    kafka_sasl_mechanism: str | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_cafile: Path | None = None
    """CA certificate(s) the broker's certificate is checked against (PEM); unset: the
    system's trusted CAs."""
    kafka_ssl_certfile: Path | None = None
    """Client certificate (PEM) for brokers that ask for one (mutual TLS)."""
    kafka_ssl_keyfile: Path | None = None
    kafka_ssl_check_hostname: bool = True
    database_url: str | None = Field(
        default=None, validation_alias=AliasChoices("DATABASE_URL", "CF_DATABASE_URL")
    )
    database_sslmode: str | None = None
    """libpq's `sslmode` for the database (`verify-full` checks the server's certificate and
    name), added to DATABASE_URL unless the URL names one itself."""
    database_sslrootcert: Path | None = None
    """The CA certificate (PEM) the database's certificate is checked against."""
    home: Path = DEFAULT_HOME
    """Data directory of the local stack (broker log, database, state file)."""
    topic_prefix: str = ""
    """Prefix for every topic and consumer group (isolates tests and tenants on one broker)."""
    topic_replication: int = Field(default=1, ge=1)
    """Replication factor of the topics `topics --create` makes (3 on a real cluster; then
    `min.insync.replicas` is 2, so a write survives the loss of one broker)."""
    pii_key: SecretStr | None = None
    """Key for the PII vault, customer tokens and sealed dead letters. Unset: a random key
    made once in `HOME/pii.key` (fine for one machine; set it for several). With
    `CF_PII_KEYS` set it is only the token key (unless `CF_PII_TOKEN_KEY` is set)."""
    pii_keys: SecretStr | None = None
    """The PII key ring, comma-separated, newest (the one that seals) first; older keys
    still open what they sealed. Unset: `HOME/pii.keys` (one key a line, written by
    `keys rotate`) when it exists, else the one key of `CF_PII_KEY` or `HOME/pii.key`."""
    pii_token_key: SecretStr | None = None
    """Key of customer tokens and status secrets (keyed hashes, never rotated with the ring:
    a new one breaks repeat links and mailed status codes). Unset: `CF_PII_KEY`, else
    `HOME/pii.key`."""
    link_key: SecretStr | None = None
    """Key signing the links customers follow (the satisfaction survey). Unset: a random key
    made once in `HOME/link.key` (set it when intake and notification run on several machines)."""
    metrics_host: str = "127.0.0.1"
    metrics_port: int = 0
    """Port of `/metrics`, `/healthz`, `/readyz`; 0 picks a free one."""
    instance: str = Field(default_factory=lambda: f"{os.uname().nodename}-{os.getpid()}")
    log_level: str = "INFO"
    log_format: LogFormat = "text"
    """`json`: one JSON object a line (time, level, worker, logger, message, the record being
    handled: complaint_id, topic, partition, offset; exception), for log pipelines."""
    poll_timeout_ms: int = 200
    max_batch: int = 500
    stalled_after_seconds: float = Field(default=60.0, gt=0)
    """A worker whose loop has failed this long without progress (the database or the broker
    out of reach) answers `/readyz` 503 until it moves again."""

    @classmethod
    def of(cls: type[S], other: Settings) -> S:
        """These settings from `other` (a command's or another class's): every value `other`
        holds, the rest of this class's fields from the environment."""
        if isinstance(other, cls):
            return other
        return cls(**dict(other))

    def kafka(self, client_id: str = "complaintflow") -> KafkaConnection:
        if not self.kafka_bootstrap_servers:
            raise RuntimeError(
                "KAFKA_BOOTSTRAP_SERVERS is not set and no local stack is running "
                "(start one with `complaintflow stack up` or `make run`)"
            )
        return KafkaConnection(
            bootstrap_servers=self.kafka_bootstrap_servers,
            client_id=client_id,
            security_protocol=self.kafka_security_protocol,
            sasl_mechanism=self.kafka_sasl_mechanism,
            sasl_username=self.kafka_sasl_username,
            sasl_password=self.kafka_sasl_password,
            ssl_cafile=self.kafka_ssl_cafile,
            ssl_certfile=self.kafka_ssl_certfile,
            ssl_keyfile=self.kafka_ssl_keyfile,
            ssl_check_hostname=self.kafka_ssl_check_hostname,
        )

    def db_url(self) -> str:
        if not self.database_url:
            raise RuntimeError(
                "DATABASE_URL is not set and no local stack is running "
                "(start one with `complaintflow stack up` or `make run`)"
            )
        tls = {"sslmode": self.database_sslmode, "sslrootcert": self.database_sslrootcert}
        wanted = {k: str(v) for k, v in tls.items() if v is not None}
        if not wanted:
            return self.database_url
        parts = urlsplit(self.database_url)
        query = parse_qsl(parts.query, keep_blank_values=True)
        named = {k for k, _ in query}
        query += [(k, v) for k, v in wanted.items() if k not in named]
        return urlunsplit(parts._replace(query=urlencode(query, safe="/")))

    def pii_secret(self) -> bytes:
        """The token key: customer tokens and status secrets are keyed hashes under it.

        `CF_PII_TOKEN_KEY`, else `CF_PII_KEY`, else this installation's own `HOME/pii.key`
        (created on first use). ConfigError when a key is empty or shorter than 16
        characters, or the key file is empty or malformed: customer data must not be
        handled under such a key.
        """
        if self.pii_token_key is not None:
            return self._announced(
                _checked("CF_PII_TOKEN_KEY", self.pii_token_key), "CF_PII_TOKEN_KEY"
            )
        if self.pii_key is not None:
            return self._announced(_checked("CF_PII_KEY", self.pii_key), "CF_PII_KEY")
        if self.pii_keys is not None:
            raise ConfigError(
                "CF_PII_KEYS is set but neither CF_PII_TOKEN_KEY nor CF_PII_KEY: set one of "
                "them to the key customer tokens were first made with (the first PII key)"
            )
        key = pii_key_file(self.home).read().encode()
        return self._announced(key, str(self.home / "pii.key"))

    def pii_ring(self) -> KeyRing:
        """The PII key ring (primary first) and its token key: see `pii_keys`."""
        token = self.pii_secret()
        if self.pii_keys is not None:
            text = self.pii_keys.get_secret_value()
            keys = [_checked("CF_PII_KEYS", SecretStr(k)) for k in text.split(",")]
            source = "CF_PII_KEYS"
        elif self.pii_key is None and pii_ring_path(self.home).exists():
            keys = read_ring_file(pii_ring_path(self.home))
            source = str(pii_ring_path(self.home))
        elif self.pii_key is not None:
            return KeyRing((_checked("CF_PII_KEY", self.pii_key),), token)
        else:
            return KeyRing((pii_key_file(self.home).read().encode(),), token)
        ring = KeyRing(tuple(keys), token)
        self._announced(ring.primary, f"{source}, primary of {len(keys)} keys")
        return ring

    @staticmethod
    def _announced(secret: bytes, source: str) -> bytes:
        announce = f"PII key from {source} (fingerprint {fingerprint(secret)})"
        if announce not in _announced:  # lets an operator compare keys across machines
            _announced.add(announce)
            log.info(announce)
        return secret

    def link_secret(self) -> bytes:
        """The key of signed links: configured, or this installation's own."""
        if self.link_key is not None:
            key = self.link_key.get_secret_value().strip()
            if len(key) < PII_KEY_MIN_CHARS:
                raise ConfigError(
                    f"CF_LINK_KEY is too short ({len(key)} characters); expected at least "
                    f"{PII_KEY_MIN_CHARS}, the same wherever intake and notification run"
                )
            return key.encode()
        return link_key_file(self.home).read().encode()

    def topic(self, name: str) -> str:
        return f"{self.topic_prefix}{name}"

    def group(self, worker: str) -> str:
        return f"{self.topic_prefix}complaintflow.{worker}"
