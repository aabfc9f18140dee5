"""What the demo prints while it runs: numbered step headers with their wall time, and plain tables."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TextIO


def table(rows: Sequence[Sequence[str]], *, right: Sequence[int] = ()) -> str:
    """Columns padded to their widest cell; the columns listed in `right` right-aligned (numbers)."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = [c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


class Progress:
    """Step headers ("== 3/6 ..."), lines, and each step's wall time (kept for the summary)."""

    def __init__(self, out: TextIO, total: int) -> None:
        self.out = out
        self.total = total
        self.count = 0
        self.seconds: dict[str, float] = {}

    def line(self, text: str = "") -> None:
        print(text, file=self.out, flush=True)

    @contextmanager
    def step(self, key: str, title: str) -> Iterator[None]:
        self.count += 1
        self.line(f"\n== {self.count}/{self.total} {title}")
        started = time.monotonic()
        try:
            yield
        finally:
            self.seconds[key] = round(time.monotonic() - started, 2)
        self.line(f"   ({self.seconds[key]:.1f} s)")
