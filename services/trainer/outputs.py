"""What a run leaves in --out: metrics.jsonl (one row per step), TensorBoard scalars, reward_curve.png."""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

METRICS_FILE = "metrics.jsonl"
SUMMARY_FILE = "summary.json"
CURVE_FILE = "reward_curve.png"


class MetricsLog:
    """Appends one JSON row per step (flushed, so a reader sees it at once) and mirrors scalars to TensorBoard."""

    def __init__(self, out_dir: Path, *, tensorboard: bool = True) -> None:
        self.path = out_dir / METRICS_FILE
        self._file = self.path.open("a", encoding="utf-8")
        self._tb: Any = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self._tb = SummaryWriter(log_dir=str(out_dir / "tensorboard"))
            except ImportError as exc:  # tensorboard is in the train extra; say so once and go on
                log.warning("TensorBoard scalars off (%s)", exc)

    def write(self, row: dict[str, Any]) -> None:
        self._file.write(json.dumps(row, sort_keys=False) + "\n")
        self._file.flush()
        if self._tb is not None:
            for key, value in row.items():
                if key != "step" and isinstance(value, int | float) and math.isfinite(value):
                    self._tb.add_scalar(f"train/{key}", value, row["step"])

    def close(self) -> None:
        self._file.close()
        if self._tb is not None:
            self._tb.close()


def read_metrics(path: Path) -> list[dict[str, Any]]:
    """The rows of a metrics.jsonl; a torn last line (a run killed mid-write) is skipped."""
    rows: list[dict[str, Any]] = []
    if not path.is_file():
        return rows
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return rows


def truncate_metrics(path: Path, last_step: int) -> None:
    """Drop rows past `last_step` (steps a killed run logged after its last checkpoint are redone)."""
    rows = [r for r in read_metrics(path) if r.get("step", 0) <= last_step]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def _smooth(values: Sequence[float], window: int) -> list[float]:
    out: list[float] = []
    for i in range(len(values)):
        part = [v for v in values[max(0, i - window + 1) : i + 1] if math.isfinite(v)]
        out.append(sum(part) / len(part) if part else float("nan"))
    return out


REWARD_CURVES = (("reward_mean", "tab:blue"), ("compile_rate", "tab:orange"), ("pass_rate", "tab:green"))
# SFT and distillation rows carry no reward: their curve is the loss and its terms.
LOSS_CURVES = (("loss", "tab:blue"), ("kl", "tab:purple"), ("ce", "tab:red"), ("feature", "tab:brown"))


def plot_reward_curve(rows: Sequence[dict[str, Any]], png: Path, title: str = "") -> Path | None:
    """Reward mean, compile rate and pass rate per step (raw and smoothed), or for runs without rewards
    (sft, distill) the loss and its terms; None without rows."""
    if not rows:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rewarded = any("reward_mean" in r for r in rows)
    curves = REWARD_CURVES if rewarded else tuple(c for c in LOSS_CURVES if any(c[0] in r for r in rows))
    steps = [r["step"] for r in rows]
    window = max(1, len(rows) // 20)
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=100)
    for key, colour in curves:
        values = [float("nan") if r.get(key) is None else float(r[key]) for r in rows]  # null: nothing judged
        ax.plot(steps, values, color=colour, alpha=0.25, linewidth=0.8)
        ax.plot(steps, _smooth(values, window), color=colour, linewidth=2, label=f"{key} (mean of {window})")
    if any("cccs_prefix" in r for r in rows):
        ax.plot(steps, [r.get("cccs_prefix", 0.0) for r in rows], color="grey", linestyle="--", label="CCCS prefix")
    ax.set_xlabel("step")
    if rewarded:
        ax.set_ylim(-0.02, 1.02)
    ax.set_title(title or "cppforge training")
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    fig.savefig(png)
    plt.close(fig)
    return png
