"""services/trainer/losses.py against TRL's own GRPOTrainer code on a tiny random Llama (no downloads).

A real `GRPOTrainer` is built for each setting, and TRL's `_compute_loss` (its fused LM head for the
log-probs, its ratio, clip, KL and aggregation) gives the reference number; `_generate_and_score_completions`
gives the reference advantages. Ours must agree to 1e-5 in value and in the gradient on the weights.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

from services.trainer.losses import group_advantages, policy_loss, selective_log_probs

trl = pytest.importorskip("trl", reason="TRL (the dev extra) is the reference these tests compare against")

VOCAB, B, P, T = 64, 6, 3, 7
# Completion lengths 7, 5, 3, 1, 6 and an all-masked row (FGO can mask a whole completion).
MASK = torch.tensor([[1] * n + [0] * (T - n) for n in (7, 5, 3, 1, 6, 0)])
ADVANTAGES = torch.tensor([1.2, -0.7, 0.4, -1.5, 0.9, -0.3])
# GSPO's clip range is tiny (3e-4 / 4e-4): per-sequence mean log-ratios on both sides of it.
SEQ_SHIFTS = torch.tensor([1e-4, -1e-3, 2e-3, -2e-4, 5e-2, 0.0])
TOL = 1e-5


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    vocab = {"<pad>": 0, "<s>": 1, "</s>": 2, "<unk>": 3, **{f"t{i}": i for i in range(4, VOCAB)}}
    core = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core, bos_token="<s>", eos_token="</s>", pad_token="<pad>", unk_token="<unk>"
    )
    config = LlamaConfig(
        vocab_size=VOCAB, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=4, max_position_embeddings=64, pad_token_id=0, bos_token_id=1, eos_token_id=2,
    )  # fmt: skip
    torch.manual_seed(0)
    out = tmp_path_factory.mktemp("tiny-llama")
    LlamaForCausalLM(config).save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def make_trainer(model_dir: Path, rewards: list[float] | None = None, **config: Any) -> Any:
    """A real GRPOTrainer on the tiny model (a path, so TRL can load the reference model from it too)."""
    from datasets import Dataset
    from transformers import AutoTokenizer

    def reward(completions: list[Any], **_: Any) -> list[float]:
        return list(rewards or [0.0] * len(completions))[: len(completions)]

    # float32 throughout: TRL's configs default to bf16 autocast, which would blur a 1e-5 comparison
    defaults = {"per_device_train_batch_size": B, "num_generations": 3, "max_completion_length": T}
    defaults |= {"temperature": 0.7, "bf16": False, "report_to": [], "use_cpu": True, "logging_steps": 1}
    args = trl.GRPOConfig(output_dir=str(model_dir / "out"), **{**defaults, **config})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TRL's advice on sequence-level dapo, deprecations
        trainer = trl.GRPOTrainer(
            model=str(model_dir),
            reward_funcs=reward,
            args=args,
            train_dataset=Dataset.from_list([{"prompt": "t5 t6 t7"}] * B),
            processing_class=AutoTokenizer.from_pretrained(model_dir),
        )
    trainer.model.train()
    # What Trainer's loop sets for one batch and no gradient accumulation (read by _compute_loss).
    trainer.current_gradient_accumulation_steps = 1
    return trainer


def batch(level: str) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(7)
    return {
        "prompt_ids": torch.randint(4, VOCAB, (B, P), generator=g),
        "prompt_mask": torch.ones(B, P, dtype=torch.long),
        "completion_ids": torch.randint(4, VOCAB, (B, T), generator=g),
        "completion_mask": MASK.clone(),
        "advantages": ADVANTAGES.clone(),
        "num_items_in_batch": MASK.sum(),
    }


def trl_logps(trainer: Any, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
    """(B, T) log-probs of the completion tokens by TRL's own path (fused LM head, temperature)."""
    ids = torch.cat([inputs["prompt_ids"], inputs["completion_ids"]], dim=1)
    attention = torch.cat([inputs["prompt_mask"], inputs["completion_mask"]], dim=1)
    logps, _, _ = trainer._get_per_token_logps_and_entropies(trainer.model, ids, attention, T)
    return logps  # type: ignore[no-any-return]


def off_policy(logp: torch.Tensor, level: str) -> tuple[torch.Tensor, torch.Tensor]:
    """old and ref log-probs that differ from logp: per token by N(0, 0.3) for token level; for sequence
    level the masked mean log-ratio of row i is exactly SEQ_SHIFTS[i] (noise with zero row mean on top)."""
    g = torch.Generator().manual_seed(11)
    noise = 0.3 * torch.randn(B, T, generator=g) * MASK
    ref = logp + 0.3 * torch.randn(B, T, generator=g)
    if level == "token":
        return logp + noise, ref
    centred = noise - (noise.sum(-1, keepdim=True) / MASK.sum(-1, keepdim=True).clamp(min=1)) * MASK
    return logp - SEQ_SHIFTS.unsqueeze(-1) * MASK - centred, ref


def grads(model: Any) -> Iterator[torch.Tensor]:
    return (p.grad.detach().clone() for p in model.parameters() if p.grad is not None)


