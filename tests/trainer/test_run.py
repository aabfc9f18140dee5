"""A real short run in-process: metrics, summary, curve, a loadable trained adapter, LoRA-only training,
a reference that is the base model; and SFT on prompt/completion rows."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file

from services.lm.model import load_model
from services.lm.prompts import encode_prompt
from services.trainer.loop import seed_everything
from services.trainer.lora import load_policy
from services.trainer.run import RunHooks, run_training

from .runs import metrics_rows, tiny_config

ROW_KEYS = ("step", "reward_mean", "reward_std", "compile_rate", "pass_rate", "kl", "clip_frac", "grad_norm", "step_s",
            "cccs_prefix", "fgo_masked_frac", "dropped", "discarded")  # fmt: skip
SUMMARY_KEYS = ("method", "recipe", "steps", "compile_rate_before", "compile_rate_after", "pass_rate_before",
                "pass_rate_after", "adapter_dir", "reward_curve_png")  # fmt: skip


@pytest.fixture(scope="module")
def run(base_model: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any], Any]:
    """One 2-step GSPO run: (out dir, the summary run_training returned, its config)."""
    out = tmp_path_factory.mktemp("run")
    cfg = tiny_config(base_model, steps=2)
    summary = run_training(cfg, out, recipe="production", hooks=RunHooks(progress=None))
    return out, summary, cfg


def _logits(model: Any, tokenizer: Any, text: str) -> torch.Tensor:
    ids = torch.tensor([encode_prompt(tokenizer, text)])
    with torch.no_grad():
        return model(input_ids=ids).logits[0]  # (L, V)


PROBE = "#include <vector>\nint sum_all(const std::vector<int>& xs) {"


def test_metrics_has_one_row_per_step(run: tuple[Path, dict[str, Any], Any]) -> None:
    out, _, cfg = run
    rows = metrics_rows(out)
    assert [r["step"] for r in rows] == [1, 2]
    for row in rows:
        missing = [k for k in ROW_KEYS if k not in row]
        assert not missing, missing
        assert all(math.isfinite(row[k]) for k in ROW_KEYS), row
        assert 0 <= row["compile_rate"] <= 1 and 0 <= row["pass_rate"] <= 1
        assert row["dropped"] == 0  # the in-process verifier judged every sample
        assert row["samples"] == cfg.group_size * len(row["task_ids"])  # a group per task drawn, refills included
        assert 1 <= len(row["task_ids"]) <= 1 + cfg.dapo_max_refills
        assert row["cccs_prefix"] == 0.0  # CCCS off in this run
    # Seed 0's first group has reward variance: the step updated the policy with a real gradient.
    assert rows[0]["updated"] and rows[0]["reward_std"] > 0 and rows[0]["grad_norm"] > 0
    assert rows[0]["kl"] == 0.0  # the first step's policy is the reference (LoRA B starts at zero)
    assert rows[0]["task_ids"] != rows[1]["task_ids"]  # the cursor moves on


def test_summary_and_curve(run: tuple[Path, dict[str, Any], Any]) -> None:
    out, returned, _ = run
    summary = json.loads((out / "summary.json").read_text())
    assert summary == json.loads(json.dumps(returned))
    missing = [k for k in SUMMARY_KEYS if k not in summary]
    assert not missing, missing
    assert summary["method"] == "gspo" and summary["recipe"] == "production" and summary["steps"] == 2
    for key in ("compile_rate_before", "compile_rate_after", "pass_rate_before", "pass_rate_after"):
        assert summary[key] is not None and 0 <= summary[key] <= 1, key
    assert summary["heldout_before"]["tasks"] == 2 and summary["heldout_after"]["tasks"] == 2
    assert not summary["stopped_early"] and summary["world_size"] == 1
    assert Path(summary["adapter_dir"]) == out / "adapter"
    png = Path(summary["reward_curve_png"])
    assert png == out / "reward_curve.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 1000
    assert list((out / "tensorboard").glob("events.out.tfevents.*"))
    saved = json.loads((out / "config.json").read_text())
    assert saved["recipe"] == "production" and saved["steps"] == 2 and saved["group_size"] == 4


def test_adapter_is_trained_and_loads(run: tuple[Path, dict[str, Any], Any], base_model: Path) -> None:
    out, _, cfg = run
    weights = load_file(str(out / "adapter" / "adapter_model.safetensors"))
    b_mats = {k: v for k, v in weights.items() if "lora_B" in k}
    a_mats = {k: v for k, v in weights.items() if "lora_A" in k}
    assert b_mats and len(a_mats) == len(b_mats)
    assert all(float(v.abs().sum()) > 0 for v in b_mats.values()), "a LoRA B matrix is still zero"
    # A changed from its seeded init too: a fresh policy under the run's seed has the init weights.
    seed_everything(cfg.seed)
    fresh = load_policy(str(base_model), cfg)
    init = {n: p.detach() for n, p in fresh.model.named_parameters() if "lora_A" in n}
    assert len(init) == len(a_mats)
    for name, value in init.items():
        assert not torch.equal(a_mats[name.replace(".default.", ".")], value), name

    base = load_model(base_model, device="cpu")
    tuned = load_model(base_model, device="cpu", adapter=out / "adapter")
    assert tuned.adapters == ["default"] and tuned.active_adapter == "default"
    assert not torch.allclose(_logits(base.model, base.tokenizer, PROBE), _logits(tuned.model, tuned.tokenizer, PROBE))


def test_only_lora_trains_and_the_reference_is_the_base(
    run: tuple[Path, dict[str, Any], Any], base_model: Path
) -> None:
    out, _, cfg = run
    policy = load_policy(str(base_model), cfg, adapter_dir=out / "adapter")
    trainable = [n for n, p in policy.model.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n for n in trainable), trainable
    assert len(trainable) == len(policy.trainable_parameters())
    targets = {n.split(".lora_")[0].rsplit(".", 1)[-1] for n in trainable}
    assert targets == {"gate_proj", "up_proj", "down_proj"}  # the production recipe: LoRA on the MLP only

    base = load_model(base_model, device="cpu")
    expected = _logits(base.model, base.tokenizer, PROBE)
    trained = _logits(policy.model, policy.tokenizer, PROBE)
    with policy.reference_model() as ref:
        reference = _logits(ref, policy.tokenizer, PROBE)
    assert torch.allclose(reference, expected, atol=1e-5, rtol=0)
    assert not torch.allclose(trained, expected, atol=1e-4, rtol=0)
    # Leaving the reference context turns the adapter back on.
    assert torch.equal(_logits(policy.model, policy.tokenizer, PROBE), trained)


def test_sft_loss_goes_down(base_model: Path, tmp_path: Path) -> None:
    from services.tasks import generate_tasks

    data = tmp_path / "sft.jsonl"
    tasks = generate_tasks(8, 11)
    data.write_text("".join(json.dumps({"prompt": t.prompt, "completion": t.canonical_solution}) + "\n" for t in tasks))
    cfg = tiny_config(base_model, recipe="sft", sft_data=str(data), sft_batch_size=8, steps=10, heldout_tasks=0)
    summary = run_training(cfg, tmp_path / "out", recipe="sft", hooks=RunHooks(progress=None))
    rows = metrics_rows(tmp_path / "out")
    assert [r["step"] for r in rows] == list(range(1, 11))
    assert all(r["tokens"] > 8 and math.isfinite(r["loss"]) for r in rows)
    losses = [r["loss"] for r in rows]
    assert losses[-1] < 0.9 * losses[0], losses
    assert summary["method"] == "sft" and summary["steps"] == 10 and summary["compile_rate_before"] is None
    assert (tmp_path / "out" / "adapter" / "adapter_model.safetensors").is_file()
