"""A bench stage's processes are stopped however it ends: real child processes, one that
exits on SIGTERM and one that ignores it (SIGKILL after the grace), all reaped."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from services.bench.processes import Processes
from services.devstack.ports import alive

ROOT = Path(__file__).resolve().parents[3]
POLITE = "import signal; print('ready', flush=True); signal.pause()"
"""Exits on SIGTERM (Python's default: killed by it)."""
STUBBORN = (
    "import signal; signal.signal(signal.SIGTERM, signal.SIG_IGN);"
    " print('ready', flush=True)\nwhile True: signal.pause()"
)
"""Ignores SIGTERM: only SIGKILL ends it."""


def _start(processes: Processes, name: str, script: str) -> subprocess.Popen[bytes]:
    """A child running `script`, returned once it says it is ready (its handlers set)."""
    proc = processes.start(name, [sys.executable, "-c", script], stdout=subprocess.PIPE)
    assert proc.stdout is not None
    assert proc.stdout.readline() == b"ready\n"
    proc.stdout.close()
    return proc


def _reaped(proc: subprocess.Popen[bytes]) -> bool:
    """Waited for: no zombie is left (the kernel knows the pid no more as our child)."""
    try:
        os.waitpid(proc.pid, os.WNOHANG)
    except ChildProcessError:
        return proc.returncode is not None
    return False


def test_leaving_stops_every_process_and_kills_one_that_ignores_sigterm_after_the_grace():
    # Given a polite process and a stubborn one, both running
    with Processes(grace=0.5) as processes:
        polite = _start(processes, "polite", POLITE)
        stubborn = _start(processes, "stubborn", STUBBORN)
        assert polite.poll() is None and stubborn.poll() is None

    # When the stage ends normally: then the polite one ended on SIGTERM, the stubborn one
    # was killed after the grace, and both were reaped
    assert polite.returncode == -signal.SIGTERM
    assert stubborn.returncode == -signal.SIGKILL
    assert _reaped(polite) and _reaped(stubborn)


def test_a_stage_that_fails_still_stops_and_reaps_its_processes():
    processes = Processes(grace=0.5)
    with pytest.raises(RuntimeError, match="the stage failed"), processes:
        polite = _start(processes, "polite", POLITE)
        stubborn = _start(processes, "stubborn", STUBBORN)
        raise RuntimeError("the stage failed")
    assert (polite.returncode, stubborn.returncode) == (-signal.SIGTERM, -signal.SIGKILL)
    assert _reaped(polite) and _reaped(stubborn)


def test_an_interruption_is_told_which_processes_were_stopped():
    processes = Processes(grace=0.5)
    with pytest.raises(KeyboardInterrupt) as caught, processes:
        _start(processes, "intake", POLITE)
        ended = _start(processes, "routing", POLITE)
        ended.terminate()
        ended.wait()
        raise KeyboardInterrupt
    # The one that had already ended is not among those stopped
    assert caught.value.__notes__ == ["1 process (intake)"]


def test_stopping_some_leaves_the_others_running_until_the_stage_ends():
    with Processes(grace=0.5) as processes:
        first = _start(processes, "sla_timer", POLITE)
        second = _start(processes, "sla_timer", POLITE)
        assert processes.stop(first) == ["sla_timer"]
        assert _reaped(first) and second.poll() is None
    assert _reaped(second)


def interruptible_run(grace: float, start: str) -> subprocess.Popen[str]:
    """A Python process that runs `start` (its lines) in `interruptible()` and a `Processes`,
    waits for a signal, prints the interruption's notes and exits 128 + the signal."""
    body = "".join(f"        {line}\n" for line in start.splitlines())
    script = (
        "import signal, subprocess, sys\n"
        "from services.bench.processes import Interrupted, Processes, interruptible\n"
        "try:\n"
        f"    with interruptible(), Processes(grace={grace}) as processes:\n"
        f"{body}"
        "        while True: signal.pause()\n"
        "except Interrupted as exc:\n"
        "    print(exc.__notes__, flush=True)\n"
        "    sys.exit(128 + exc.signum)\n"
    )
    return subprocess.Popen(
        [sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )


@pytest.mark.parametrize(
    ("sig", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)], ids=["SIGTERM", "SIGINT"]
)
def test_a_signal_to_an_interruptible_run_stops_its_processes_and_exits_128_plus_it(sig, code):
    # Given a run that has started a process and waits, SIGINT and SIGTERM interrupting it
    run = interruptible_run(
        5,
        f"child = processes.start('worker', [sys.executable, '-c', {POLITE!r}],"
        " stdout=subprocess.DEVNULL)\n"
        "print(child.pid, flush=True)",
    )
    try:
        assert run.stdout is not None
        child = int(run.stdout.readline())

        # When the signal reaches it
        run.send_signal(sig)

        # Then it stops its process, says which, and exits 128 + the signal
        assert run.wait(timeout=30) == code
        assert run.stdout.read() == "['1 process (worker)']\n"
        assert not alive(child)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()


def test_a_second_ctrl_c_while_the_first_one_stops_the_run_does_not_cut_the_stopping_short():
    # Given a run whose process says when SIGTERM reaches it, and ignores it
    noisy = (
        "import signal; signal.signal(signal.SIGTERM, lambda *_: print('term', flush=True));"
        " print('ready', flush=True)\nwhile True: signal.pause()"
    )
    run = interruptible_run(1, f"processes.start('worker', [sys.executable, '-c', {noisy!r}])")
    try:
        assert run.stdout is not None
        assert run.stdout.readline() == "ready\n"
        run.send_signal(signal.SIGINT)
        assert run.stdout.readline() == "term\n"  # the stopping has begun

        # When Ctrl-C comes again
        run.send_signal(signal.SIGINT)

        # Then the stopping goes on to its end (SIGKILL after the grace) and says what it did
        assert run.wait(timeout=30) == 130
        assert run.stdout.read() == "['1 process (worker)']\n"
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
