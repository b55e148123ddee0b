"""One step's table writes as one value: a redo journal that makes a step all-or-nothing.

A changelog-backed table replays, after a crash, a prefix of the writes made to it. The
detector makes several writes per complaint; they are gathered in an `Overlay`, written first
as one journal entry (a single key: present whole or not at all), then applied, then the
step is marked applied. On recovery an entry newer than the mark is applied again: every
write is a whole value, so applying it twice is applying it once.
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from typing import Any

_GONE = object()


class Overlay(MutableMapping[str, Any]):
    """Reads through to `base`; writes and deletions stay here until `take`."""

    def __init__(self, base: MutableMapping[str, Any]) -> None:
        self.base = base
        self._writes: dict[str, Any] = {}

    def __getitem__(self, key: str) -> Any:
        if key in self._writes:
            value = self._writes[key]
            if value is _GONE:
                raise KeyError(key)
            return value
        value = self.base[key]
        if value is None:  # a table's default for a missing key
            raise KeyError(key)
        return value

    def get(self, key: str, default: Any = None) -> Any:
        try:
            return self[key]
        except KeyError:
            return default

    def __setitem__(self, key: str, value: Any) -> None:
        self._writes[key] = value

    def __delitem__(self, key: str) -> None:
        if key not in self:
            raise KeyError(key)
        self._writes[key] = _GONE

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.get(key) is not None

    def __iter__(self) -> Iterator[str]:
        for key in list(self.base):
            if self._writes.get(key, True) is not _GONE:
                yield key
        for key, value in self._writes.items():
            if value is not _GONE and key not in self.base:
                yield key

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def take(self) -> dict[str, Any]:
        """The writes of the step so far, as a journal body (`set`, `delete`), and forget them."""
        body = {
            "set": {k: v for k, v in self._writes.items() if v is not _GONE},
            "delete": sorted(k for k, v in self._writes.items() if v is _GONE),
        }
        self._writes = {}
        return body


def apply(base: MutableMapping[str, Any], body: dict[str, Any]) -> None:
    """Write a journal body to `base` (idempotent)."""
    for key, value in body["set"].items():
        base[key] = value
    for key in body["delete"]:
        base.pop(key, None)
