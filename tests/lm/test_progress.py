"""The bootstrap progress line: steps/s and ETA, in place on a TTY, every tenth in a log."""

from __future__ import annotations

import io

import pytest

from services.lm.progress import Progress, format_duration


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_format_duration() -> None:
    assert [format_duration(s) for s in (0, 42.4, 187, 3720)] == ["0s", "42s", "3m07s", "1h02m"]
    assert format_duration(float("inf")) == "?"


def test_steps_per_second_and_eta() -> None:
    clock = Clock()
    bar = Progress(total=1000, clock=clock)
    clock.now += 50.0  # 250 steps in 50 s: 5 steps/s, 750 left -> 150 s
    line = bar.line(250, 0.8123, clock.now)
    assert line == "bootstrap: step 250/1000 (25%) loss 0.812, 5.00 steps/s, elapsed 50s, ETA 2m30s"


def test_budget_mode_counts_down_the_budget() -> None:
    clock = Clock()
    bar = Progress(total=None, budget_s=120.0, clock=clock)
    clock.now += 30.0
    assert bar.line(90, 1.0, clock.now).endswith("3.00 steps/s, elapsed 30s, ETA 1m30s")
    assert "25% of 2m00s" in bar.line(90, 1.0, clock.now)


def test_log_file_gets_one_line_per_tenth() -> None:
    clock, out = Clock(), io.StringIO()
    bar = Progress(total=100, stream=out, clock=clock)
    for step in range(1, 101):
        clock.now += 0.1
        bar.update(step, 1.0)
    bar.close()
    lines = out.getvalue().splitlines()
    assert len(lines) == 10 and lines[0].startswith("bootstrap: step 10/100") and "step 100/100" in lines[-1]


def test_tty_redraws_in_place_and_closes_the_line() -> None:
    clock, out = Clock(), Tty()
    bar = Progress(total=10, stream=out, clock=clock, min_interval_s=0.5)
    for step in range(1, 11):
        clock.now += 0.3
        bar.update(step, 1.0)
    bar.close()
    text = out.getvalue()
    assert text.count("\r") == 5 and text.endswith("\n") and text.count("\n") == 1


def test_needs_a_total_or_a_budget() -> None:
    with pytest.raises(ValueError):
        Progress(total=None)
