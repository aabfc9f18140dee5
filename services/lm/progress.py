"""A progress line for training loops: step, loss, steps/s and ETA, on stderr, without a dependency.

On a terminal one line is rewritten in place (at most every `min_interval_s`); in a log file (not a
TTY) a line is written at every tenth of the run, so logs stay short.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TextIO


def format_duration(seconds: float) -> str:
    """`42s`, `3m07s`, `1h02m`: short enough for a progress line."""
    if not math.isfinite(seconds) or seconds < 0:
        return "?"
    s = round(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


@dataclass
class Progress:
    """Progress towards `total` steps, or through a `budget_s` time budget when `total` is None."""

    total: int | None
    budget_s: float | None = None
    stream: TextIO | None = None
    label: str = "bootstrap"
    min_interval_s: float = 0.5
    clock: Callable[[], float] = time.perf_counter
    started: float = field(init=False)
    _last_draw: float = field(init=False, default=-math.inf)
    _next_tenth: int = field(init=False, default=1)
    _drawn: bool = field(init=False, default=False)

    def __post_init__(self) -> None:
        if self.total is None and self.budget_s is None:
            raise ValueError("progress needs a step total or a time budget")
        self.started = self.clock()

    def fraction(self, step: int, now: float) -> float:
        if self.total is not None:
            return min(step / self.total, 1.0)
        assert self.budget_s is not None
        return min((now - self.started) / self.budget_s, 1.0)

    def line(self, step: int, loss: float, now: float) -> str:
        elapsed = now - self.started
        rate = step / elapsed if elapsed > 0 else 0.0
        if self.total is not None:
            left = (self.total - step) / rate if rate > 0 else math.inf
            where = f"step {step}/{self.total} ({step / self.total:.0%})"
        else:
            assert self.budget_s is not None
            left = self.budget_s - elapsed
            where = f"step {step} ({self.fraction(step, now):.0%} of {format_duration(self.budget_s)})"
        return (
            f"{self.label}: {where} loss {loss:.3f}, {rate:.2f} steps/s, "
            f"elapsed {format_duration(elapsed)}, ETA {format_duration(max(left, 0.0))}"
        )

    def update(self, step: int, loss: float) -> None:
        if self.stream is None:
            return
        now = self.clock()
        if self.stream.isatty():
            if now - self._last_draw >= self.min_interval_s:
                self.stream.write("\r" + self.line(step, loss, now) + "\033[K")
                self.stream.flush()
                self._last_draw, self._drawn = now, True
            return
        tenths = math.floor(self.fraction(step, now) * 10 + 1e-9)
        if tenths >= self._next_tenth:
            self.stream.write(self.line(step, loss, now) + "\n")
            self.stream.flush()
            self._next_tenth = tenths + 1

    def close(self) -> None:
        """End the in-place line so later output starts on a fresh one."""
        if self.stream is not None and self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False
