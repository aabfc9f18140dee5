"""What an eval leaves behind: the report (summary.json's content) and the pass@k PNG."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .passk import mean_pass_at_k

RESULTS_FILE = "results.jsonl"
SUMMARY_FILE = "summary.json"
PLOT_FILE = "pass_at_k.png"


@dataclass(frozen=True)
class TaskCount:
    """One task's tally: judged samples (n for pass@k), passed (c), compiled, and infra failures (left out)."""

    task_id: str
    judged: int
    passed: int
    compiled: int
    infra: int


@dataclass
class EvalReport:
    pass_at_k: dict[str, float | None]  # {"pass@1": 0.31, ...}; None when no task had k judged samples
    n: int
    ks: tuple[int, ...]
    tasks: int  # tasks evaluated (all of them unless interrupted)
    samples: int
    judged: int  # samples the verifier judged (samples - infra_failures)
    infra_failures: int  # samples the verifier could not judge: out of pass@k, never a failure
    compile_rate: float | None  # over judged samples
    pass_rate: float | None
    error_classes: dict[str, int]
    tasks_short: dict[str, int]  # per k: tasks left out of pass@k with fewer than k judged samples
    wall_s: float
    dataset: str
    dataset_sha256: str
    dataset_format: str
    model: str
    adapter: str | None
    inference_url: str
    verifier_url: str
    sampling: dict[str, Any]
    std: str
    timeout_s: float
    interrupted: bool = False
    out_dir: str | None = None
    per_task: list[TaskCount] = field(default_factory=list, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """summary.json: the pass@k values at the top (DESIGN.md's contract), then everything else."""
        return {
            **self.pass_at_k,
            "n": self.n,
            "tasks": self.tasks,
            "ks": list(self.ks),
            "samples": self.samples,
            "judged": self.judged,
            "infra_failures": self.infra_failures,
            "compile_rate": self.compile_rate,
            "pass_rate": self.pass_rate,
            "error_classes": dict(self.error_classes),
            "tasks_short": dict(self.tasks_short),
            "wall_s": round(self.wall_s, 3),
            "dataset": self.dataset,
            "dataset_sha256": self.dataset_sha256,
            "dataset_format": self.dataset_format,
            "model": self.model,
            "adapter": self.adapter,
            "inference_url": self.inference_url,
            "verifier_url": self.verifier_url,
            "sampling": dict(self.sampling),
            "std": self.std,
            "timeout_s": self.timeout_s,
            "interrupted": self.interrupted,
            "results": RESULTS_FILE,
            "plot": PLOT_FILE,
        }


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_summary(report: EvalReport, out_dir: Path) -> Path:
    path = out_dir / SUMMARY_FILE
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(report.to_dict(), indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)  # a reader never sees half a summary
    return path


def pass_at_k_curve(counts: Sequence[tuple[int, int]], n: int) -> list[float | None]:
    """pass@k for k = 1..n (None where no task has k judged samples)."""
    return [mean_pass_at_k(counts, k)[0] for k in range(1, n + 1)]


def plot_pass_at_k(report: EvalReport, png: Path) -> Path | None:
    """pass@k against k (1..n) with the asked-for ks marked and labelled; None when nothing was judged."""
    counts = [(t.judged, t.passed) for t in report.per_task]
    curve = pass_at_k_curve(counts, report.n)
    if all(v is None for v in curve):
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    ks = list(range(1, report.n + 1))
    values = [float("nan") if v is None else v for v in curve]
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=100)
    ax.plot(ks, values, color="tab:blue", marker=".", linewidth=1.5, label="pass@k (unbiased estimator)")
    for k in report.ks:
        value = report.pass_at_k.get(f"pass@{k}")
        if value is not None:
            ax.plot([k], [value], "o", color="tab:red")
            ax.annotate(f"pass@{k} = {value:.3f}", (k, value), textcoords="offset points", xytext=(6, -12), fontsize=9)
    if report.compile_rate is not None:
        ax.axhline(report.compile_rate, color="tab:orange", linestyle="--", linewidth=1,
                   label=f"compile rate per sample ({report.compile_rate:.1%})")  # fmt: skip
    ax.set_xlabel("k (samples drawn per task)")
    ax.set_ylabel("share of tasks solved")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlim(0.5, report.n + 0.5)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    name = Path(report.model).name or report.model
    ax.set_title(f"{name} on {Path(report.dataset).name}: {report.tasks} tasks x n={report.n}", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(png)
    plt.close(fig)
    return png
