"""The consumer's model output logs: JSONL files (optionally gzipped) in a folder, one output per line with its
`timestamp` (ISO 8601, or seconds since the epoch), `request_id` and `output` text. The recitation guard reads them
day by day; a line it cannot read is reported with its file and line, never stops the day."""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

from dagster import ConfigurableResource


@dataclass(frozen=True)
class LoggedOutput:
    at: datetime
    request_id: str
    output: str
    source: str  # file:line


@dataclass
class DayRead:
    outputs: list[LoggedOutput]
    files: int
    problems: list[str]


class OutputLogs(ConfigurableResource):
    path: str

    def files(self) -> list[Path]:
        folder = Path(self.path)
        if not folder.is_dir():
            return []
        return sorted(p for p in folder.rglob("*") if p.is_file() and p.name.endswith((".jsonl", ".jsonl.gz")))

    def read(self, start: datetime, end: datetime) -> DayRead:
        """The outputs logged in [start, end). A file last written before `start` holds none of them (outputs are
        logged as they are made) and is not opened."""
        outputs, problems, opened = [], [], 0
        for path in self.files():
            if path.stat().st_mtime < start.timestamp():
                continue
            opened += 1
            for line_no, record, problem in _lines(path):
                where = f"{path.relative_to(self.path)}:{line_no}"
                if problem:
                    problems.append(f"{where}: {problem}")
                    continue
                if start <= record[0] < end:
                    outputs.append(LoggedOutput(record[0], record[1], record[2], where))
        return DayRead(outputs, opened, problems)


def _lines(path: Path) -> Iterator[tuple[int, tuple | None, str]]:
    opener = gzip.open if path.name.endswith(".gz") else open
    try:
        with opener(path, "rb") as handle:
            for line_no, raw in enumerate(handle, start=1):
                if not raw.strip():
                    continue
                try:
                    item = json.loads(raw.decode("utf-8"))
                except UnicodeDecodeError:
                    yield line_no, None, "not UTF-8"
                    continue
                except json.JSONDecodeError as exc:
                    yield line_no, None, f"not JSON ({exc.msg})"
                    continue
                yield line_no, *_record(item)
    except (OSError, EOFError) as exc:
        yield 0, None, f"unreadable ({exc})"


def _record(item) -> tuple[tuple | None, str]:
    if not isinstance(item, dict):
        return None, "not a JSON object"
    output, request_id, stamp = item.get("output"), item.get("request_id"), item.get("timestamp")
    if not isinstance(output, str):
        return None, "no `output` text"
    if not isinstance(request_id, (str, int)) or str(request_id) == "":
        return None, "no `request_id`"
    try:
        if isinstance(stamp, (int, float)) and not isinstance(stamp, bool):
            at = datetime.fromtimestamp(stamp, timezone.utc)
        else:
            at = datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
            if at.tzinfo is None:
                return None, f"`timestamp` {stamp!r} has no time zone"
    except (ValueError, OverflowError, OSError):
        return None, f"`timestamp` {stamp!r} is not ISO 8601 or seconds since the epoch"
    return (at, str(request_id), output), ""
