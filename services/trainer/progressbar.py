"""The training progress bar: step, reward, compile rate and time left, on stderr (tqdm)."""

from __future__ import annotations

from typing import Any, TextIO

from .config import TrainConfig


def fmt(value: float | None, spec: str) -> str:
    """A metric for display; "-" where it is null (every sample of the step was dropped)."""
    return "-" if value is None else format(value, spec)


class TrainProgress:
    def __init__(self, cfg: TrainConfig, step: int, elapsed_s: float, stream: TextIO | None) -> None:
        self._bar: Any = None
        self.by_time = not cfg.steps and bool(cfg.minutes)
        if stream is None:
            return
        from tqdm import tqdm

        tty = stream.isatty()
        if self.by_time:
            total: float | None = round(cfg.minutes * 60)
            initial: float = round(elapsed_s)
            unit = "s"
        else:
            total, initial, unit = (cfg.steps or None), step, "step"
        self._bar = tqdm(total=total, initial=initial, unit=unit, file=stream, desc="train", dynamic_ncols=True,
                         mininterval=0.5 if tty else 30.0, leave=True)  # fmt: skip
        self._last_elapsed = elapsed_s

    def update(self, row: dict[str, Any]) -> None:
        if self._bar is None:
            return
        if self.by_time:
            self._bar.update(max(0, round(row["elapsed_s"]) - round(self._last_elapsed)))
            self._last_elapsed = row["elapsed_s"]
        else:
            self._bar.update(1)
        if "reward_mean" in row:
            self._bar.set_postfix(step=row["step"], reward=fmt(row["reward_mean"], ".3f"),
                                  compile=fmt(row["compile_rate"], ".0%"), passed=fmt(row["pass_rate"], ".0%"),
                                  refresh=False)  # fmt: skip
        else:  # sft and distill rows: the loss (and distillation's KL and CE terms)
            terms = {key: f"{row[key]:.3f}" for key in ("loss", "kl", "ce") if key in row}
            self._bar.set_postfix(step=row["step"], **terms, refresh=False)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
