"""train_dsa and `cppforge dsa` on the bootstrap model with batches of generated tasks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from services.cli import main
from services.lm.model import load_model
from services.trainer.dsa import dsa_handle, enable_dsa, load_dsa_model, task_batches, train_dsa
from services.trainer.dsa.train import take


def test_train_dsa_on_the_bootstrap_model(base_model: Path) -> None:
    loaded = load_model(base_model, device="cpu", dtype="float32")
    torch.manual_seed(0)  # the indexers' init
    model = enable_dsa(loaded.model, topk=8, index_heads=4, index_dim=32)
    batches = task_batches(loaded.tokenizer, n_tasks=200, seed=3, batch_size=2, seq_len=64)
    held_out = take(task_batches(loaded.tokenizer, n_tasks=100, seed=4, batch_size=2, seq_len=64), 2)
    seen: list[int] = []
    report = train_dsa(
        model,
        batches,
        stage1_steps=30,
        stage2_steps=3,
        eval_batches=held_out,
        on_step=lambda r: seen.append(r.stage),
        progress=None,
    )
    assert seen == [1] * 30 + [2] * 3
    before, warm, after = (report.evals[k] for k in ("before", "after_stage1", "after_stage2"))
    # the warm-up teaches the indexer the trained model's attention: lower KL, more of its mass in the top-k,
    # and the sparse model's LM loss moves towards the dense one (which stage 1 leaves alone)
    assert warm.kl < 0.85 * before.kl, (before, warm)  # measured 0.77-0.80 over indexer seeds
    assert warm.recall > before.recall + 0.1, (before, warm)  # measured +0.17-0.19
    assert warm.sparse_lm_loss < before.sparse_lm_loss, (before, warm)
    assert warm.dense_lm_loss == before.dense_lm_loss
    assert after.dense_lm_loss != warm.dense_lm_loss  # stage 2 trains the base
    assert dsa_handle(model).warmup_steps == 30 and not report.stage2_forced
    summary = report.summary()
    assert summary["stage1_kl_first"] is not None and summary["stage2_lm_loss_last"] is not None


def test_cli_dsa_writes_metrics_summary_and_model(base_model: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    argv = ["dsa", "--stage1-steps", "3", "--stage2-steps", "2", "--topk", "8", "--out", str(out), "--model",
            str(base_model), "--batch-size", "2", "--seq-len", "32", "--tasks", "100", "--eval-batches", "1",
            "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [(r["stage"], r["step"]) for r in rows] == [(1, 1), (1, 2), (1, 3), (2, 1), (2, 2)]
    assert all(r["lm_loss"] is None for r in rows[:3]) and all(r["lm_loss"] > 0 for r in rows[3:])
    summary = json.loads((out / "summary.json").read_text())
    assert summary["topk"] == 8 and set(summary["evals"]) == {"before", "after_stage1", "after_stage2"}
    reloaded = load_dsa_model(out / "model")
    assert dsa_handle(reloaded).config.topk == 8 and dsa_handle(reloaded).warmup_steps == 3


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--stage1-steps", "0", "--stage2-steps", "2", "--topk", "8"], "needs the dense warm-up"),
        (["--stage1-steps", "2", "--stage2-steps", "2", "--topk", "0"], "--topk must be >= 1"),
        (["--stage1-steps", "0", "--stage2-steps", "0", "--topk", "8"], "nothing to do"),
    ],
)
def test_cli_dsa_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str], flags: list[str], message: str) -> None:
    assert main(["dsa", *flags, "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("cppforge: error:") and message in err and err.count("\n") == 1
