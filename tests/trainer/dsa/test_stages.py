"""DSATrainingStageManager: who gets gradients in each stage, the freeze-set contract, the stage order."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from services.trainer.dsa import (
    DSAStageError,
    DSATrainingStageManager,
    UnclassifiedParameterError,
    dsa_handle,
    enable_dsa,
)
from services.trainer.dsa.train import evaluate_dsa

from .conftest import random_ids, tiny_llama


def dsa_llama(*, topk: int = 4) -> nn.Module:
    return enable_dsa(tiny_llama(), topk=topk, index_heads=2, index_dim=16)


def split(model: nn.Module) -> tuple[dict[str, nn.Parameter], dict[str, nn.Parameter]]:
    index_names = dsa_handle(model).indexer_parameter_names
    params = dict(model.named_parameters())
    return (
        {n: p for n, p in params.items() if n not in index_names},
        {n: p for n, p in params.items() if n in index_names},
    )


def test_stage1_trains_only_the_indexer_at_a_flat_lr() -> None:
    model = dsa_llama()
    manager = DSATrainingStageManager(model)
    optimizer = manager.apply_dsa_stage1_freeze()
    base, indexer = split(model)
    assert indexer and all(p.requires_grad for p in indexer.values())
    assert not any(p.requires_grad for p in base.values())
    base_before = {n: p.detach().clone() for n, p in base.items()}
    index_before = {n: p.detach().clone() for n, p in indexer.items()}
    ids = random_ids(2, 16)
    for _ in range(2):
        manager.step(ids)
    assert all(p.grad is None for p in base.values())
    assert all(torch.equal(p, base_before[n]) for n, p in base.items())  # untouched
    assert all(not torch.equal(p, index_before[n]) for n, p in indexer.items())
    assert [g["lr"] for g in optimizer.param_groups] == [1e-3]  # still 1e-3 after steps: no schedule
    assert {id(p) for p in optimizer.param_groups[0]["params"]} == {id(p) for p in indexer.values()}
    assert not dsa_handle(model).runtime.sparse  # the warm-up runs dense attention
    assert dsa_handle(model).warmup_steps == 2


def _grads(model: nn.Module, manager: DSATrainingStageManager, ids: torch.Tensor, lm_scale: float) -> dict:
    model.zero_grad(set_to_none=True)
    manager.loss(ids, lm_scale=lm_scale).total.backward()
    return {n: (None if p.grad is None else p.grad.clone()) for n, p in model.named_parameters()}


def test_stage2_base_learns_from_lm_loss_indexer_from_its_kl_only() -> None:
    model = dsa_llama()
    manager = DSATrainingStageManager(model)
    manager.apply_dsa_stage1_freeze()
    manager.step(random_ids(2, 16, seed=3))
    manager.apply_dsa_stage2_unfreeze()
    assert all(p.requires_grad for p in model.parameters())
    assert dsa_handle(model).runtime.sparse and dsa_handle(model).runtime.detach_indexer_input
    ids = random_ids(2, 16)
    full = _grads(model, manager, ids, lm_scale=1.0)
    kl_only = _grads(model, manager, ids, lm_scale=0.0)
    base, indexer = split(model)
    for name in indexer:  # the LM loss adds nothing to the indexer's gradient
        assert full[name] is not None and full[name].abs().sum() > 0
        assert torch.allclose(full[name], kl_only[name], atol=1e-7, rtol=1e-6), name
    for name in base:  # the base learns from the LM loss, and the indexer's KL never reaches it
        assert full[name] is not None and full[name].abs().sum() > 0, name
        assert kl_only[name] is None or not kl_only[name].any(), name


def test_stage2_optimizer_groups() -> None:
    model = dsa_llama()
    manager = DSATrainingStageManager(model)
    manager.apply_dsa_stage1_freeze()
    manager.step(random_ids(1, 8))
    optimizer = manager.apply_dsa_stage2_unfreeze()
    base, indexer = split(model)
    main_group, index_group = optimizer.param_groups
    assert (main_group["lr"], index_group["lr"]) == (1e-4, 1e-3)
    assert {id(p) for p in main_group["params"]} == {id(p) for p in base.values()}
    assert {id(p) for p in index_group["params"]} == {id(p) for p in indexer.values()}
    result = manager.step(random_ids(1, 8))
    assert result.stage == 2 and result.lm_loss is not None


def test_stage1_lowers_the_kl_in_a_few_dozen_steps() -> None:
    # Held-out KL on fresh random tokens; the bootstrap model's run (test_train.py) shows recall rising too.
    model = dsa_llama()
    held_out = [random_ids(4, 24, seed=100)]
    before = evaluate_dsa(model, held_out)
    manager = DSATrainingStageManager(model)
    manager.apply_dsa_stage1_freeze()
    for step in range(40):
        manager.step(random_ids(4, 24, seed=step))
    after = evaluate_dsa(model, held_out)
    assert after.kl < 0.5 * before.kl, (before, after)
    assert after.dense_lm_loss == before.dense_lm_loss  # the frozen base model did not move


def test_unclassified_parameter_refuses_stage1_until_classified() -> None:
    model = dsa_llama()
    attn = model.model.layers[0].self_attn
    attn.stray_gate = nn.Parameter(torch.zeros(3))  # new sparse-attention code that forgot the contract
    manager = DSATrainingStageManager(model)
    with pytest.raises(UnclassifiedParameterError, match=r"model\.layers\.0\.self_attn\.stray_gate"):
        manager.apply_dsa_stage1_freeze()
    assert manager.stage == 0
    manager.add_to_freeze_set(["model.layers.0.self_attn.stray_gate"])
    manager.apply_dsa_stage1_freeze()
    assert not attn.stray_gate.requires_grad

    other = dsa_llama()
    other.model.layers[1].self_attn.stray_gate = nn.Parameter(torch.zeros(3))
    opted = DSATrainingStageManager(other, opt_out=["model.layers.1.self_attn.stray_gate"])
    opted.apply_dsa_stage1_freeze()
    assert other.model.layers[1].self_attn.stray_gate.requires_grad  # opted out: left as it was
    with pytest.raises(ValueError, match="names no parameter"):
        DSATrainingStageManager(other, opt_out=["no.such.weight"])


def test_stage2_refuses_without_stage1_unless_forced() -> None:
    model = dsa_llama()
    manager = DSATrainingStageManager(model)
    with pytest.raises(DSAStageError, match="before the dense warm-up"):
        manager.apply_dsa_stage2_unfreeze()
    manager.apply_dsa_stage1_freeze()  # switching to stage 1 alone is not a warm-up: a step is
    with pytest.raises(DSAStageError):
        manager.apply_dsa_stage2_unfreeze()
    with pytest.warns(RuntimeWarning, match="force=True"):
        manager.apply_dsa_stage2_unfreeze(force=True)
    assert manager.stage == 2
    with pytest.raises(DSAStageError, match="no DSA stage"):
        DSATrainingStageManager(dsa_llama()).step(random_ids(1, 4))


def test_forwards_outside_the_stage_loss_collect_nothing() -> None:
    """After (or between) steps the model runs plain forwards (scoring, generation): none may append a KL
    term, which would keep that forward's whole graph alive on every call."""
    model = dsa_llama()
    manager = DSATrainingStageManager(model)
    runtime = dsa_handle(model).runtime
    manager.apply_dsa_stage1_freeze()
    assert manager.step(random_ids(2, 16)).kl > 0
    model(random_ids(2, 16))
    assert runtime.kl_terms == [] and runtime.recall_terms == []
    manager.apply_dsa_stage2_unfreeze()
    assert manager.step(random_ids(2, 16)).kl > 0  # the stage's own forward still collects
    for _ in range(3):
        model(random_ids(2, 16))
    assert runtime.kl_terms == []
