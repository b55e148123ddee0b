"""What the local mail server received: the Message-ID of every mail the catcher kept (the
notification key's id), read from the headers only."""

from __future__ import annotations

import email.policy
from collections.abc import Iterator
from email.parser import BytesHeaderParser
from pathlib import Path

from services.notification.channels import idempotency_id

_parser = BytesHeaderParser(policy=email.policy.default)


def message_ids(folder: Path) -> Iterator[tuple[str, str]]:
    """(id, file name) of each kept mail: the id is the Message-ID without `<` and `@host>`.
    A mail still being written (`.name.eml`, renamed once whole) is not kept yet."""
    for path in sorted(folder.glob("*.eml")):
        if path.name.startswith("."):
            continue  # still being written
        head = _parser.parsebytes(_head(path))
        if head.get("X-Catcher-Channel"):
            continue  # a chat post kept beside the mails: not a mail
        found = str(head.get("Message-ID") or "").strip()
        yield found.strip("<>").split("@", 1)[0], path.name


def key_ids(keys: set[str]) -> Iterator[tuple[str, str]]:
    """(notification key, the id its mail carries) for each key."""
    for key in keys:
        yield key, idempotency_id(key)


def _head(path: Path) -> bytes:
    """The header block of a mail file (up to the first empty line)."""
    lines = []
    with path.open("rb") as f:
        for line in f:
            if not line.strip():
                break
            lines.append(line)
    return b"".join(lines)
