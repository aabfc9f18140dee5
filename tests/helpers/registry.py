"""Registry fixtures without torch: a model dir and a PEFT-shaped adapter dir whose weights are real
safetensors files (numpy), and eval reports shaped like the harness's summary.json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from safetensors.numpy import save_file


def fake_base_model(path: Path, seed: int = 0) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    (path / "config.json").write_text(json.dumps({"model_type": "llama", "hidden_size": 8, "seed": seed}))
    rng = np.random.default_rng(seed)
    save_file({"embed.weight": rng.standard_normal((4, 8)).astype(np.float32)}, str(path / "model.safetensors"))
    return path


def fake_adapter(path: Path, seed: int = 0) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    config = {"peft_type": "LORA", "r": 2, "lora_alpha": 4, "target_modules": ["q_proj"]}
    (path / "adapter_config.json").write_text(json.dumps(config))
    rng = np.random.default_rng(1000 + seed)
    tensors = {"base_model.model.q_proj.lora_A.weight": rng.standard_normal((2, 8)).astype(np.float32)}
    save_file(tensors, str(path / "adapter_model.safetensors"))
    return path


def eval_report(
    pass_at_1: float,
    *,
    pass_at_5: float | None = None,
    n: int = 10,
    tasks: int = 151,
    dataset_sha256: str = "ab" * 32,
    temperature: float = 0.8,
    verifier_url: str = "",
    infra_failures: int = 0,
) -> dict[str, Any]:
    """Shaped like the harness's EvalReport.to_dict() (its summary.json): pass@k at the top, then the rest."""
    return {
        "pass@1": pass_at_1,
        "pass@5": pass_at_5 if pass_at_5 is not None else min(1.0, pass_at_1 * 2),
        "n": n,
        "tasks": tasks,
        "ks": [1, 5],
        "infra_failures": infra_failures,
        "verifier_url": verifier_url,
        "compile_rate": 0.5,
        "wall_s": 12.5,
        "dataset": "/work/data/humaneval_cpp.jsonl",
        "dataset_sha256": dataset_sha256,
        "dataset_format": "humaneval-x",
        "sampling": {"n": n, "temperature": temperature, "top_p": 0.95, "max_tokens": 512, "seed": 0, "limit": None},
        "interrupted": False,
    }
