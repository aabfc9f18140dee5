"""DDP on CPU: `torchrun --nproc_per_node=2 -m services.cli train` with gloo. The ranks sample different
tasks, average their gradients and so end with identical weights."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from services.trainer.checkpoint import latest_checkpoint, read_state
from services.trainer.run import DUMP_RANKS_ENV

from .runs import REPO, cli_env, metrics_rows, train_argv


def _torchrun(argv: list[str]) -> subprocess.CompletedProcess[str]:
    """`torchrun --nproc_per_node=2 --standalone -m services.cli ARGV`, rank 1 dumping its adapter and rows."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--standalone", "-m", "services.cli",
           *argv]  # fmt: skip
    return subprocess.run(cmd, cwd=REPO, env=cli_env(**{DUMP_RANKS_ENV: "1", "OMP_NUM_THREADS": "1"}),
                          capture_output=True, text=True, timeout=280, check=False)  # fmt: skip


def _weights(adapter: Path) -> dict[str, torch.Tensor]:
    return load_file(str(adapter / "adapter_model.safetensors"))


def test_two_gloo_ranks_split_the_tasks_and_stay_identical(tmp_path: Path, base_model: Path) -> None:
    out = tmp_path / "out"
    # A short CCCS prefix that decays at a 50% compile rate: the ranks must agree on the curriculum.
    cccs = {"cccs": True, "cccs_initial_prefix_frac": 0.2, "cccs_decay_threshold": 0.5, "cccs_decay_step": 0.1}
    done = _torchrun(train_argv(out, base_model, 3, heldout_tasks=1, device="cpu", **cccs))
    assert done.returncode == 0, done.stderr[-4000:]
    assert done.stdout.count("trained 3 steps") == 1  # printed by rank 0 only

    summary = json.loads((out / "summary.json").read_text())
    assert summary["world_size"] == 2 and summary["steps"] == 3
    main_rows, other_rows = metrics_rows(out), metrics_rows(out / "rank1")
    assert [r["step"] for r in main_rows] == [r["step"] for r in other_rows] == [1, 2, 3]
    # Each rank walks its own share of the shuffled tasks: no task is drawn by both.
    drawn = [set(r["task_ids"]) for r in main_rows], [set(r["task_ids"]) for r in other_rows]
    assert set().union(*drawn[0]).isdisjoint(set().union(*drawn[1])), drawn
    assert any(r["updated"] for r in main_rows + other_rows)
    # A row describes the whole step, every rank's samples; the curriculum moves in step on both ranks.
    for ours, theirs in zip(main_rows, other_rows, strict=True):
        drawn_here = len(ours["task_ids"]) + len(theirs["task_ids"])
        assert ours["samples"] == theirs["samples"] == 4 * drawn_here
        shared = ("reward_mean", "reward_std", "compile_rate", "pass_rate", "dropped", "discarded", "cccs_prefix")
        assert {k: ours[k] for k in shared} == {k: theirs[k] for k in shared}
    assert main_rows[-1]["cccs_prefix"] < 0.2  # it did decay (on the mean of both ranks' groups)
    # The checkpoint holds each rank's cursor (refills move them apart), so a resume goes on where each was.
    cursors = [sum(len(r["task_ids"]) for r in rows) for rows in (main_rows, other_rows)]
    assert read_state(latest_checkpoint(out) or out).rank_cursors == cursors

    # Gradients were all-reduced: different data, the same weights, bit for bit, and they did train.
    ours, theirs = _weights(out / "adapter"), _weights(out / "rank1" / "adapter")
    assert ours.keys() == theirs.keys()
    assert all(torch.equal(ours[k], theirs[k]) for k in ours)
    assert any(float(v.abs().sum()) > 0 for k, v in ours.items() if "lora_B" in k)
    assert not (out / "rank0").exists() and not (out / "rank1" / "summary.json").exists()


@pytest.mark.slow
def test_a_resumed_ddp_run_matches_an_uninterrupted_one(tmp_path: Path, base_model: Path) -> None:
    """Stopped after step 3 (where seed 0 gives rank 0 a refill, so the cursors differ) and resumed to 5."""
    settings = {"heldout_tasks": 0, "device": "cpu"}
    whole, split = tmp_path / "whole", tmp_path / "split"
    for argv in (train_argv(whole, base_model, 5, **settings), train_argv(split, base_model, 3, **settings),
                 ["train", "--resume", str(split), "--steps", "5", "--no-progress"]):  # fmt: skip
        done = _torchrun(argv)
        assert done.returncode == 0, done.stderr[-4000:]
    for sub in ("", "rank1"):
        a, b = metrics_rows(whole / sub), metrics_rows(split / sub)
        assert [r["task_ids"] for r in a] == [r["task_ids"] for r in b]
        assert [r["reward_mean"] for r in a] == [r["reward_mean"] for r in b]
    ours, theirs = _weights(whole / "adapter"), _weights(split / "adapter")
    assert all(torch.equal(ours[k], theirs[k]) for k in ours)
