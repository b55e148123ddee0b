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
