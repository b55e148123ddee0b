"""The PII key ring: the primary key seals, every key opens, a missing key is named; the
ring's configuration and the local `keys rotate`."""

from __future__ import annotations

import base64

import pytest
from cryptography.fernet import Fernet, InvalidToken
from pydantic import SecretStr

from services.commands.keys import rotate
from services.kernel.errors import ConfigError
from services.kernel.sealing import KeyNotInRing, KeyRing, Sealer, derive_key, fingerprint, key_of
from services.kernel.settings import Settings

A, B, C = (f"unit-pii-key-{n}-0123456789abcdef".encode() for n in "abc")


def test_the_primary_key_seals_every_key_of_the_ring_opens_and_a_reseal_moves_it():
    sealed = Sealer(A, "vault").seal(b"data")
    assert key_of(sealed) == fingerprint(A)
    ring = KeyRing((B, A), A)
    assert Sealer(ring, "vault").open(sealed) == b"data"
    moved = Sealer(ring, "vault").reseal(sealed)
    assert key_of(moved) == fingerprint(B)
    assert Sealer(ring, "vault").reseal(moved) is moved  # already under the primary
    assert Sealer(KeyRing((B,), A), "vault").open(moved) == b"data"


def test_a_ring_without_the_key_names_its_fingerprint_and_never_a_key():
    sealed = Sealer(A, "dead-letters").seal(b"data")
    with pytest.raises(KeyNotInRing) as err:
        Sealer(KeyRing((B, C), B), "dead-letters").open(sealed)
    text = str(err.value)
    assert err.value.wanted == fingerprint(A)
    assert f"sealed under key {fingerprint(A)}, which is not in the key ring" in text
    assert fingerprint(B) in text and fingerprint(C) in text
    assert not any(k.decode() in text for k in (A, B, C))


def test_bytes_sealed_before_keys_were_named_open_with_any_key_of_the_ring():
    legacy = Fernet(base64.urlsafe_b64encode(derive_key(A, "vault"))).encrypt(b"old")
    assert key_of(legacy) is None
    ring = Sealer(KeyRing((B, A), A), "vault")
    assert ring.open(legacy) == b"old" and ring.key_of(legacy) == fingerprint(A)
    with pytest.raises(KeyNotInRing, match="sealed under a key that is not in the key ring"):
        Sealer(B, "vault").open(legacy)


def test_altered_data_is_refused_even_under_a_known_key():
    sealed = bytearray(Sealer(A, "vault").seal(b"data"))
    sealed[-5] ^= 1
    with pytest.raises(InvalidToken) as err:
        Sealer(A, "vault").open(bytes(sealed))
    assert not isinstance(err.value, KeyNotInRing)


def test_an_installation_with_one_key_keeps_it_as_ring_and_token_key(tmp_path):
    s = Settings(home=tmp_path, pii_key=SecretStr(A.decode()))
    assert s.pii_ring() == KeyRing((A,), A) and s.pii_secret() == A
    local = Settings(home=tmp_path / "local")
    ring = local.pii_ring()
    made = (tmp_path / "local" / "pii.key").read_bytes().strip()
    assert ring == KeyRing((made,), made)


def test_cf_pii_keys_is_the_ring_and_cf_pii_key_stays_the_token_key(tmp_path):
    s = Settings(
        home=tmp_path,
        pii_key=SecretStr(A.decode()),
        pii_keys=SecretStr(f"{B.decode()}, {A.decode()}"),
    )
    assert s.pii_ring() == KeyRing((B, A), A)
    explicit = s.model_copy(update={"pii_token_key": SecretStr(C.decode())})
    assert explicit.pii_ring().token_key == C
    with pytest.raises(ConfigError, match="neither CF_PII_TOKEN_KEY nor CF_PII_KEY"):
        Settings(home=tmp_path, pii_keys=SecretStr(B.decode())).pii_ring()
    with pytest.raises(ConfigError, match="CF_PII_KEYS is too short"):
        s.model_copy(update={"pii_keys": SecretStr(f"{B.decode()},short")}).pii_ring()


def test_a_local_rotation_adds_a_primary_key_and_keeps_the_token_key(tmp_path):
    s = Settings(home=tmp_path)
    original = s.pii_secret()

    rotated, text = rotate(s)
    first = Settings(home=tmp_path).pii_ring()
    rotate(s)
    second = Settings(home=tmp_path).pii_ring()

    assert rotated and first.keys[1:] == (original,) and len(first.primary) == 64
    assert second.keys[1:] == first.keys and second.token_key == original
    assert (tmp_path / "pii.keys").stat().st_mode & 0o777 == 0o600
    assert fingerprint(first.primary) in text and "keys reseal" in text
    assert not any(k.decode() in text for k in first.keys)


def test_a_rotation_with_keys_from_the_environment_changes_nothing_and_says_what_to_do(tmp_path):
    s = Settings(home=tmp_path, pii_key=SecretStr(A.decode()))

    rotated, text = rotate(s)

    assert not rotated and not (tmp_path / "pii.keys").exists()
    assert f"CF_PII_KEYS=<new key>,<key {fingerprint(A)}>" in text
    assert "Keep CF_PII_KEY as it is" in text and A.decode() not in text
