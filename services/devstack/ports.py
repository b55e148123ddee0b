"""Small process and port helpers for the local stack."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from typing import Protocol, TypeVar


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie child is not alive
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(") ", 1)[1][0] != "Z"
    except OSError:
        return True


def stop_process(pid: int, sig: int = signal.SIGTERM, timeout: float = 30) -> None:
    """Signal `pid` and wait until it is gone, then SIGKILL whatever is left."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)
    deadline = time.monotonic() + timeout
    while alive(pid) and time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        time.sleep(0.1)
    if alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)


class Child(Protocol):
    """The part of `subprocess.Popen` that stopping a child uses."""

    pid: int

    def poll(self) -> int | None: ...

    def send_signal(self, sig: int) -> None: ...

    def wait(self, timeout: float | None = None) -> int: ...

    def kill(self) -> None: ...


ChildT = TypeVar("ChildT", bound=Child)


def stop_children(children: Sequence[ChildT], timeout: float = 30) -> list[ChildT]:
    """SIGTERM to every child still running, SIGKILL to those still running `timeout`
    seconds later, each one reaped; the children that were running.

    All are signalled before any is waited for, so they wind down together within one
    `timeout`. Interrupted while it waits (KeyboardInterrupt), it kills and reaps the rest
    before it gives way: the stop is cut short, but leaves nothing behind.
    """
    running = [c for c in children if c.poll() is None]
    for child in running:
        child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    try:
        for child in running:
            try:
                child.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
    finally:
        for child in running:
            if child.poll() is None:
                child.kill()
                child.wait()
    return running


def describe_exit(code: int | None) -> str:
    """An exit status in words: `exit 2`, `killed by SIGKILL`, or `did not start`."""
    if code is None:
        return "did not start"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit {code}"
