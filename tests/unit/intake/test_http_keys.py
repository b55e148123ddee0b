"""API keys of the intake HTTP API."""

from __future__ import annotations

import pytest

from services.intake.http_api import parse_keys
from services.kernel.errors import ConfigError


def test_keys_map_to_their_source():
    assert parse_keys("sh-cc=abcdefgh1, *=zzzzzzzz9") == {"abcdefgh1": "sh-cc", "zzzzzzzz9": "*"}


@pytest.mark.parametrize("spec", ["sh-cc", "sh-cc=short", "=abcdefghij"])
def test_bad_key_specs_are_refused(spec):
    with pytest.raises(ConfigError, match="CF_INTAKE_API_KEYS"):
        parse_keys(spec)
