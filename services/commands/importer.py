"""`complaintflow import`: bulk import of CSV exports, resumable, with a progress bar and tally.

Every event derived from a row is sent, valid or not: intake dead-letters the invalid ones
with their reason (nothing is lost), and the tally here counts them by the same reason.
A checkpoint of rows already acknowledged by the broker lets a re-run skip them; rows sent
twice anyway produce the same event ids, which intake drops.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

from services.intake.importers import cfpb, mapping
from services.intake.validate import parse
from services.kernel import kafka as kf
from services.kernel.errors import PoisonMessage
from services.kernel.settings import Settings
from services.sdk.submit import send_raw

CHECKPOINT_EVERY = 2000
csv.field_size_limit(sys.maxsize)  # CFPB narratives can be long


@dataclass
class Tally:
    rows: int = 0
    skipped: int = 0
    events: int = 0
    accepted: int = 0
    rejected: Counter[str] = field(default_factory=Counter)

    def render(self) -> str:
        lines = [
            f"rows read {self.rows:,} (skipped as already imported: {self.skipped:,})",
            f"events {self.events:,}: accepted {self.accepted:,}, "
            f"rejected {sum(self.rejected.values()):,}",
        ]
        lines += [f"  rejected {n:,} × {reason}" for reason, n in self.rejected.most_common()]
        return "\n".join(lines)


class _Counting(io.RawIOBase):
    """A binary reader that counts the bytes it hands out (for the progress bar)."""

    def __init__(self, inner: BinaryIO) -> None:
        self.inner = inner
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.inner.read(len(buffer))
        buffer[: len(data)] = data
        self.count += len(data)
        return len(data)


@contextmanager
def csv_reader(path: Path) -> Iterator[tuple[csv.DictReader[str], _Counting]]:
    """The rows of a CSV export (UTF-8, with or without a BOM) and a count of the bytes read
    so far, for a progress bar."""
    with path.open("rb") as fh:
        counting = _Counting(fh)
        text = io.TextIOWrapper(
            io.BufferedReader(counting), encoding="utf-8-sig", errors="replace", newline=""
        )
        yield csv.DictReader(text), counting


def _checkpoint_path(settings: Settings, path: Path) -> Path:
    stat = path.stat()
    ident = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
    digest = hashlib.sha256(ident.encode()).hexdigest()[:16]
    return settings.home / "imports" / f"{path.name}.{digest}.json"


def import_file(
    settings: Settings,
    path: Path,
    *,
    fmt: str,
    mapping_path: Path | None = None,
    progress: bool = True,
) -> Tally:
    """Send every row of `path` as raw events; returns the tally."""
    convert: Callable[[dict[str, str]], list[dict[str, Any]]]
    if fmt == "cfpb":
        check: Callable[[list[str]], None] = cfpb.check_header
        convert = cfpb.events
    else:
        if mapping_path is None:
            raise ValueError("--format csv needs --mapping MAP.yaml")
        rules = mapping.load(mapping_path)
        check = lambda cols: mapping.check_header(rules, cols)  # noqa: E731
        convert = lambda row: mapping.events(rules, row)  # noqa: E731
    checkpoint = _checkpoint_path(settings, path)
    done = json.loads(checkpoint.read_text())["rows_done"] if checkpoint.exists() else 0
    tally = Tally()
    pending: list[Any] = []
    prod = kf.producer(settings, client_id="complaintflow-import")
    size = path.stat().st_size
    with csv_reader(path) as (reader, counting):
        check(list(reader.fieldnames or []))
        columns = [
            TextColumn("importing {task.fields[name]}"),
            BarColumn(),
            DownloadColumn(),
            TextColumn("{task.fields[rows]:,} rows"),
            TimeRemainingColumn(),
        ]
        with Progress(*columns, disable=not progress, transient=True) as bar:
            task = bar.add_task("import", total=size, name=path.name, rows=0)
            for row in reader:
                tally.rows += 1
                if tally.rows <= done:
                    tally.skipped += 1
                    continue
                for event in convert(row):
                    pending.append(_send(prod, settings, event, tally))
                if tally.rows % CHECKPOINT_EVERY == 0:
                    _confirm(prod, pending)
                    _save(checkpoint, tally.rows)
                    bar.update(task, completed=counting.count, rows=tally.rows)
            _confirm(prod, pending)
            _save(checkpoint, tally.rows)
            bar.update(task, completed=size, rows=tally.rows)
    prod.close(timeout=10)
    return tally


def _confirm(prod: Any, pending: list[Any]) -> None:
    """Block until the broker has every event sent so far; raises if one was refused, so
    the checkpoint never moves past a row that is not on Kafka."""
    prod.flush()
    for fut in pending:
        fut.get(timeout=60)
    pending.clear()


def _send(prod: Any, settings: Settings, event: dict[str, Any], tally: Tally) -> Any:
    data = json.dumps(event, ensure_ascii=False).encode()
    tally.events += 1
    try:
        parse(data, now=datetime.now(UTC))
        tally.accepted += 1
    except PoisonMessage as exc:
        tally.rejected[exc.reason] += 1
    return send_raw(prod, settings, data)[0]


def _save(checkpoint: Path, rows: int) -> None:
    checkpoint.parent.mkdir(parents=True, exist_ok=True)
    tmp = checkpoint.with_suffix(".tmp")
    tmp.write_text(json.dumps({"rows_done": rows}))
    tmp.replace(checkpoint)  # atomic: a crash never leaves half a checkpoint
