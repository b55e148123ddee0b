"""The command line as a person uses it in a shell."""

from __future__ import annotations

import subprocess
import sys


def test_a_reader_that_goes_away_is_not_an_error():
    # Given a command whose reader has gone before it writes (`... | head -0`)
    proc = subprocess.Popen(
        [sys.executable, "-m", "services.commands.cli", "topics", "--markdown"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    err = proc.stderr.read().decode()
    # Then it ends quietly: no traceback, success
    assert proc.wait(timeout=60) == 0, err
    assert "Traceback" not in err and "BrokenPipe" not in err


def test_make_run_gives_the_read_api_a_key_made_once_per_home(tmp_path):
    from services.analytics.settings import AnalyticsSettings
    from services.commands.cli import _analytics_api

    first = _analytics_api(AnalyticsSettings(home=tmp_path))
    again = _analytics_api(AnalyticsSettings(home=tmp_path))
    key = (tmp_path / "analytics-api.key").read_text()
    assert first["env"]["CF_ANALYTICS_API_KEYS"] == again["env"]["CF_ANALYTICS_API_KEYS"]
    assert first["env"]["CF_ANALYTICS_API_KEYS"] == f"local={key}" and len(key) >= 16
    assert first["http_url"].endswith("/v1/complaints")
