"""Log lines for people (text) or for log pipelines (JSON, one object a line: CF_LOG_FORMAT=json).

The loop says which record it is handling with `handling(...)`; a JSON line logged meanwhile
carries that record's complaint id, topic, partition and offset. Messages never hold customer
data (they name records by `topic[partition]@offset`), and neither do these fields.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

LogFormat = Literal["text", "json"]
CONTEXT_FIELDS = ("complaint_id", "topic", "partition", "offset")
"""What a JSON line says of the record being handled, where known."""
_context: ContextVar[dict[str, object]] = ContextVar("complaintflow_log_context")


@contextmanager
def handling(**fields: object) -> Iterator[None]:
    """Within the block, log lines carry these fields (those given as None are left out)."""
    token = _context.set({**_context.get({}), **{k: v for k, v in fields.items() if v is not None}})
    try:
        yield
    finally:
        _context.reset(token)


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time (UTC), level, worker, logger, message, the record being
    handled, and the exception with its traceback when there is one."""

    def __init__(self, worker: str) -> None:
        super().__init__()
        self.worker = worker

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "worker": self.worker,
            "logger": record.name,
            "message": record.getMessage(),
        }
        context = _context.get({})
        for name in CONTEXT_FIELDS:  # given with `extra=` on the call, else by `handling`
            value = record.__dict__.get(name, context.get(name))
            if value is not None:
                line[name] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, ensure_ascii=False, default=str)


_NUMBERS = re.compile(r"\d+")


class Condense(logging.Filter):
    """The Kafka client logs an error per connection attempt while a broker is down (several
    a second): a line of the client that repeats (numbers aside) is let through once per
    `every` seconds, and the next one let through says how many were held back."""

    def __init__(self, every: float = 30.0, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.every, self.clock = every, clock
        self._seen: dict[tuple[str, int, str], tuple[float, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith("kafka"):
            return True
        key = (record.name, record.levelno, _NUMBERS.sub("#", str(record.msg))[:200])
        now = self.clock()
        shown = self._seen.get(key)
        if shown is not None and now - shown[0] < self.every:
            self._seen[key] = (shown[0], shown[1] + 1)
            return False
        if len(self._seen) > 1000:  # the client's lines are few; never grow without bound
            self._seen.clear()
        self._seen[key] = (now, 0)
        if shown is not None and shown[1]:
            record.msg = (
                f"{record.getMessage()} (and {shown[1]} more like it"
                f" in the last {now - shown[0]:.0f} s)"
            )
            record.args = ()
        return True


def setup_logging(
    level: str, *, worker: str, fmt: LogFormat = "text", file: Path | None = None
) -> None:
    """Log to stderr, or to `file`, as text lines or JSON lines."""
    if file is not None:
        file.parent.mkdir(parents=True, exist_ok=True)
    handler: logging.Handler = (
        logging.FileHandler(file, encoding="utf-8")
        if file is not None
        else logging.StreamHandler(sys.stderr)
    )
    handler.setFormatter(
        JsonFormatter(worker)
        if fmt == "json"
        else logging.Formatter(f"%(asctime)s %(levelname)s {worker} %(name)s: %(message)s")
    )
    handler.addFilter(Condense())
    logging.basicConfig(level=level.upper(), handlers=[handler])
    logging.getLogger("kafka").setLevel(logging.WARNING)
