"""The eval progress line on stderr: tasks done, samples/s, pass rate so far, elapsed and ETA.

On a terminal one line is rewritten in place (at most every `min_interval_s`); in a log (not a TTY) a
line is written at every tenth of the tasks, so logs stay short (as services/lm/progress.py does).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TextIO

from ...lm.progress import format_duration


@dataclass
class EvalProgress:
    total_tasks: int
    stream: TextIO | None
    label: str = "eval"
    min_interval_s: float = 0.5
    clock: Callable[[], float] = time.perf_counter
    started: float = field(init=False)
    _last_draw: float = field(init=False, default=-math.inf)
    _next_tenth: int = field(init=False, default=1)
    _drawn: bool = field(init=False, default=False)

    def __post_init__(self) -> None:
        self.started = self.clock()

    def line(self, tasks: int, samples: int, passed: int, now: float) -> str:
        elapsed = now - self.started
        rate = samples / elapsed if elapsed > 0 else 0.0
        left = (self.total_tasks - tasks) * elapsed / tasks if tasks else math.inf
        share = f"{passed / samples:.1%}" if samples else "-"
        return (
            f"{self.label}: {tasks}/{self.total_tasks} tasks ({tasks / max(self.total_tasks, 1):.0%}), "
            f"{samples} samples, {rate:.2f} samples/s, passed {share}, "
            f"elapsed {format_duration(elapsed)}, ETA {format_duration(left)}"
        )

    def update(self, tasks: int, samples: int, passed: int) -> None:
        if self.stream is None:
            return
        now = self.clock()
        if self.stream.isatty():
            if now - self._last_draw >= self.min_interval_s or tasks == self.total_tasks:
                self.stream.write("\r" + self.line(tasks, samples, passed, now) + "\033[K")
                self.stream.flush()
                self._last_draw, self._drawn = now, True
            return
        tenths = math.floor(tasks / max(self.total_tasks, 1) * 10 + 1e-9)
        if tenths >= self._next_tenth:
            self.stream.write(self.line(tasks, samples, passed, now) + "\n")
            self.stream.flush()
            self._next_tenth = tenths + 1

    def note(self, message: str) -> None:
        """A line of its own (a warning), not overwritten by the next update."""
        if self.stream is None:
            return
        self.close()
        self.stream.write(f"{self.label}: {message}\n")
        self.stream.flush()

    def close(self) -> None:
        if self.stream is not None and self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False
