"""Tiny run settings for the trainer tests and helpers that run `cppforge train` in a subprocess.

Runs use the real bootstrap model (a 40-step test model compiles nothing, so every group would be
discarded and no update would happen), the real verifier in-process, and tiny budgets: 4 samples of
at most 48 tokens per step, one prompt per step, CCCS off so that groups have reward variance.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]

# Small enough for seconds per step on 2 busy cores; seed 0 gives groups with reward variance.
TINY: dict[str, Any] = {
    "heldout_tasks": 2,
    "heldout_samples": 1,
    "group_size": 4,
    "prompts_per_step": 1,
    "max_gen_len": 48,
    "num_tasks": 50,
    "dapo_max_refills": 1,
    "cccs": False,
}


def tiny_config(model: Path, *, recipe: str = "production", **overrides: Any) -> Any:
    """A TrainConfig of `recipe` with the tiny settings, on `model`."""
    from services.trainer.config import recipe_config

    return recipe_config(recipe, **{**TINY, "model": str(model), **overrides})


def set_args(overrides: dict[str, Any]) -> list[str]:
    """`--set field=value` arguments for `cppforge train`."""
    out: list[str] = []
    for name, value in overrides.items():
        text = str(value).lower() if isinstance(value, bool) else str(value)
        out += ["--set", f"{name}={text}"]
    return out


def train_argv(out: Path, model: Path, steps: int, **overrides: Any) -> list[str]:
    return ["train", "--recipe", "production", "--model", str(model), "--steps", str(steps), "--out", str(out),
            "--no-progress", *set_args({**TINY, **overrides})]  # fmt: skip


def cli_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


def run_cli(args: list[str], timeout: float = 240.0, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "services.cli", *args], cwd=REPO, env=cli_env(**env),
                          capture_output=True, text=True, timeout=timeout, check=False)  # fmt: skip


def start_cli(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    """`cppforge ARGS` in the background, stdout and stderr to `log`."""
    with log.open("wb") as sink:
        return subprocess.Popen([sys.executable, "-m", "services.cli", *args], cwd=REPO, env=cli_env(),
                                stdout=sink, stderr=subprocess.STDOUT)  # fmt: skip


def metrics_rows(out: Path, name: str = "metrics.jsonl") -> list[dict[str, Any]]:
    path = out / name
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # a row being written
    return rows


def wait_for_rows(proc: subprocess.Popen[bytes], out: Path, n: int, log: Path, timeout: float = 180.0) -> None:
    """Until metrics.jsonl has `n` rows; fails with the run's log if it exits or takes too long."""
    deadline = time.monotonic() + timeout
    while len(metrics_rows(out)) < n:
        if proc.poll() is not None:
            pytest.fail(f"the run exited ({proc.returncode}) before {n} steps:\n{log.read_text()[-3000:]}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"no {n} steps in {timeout:.0f}s:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)


def wait_for_text(proc: subprocess.Popen[bytes], log: Path, text: str, timeout: float = 60.0) -> None:
    """Until the run's log holds `text`."""
    deadline = time.monotonic() + timeout
    while text not in log.read_text(errors="replace"):
        if proc.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"no {text!r} in the log (exit {proc.poll()}):\n{log.read_text()[-3000:]}")
        time.sleep(0.05)


def error_lines(stderr: str) -> list[str]:
    """The lines of stderr that are cppforge's own error messages."""
    return [line for line in stderr.splitlines() if line.startswith("cppforge: error:")]
