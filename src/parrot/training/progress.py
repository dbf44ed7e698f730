"""A one-line progress bar for training in a terminal: fraction done, step, loss, time spent and left."""

from __future__ import annotations

import time
from typing import TextIO

from .trainer import Progress

WIDTH = 24


def clock(seconds: float) -> str:
    seconds = int(max(0.0, seconds))
    return f"{seconds // 60:02d}:{seconds % 60:02d}"


def describe(progress: Progress) -> str:
    filled = int(round(progress.fraction * WIDTH))
    return (
        f"[{'#' * filled}{'.' * (WIDTH - filled)}] {100 * progress.fraction:3.0f}%  step {progress.step}  "
        f"loss {progress.loss:.3f}  {clock(progress.elapsed)} spent, {clock(progress.seconds_left)} left"
    )


class ProgressBar:
    """Redraws one line at most ``interval`` seconds apart (every update when the output is not a terminal
    would flood a log, so then it prints a line every ``log_interval`` seconds instead)."""

    def __init__(self, out: TextIO, interval: float = 0.5, log_interval: float = 30.0) -> None:
        self.out = out
        self.tty = out.isatty()
        self.interval = interval if self.tty else log_interval
        self._last = 0.0
        self._drawn = False

    def update(self, progress: Progress) -> None:
        now = time.monotonic()
        if now - self._last < self.interval:
            return
        self._last = now
        line = describe(progress)
        if self.tty:
            self.out.write("\r" + line)
            self._drawn = True
        else:
            self.out.write(line + "\n")
        self.out.flush()

    def close(self) -> None:
        if self._drawn:
            self.out.write("\n")
            self.out.flush()
            self._drawn = False
