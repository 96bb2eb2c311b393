"""Where a long step is, for whoever waits on it: a line in the run's event log (the Dagster UI) and on the terminal of
the `onett` command running it (the `onett.progress` logger, which the command prints). At most one line every
REPORT_SECONDS, so a step of a few seconds says nothing and a 10 GB upload says how far it is and how long is left."""

from __future__ import annotations

import logging
import time

from dagster import AssetExecutionContext

REPORT_SECONDS = 30.0
LOG = logging.getLogger("onett.progress")


class Progress:
    """What a long step has done, in bytes of its input (of `total` when known) or in named parts of its work,
    reported now and then."""

    def __init__(self, context: AssetExecutionContext, what: str, total: int | None = None):
        self.context, self.what, self.total = context, what, total
        self.started = self.reported = time.monotonic()
        self.done = self.items = 0

    def advance(self, done: int, items: int = 0, unit: str = "documents") -> None:
        self.done, self.items = self.done + done, self.items + items
        if (elapsed := self._due()) is None:
            return
        line = f"{self.what}: {self.items:,} {unit}, {_mb(self.done)}"
        share = min(self.done / self.total, 1.0) if self.total else None
        if share is not None:
            line += f" of {_mb(self.total)} ({share:.0%})"
        line += f" in {_duration(elapsed)} ({self.done / 2**20 / max(elapsed, 1e-9):.1f} MB/s)"
        if share is not None and 0 < share < 1:
            line += f", about {_duration(elapsed * (1 - share) / share)} left"
        self._say(line)

    def step(self, name: str) -> None:
        """A step of a run of steps (no bytes to count) is done."""
        if (elapsed := self._due()) is not None:
            self._say(f"{self.what}: {name} done, {_duration(elapsed)} so far")

    def _due(self) -> float | None:
        """Seconds since the start when a line is due now, else None."""
        now = time.monotonic()
        if now - self.reported < REPORT_SECONDS:
            return None
        self.reported = now
        return now - self.started

    def _say(self, line: str) -> None:
        self.context.log.info(line)
        LOG.info(line)


def _mb(n: int) -> str:
    return f"{n / 2**20:,.0f} MB" if n >= 2**20 else f"{n / 2**20:.2f} MB"


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