CASES = [  # (level, loss_type, clip_low, clip_high)
    ("token", "grpo", 0.2, 0.28),
    ("token", "dapo", 0.2, 0.28),
    ("sequence", "grpo", 3e-4, 4e-4),  # GSPO
    ("sequence", "luspo", 3e-4, 4e-4),  # LUSPO
    ("sequence", "dapo", 3e-4, 4e-4),
]


# beta 0 (no reference); beta 0.1 with plain k3 (ours by default); with TRL's default k3 x ratio
KL_CASES = [(0.0, False), (0.1, False), (0.1, True)]


@pytest.mark.parametrize(("beta", "bias_correction"), KL_CASES, ids=["beta0", "beta0.1", "beta0.1-k3xratio"])
@pytest.mark.parametrize(("level", "loss_type", "clip_low", "clip_high"), CASES)
def test_policy_loss_equals_trl(
    model_dir: Path, level: str, loss_type: str, clip_low: float, clip_high: float, beta: float, bias_correction: bool
) -> None:
    trainer = make_trainer(
        model_dir, loss_type=loss_type, importance_sampling_level=level, beta=beta, epsilon=clip_low,
        epsilon_high=clip_high, use_bias_correction_kl=bias_correction,
    )  # fmt: skip
    inputs = batch(level)
    with torch.no_grad():
        logp0 = trl_logps(trainer, inputs)
    old, ref = off_policy(logp0, level)
    inputs["old_per_token_logps"] = old
    if beta:
        inputs["ref_per_token_logps"] = ref

    trl_loss = trainer._compute_loss(trainer.model, inputs)
    trl_loss.backward()
    trl_grads = list(grads(trainer.model))
    metrics = {k: v[-1] for k, v in trainer._metrics["train"].items()}
    trainer.model.zero_grad()

    ours = policy_loss(
        trl_logps(trainer, inputs), old, ADVANTAGES, MASK, level=level, loss_type=loss_type,  # type: ignore[arg-type]
        clip_low=clip_low, clip_high=clip_high, ref_logp=ref if beta else None, beta=beta,
        kl_bias_correction=bias_correction,
    )  # fmt: skip
    ours.loss.backward()
    our_grads = list(grads(trainer.model))

    loss_diff = abs(ours.loss.item() - trl_loss.item())
    grad_diff = max((a - b).abs().max().item() for a, b in zip(our_grads, trl_grads, strict=True))
    print(f"{level}/{loss_type} {beta=} {bias_correction=}: |loss diff| {loss_diff:.1e}, |grad diff| {grad_diff:.1e}")
    assert loss_diff < TOL
    assert len(our_grads) == len(trl_grads) > 0 and grad_diff < TOL
    # The clip bit in this batch (on some units, not all), and we count the same clipped units as TRL.
    region = metrics["clip_ratio/region_mean"]
    assert 0 < region < 1
    # TRL's sequence-level share counts the all-masked row as an unclipped sequence; ours leaves it out.
    scale = 1.0 if level == "token" else (MASK.sum(-1) > 0).sum().item() / B
    assert ours.clip_frac * scale == pytest.approx(region, abs=1e-6)
    if beta and not bias_correction:  # TRL logs the ratio-weighted KL under bias correction
        assert ours.kl == pytest.approx(metrics["kl"], abs=1e-6)


def test_group_advantages_equal_trl(model_dir: Path) -> None:
    rewards = [1.0, 0.0, 0.0, 0.3, 0.3, 0.3, 2.0, 0.5, -1.0, 0.7, 0.7, 0.2]  # groups of 3, one with zero variance
    trainer = make_trainer(model_dir, rewards=rewards, per_device_train_batch_size=len(rewards))
    out = trainer._generate_and_score_completions([{"prompt": "t5 t6 t7"} for _ in rewards])
    ours = group_advantages(torch.tensor(rewards), 3)
    assert torch.allclose(ours, out["advantages"], atol=TOL), (ours, out["advantages"])
    assert torch.equal(ours[3:6], torch.zeros(3))


def test_selective_log_probs_equal_trl_fused_head(model_dir: Path) -> None:
    """Logits at positions P-1 .. P+T-2 predict the completion; / temperature; TRL's fused head agrees."""
    trainer = make_trainer(model_dir)
    inputs = batch("token")
    ids = torch.cat([inputs["prompt_ids"], inputs["completion_ids"]], dim=1)
    attention = torch.cat([inputs["prompt_mask"], inputs["completion_mask"]], dim=1)
    with torch.no_grad():
        reference = trl_logps(trainer, inputs)
        logits = trainer.model(input_ids=ids, attention_mask=attention).logits  # (B, P + T, V)
    ours = selective_log_probs(logits[:, P - 1 : -1], inputs["completion_ids"], temperature=0.7)
    counted = MASK.bool()
    assert (ours[counted] - reference[counted]).abs().max().item() < TOL
    untempered = selective_log_probs(logits[:, P - 1 : -1], inputs["completion_ids"])
    assert (untempered[counted] - reference[counted]).abs().max().item() > 1e-3  # the temperature matters
