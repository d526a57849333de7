"""A one-line progress bar on stderr. Silent when stderr is not a terminal (logs, CI, pipes), so
captured output never fills with carriage returns."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

BAR_WIDTH = 30


def clock_text(seconds: float) -> str:
    """A duration as m:ss, or h:mm:ss from an hour up."""
    whole = int(round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class ProgressBar:
    def __init__(self, stream: TextIO | None = None, enabled: bool | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self._shown = False
        self._clock = clock
        self._started = clock()

    def __call__(self, done: int, total: int, label: str) -> None:
        if not self.enabled:
            return
        fraction = min(done / total, 1.0) if total > 0 else 1.0
        filled = int(round(BAR_WIDTH * fraction))
        elapsed = self._clock() - self._started
        # The time left at the pace so far: tasks here are of similar size (replications, draws, runs).
        remaining = f", {clock_text(elapsed * (total - done) / done)} left" if 0 < done < total else ""
        timing = f" [{clock_text(elapsed)}{remaining}]"
        line = f"\r[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {done}/{total}{timing} {label}"
        self.stream.write(line[:120].ljust(80))
        self.stream.flush()
        self._shown = True

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        if self.enabled and self._shown:
            self.stream.write("\n")
            self.stream.flush()
            self._shown = False
