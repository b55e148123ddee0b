"""Secret files made once per data directory: created atomically, validated when read.

Every worker of a fresh installation may look for its key at the same moment. Each one
writes a candidate to a private temporary file beside the target, flushes it to disk and
hard-links it into place; the link succeeds for exactly one of them and the others read the
winner's. The target name only ever points at a complete file, so nobody reads half a key.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from services.kernel.errors import ConfigError


def create_atomically(path: Path, content: str) -> bool:
    """Write `content` to `path` (mode 0600) unless it exists; True if this call made it.

    Losing the race is not an error (False); OSError means the directory cannot be written
    or the file system has no hard links.
    """
    tmp = _private_copy(path, content)
    try:
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False  # someone else's key is in place: theirs is the one
        _fsync_dir(path.parent)
        return True
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def replace_atomically(path: Path, content: str) -> None:
    """Write `content` to `path` (mode 0600), replacing it whole: a reader sees the old
    file or the new one, never a mix; the new one survives a power cut once this returns."""
    tmp = _private_copy(path, content)
    try:
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def _private_copy(path: Path, content: str) -> str:
    """A new file beside `path` (mode 0600, owner only) holding `content`, on disk."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(content)
            fh.flush()
            os.fsync(fh.fileno())
    except BaseException:
        os.unlink(tmp)
        raise
    return tmp


def _fsync_dir(directory: Path) -> None:
    """Make the new name itself durable, so a power cut cannot take back a key in use."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass(frozen=True)
class KeyFile:
    """A secret this installation makes for itself on first use (e.g. `pii.key`)."""

    path: Path
    make: Callable[[], str]
    """A fresh secret; it must match `pattern`."""
    pattern: re.Pattern[str]
    expected: str
    """What the file must hold, in words, for the error message."""
    remedy: str
    """What an operator can do about a bad file."""

    def ensure(self) -> bool:
        """Create the file if it is missing; True if this call made it."""
        if self.path.exists():
            return False
        try:
            return create_atomically(self.path, self.make())
        except OSError as exc:
            raise ConfigError(
                f"{self.path}: cannot create the key file: {exc.strerror or exc}"
            ) from exc

    def read(self) -> str:
        """The secret, made first if missing; ConfigError if the file is empty or malformed."""
        self.ensure()
        try:
            text = self.path.read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or "not ASCII text"
            raise ConfigError(f"{self.path}: cannot read the key file: {reason}") from exc
        if not text:
            problem = "is empty"
        elif not self.pattern.fullmatch(text):
            problem = f"is malformed ({len(text)} characters)"
        else:
            return text
        raise ConfigError(f"{self.path} {problem}; expected {self.expected}. {self.remedy}")
