"""enable_dsa on a tiny random Llama: equal to dense at top-k >= T, sparse below it, saved and removed cleanly."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM

from services.trainer.dsa import ATTN_IMPLEMENTATION, attention_mode, disable_dsa, dsa_handle, enable_dsa
from services.trainer.dsa.persist import load_dsa_model, save_dsa_model

from .conftest import random_ids, tiny_llama

T = 16


def test_topk_at_least_the_length_equals_dense() -> None:
    model = tiny_llama()
    ids = random_ids(2, T)
    with torch.no_grad():
        dense = model(ids).logits  # the model's own default attention (sdpa)
        enable_dsa(model, topk=T, index_heads=2, index_dim=16)
        assert model.config._attn_implementation == ATTN_IMPLEMENTATION
        sparse = model(ids).logits
        dsa_handle(model).runtime.topk = 4
        narrow = model(ids).logits
    assert torch.allclose(sparse, dense, atol=1e-5, rtol=0)
    assert not torch.allclose(narrow, dense, atol=1e-3)  # the test can fail: top-4 of 16 changes the output


def test_topk_equals_dense_with_padding() -> None:
    model = tiny_llama()
    ids = random_ids(2, T)
    mask = torch.ones(2, T, dtype=torch.long)
    mask[1, :5] = 0  # left padding on the second row
    with torch.no_grad():
        dense = model(ids, attention_mask=mask).logits
        enable_dsa(model, topk=T, index_heads=2, index_dim=16)
        sparse = model(ids, attention_mask=mask).logits
    real = mask.bool()
    assert torch.allclose(sparse[real], dense[real], atol=1e-5, rtol=0)


def test_sparse_attention_uses_only_the_shared_topk_keys() -> None:
    model = tiny_llama()
    enable_dsa(model, topk=3, index_heads=2, index_dim=16)
    seen: list[torch.Tensor] = []
    hook = model.model.layers[1].self_attn.register_forward_hook(lambda mod, args, out: seen.append(out[1]))
    try:
        with torch.no_grad():
            model(random_ids(1, T))
    finally:
        hook.remove()
    probs = seen[0]  # (B, Hq, T, S) attention probabilities
    support = probs > 0
    assert torch.equal(support, support[:, :1].expand_as(support))  # every head attends to the same keys
    per_query = support[0, 0].sum(dim=-1)  # (T,)
    assert torch.equal(per_query, torch.clamp(torch.arange(1, T + 1), max=3))  # min(t + 1, k) keys each
    assert not support[0, 0].triu(1).any()  # never a future key


def test_attention_mode_switches_dense_and_back() -> None:
    model = tiny_llama()
    ids = random_ids(1, T)
    with torch.no_grad():
        dense = model(ids).logits
        enable_dsa(model, topk=2, index_heads=2, index_dim=16)
        with attention_mode(model, sparse=False):
            assert torch.allclose(model(ids).logits, dense, atol=1e-5, rtol=0)
        assert dsa_handle(model).runtime.sparse
        assert not torch.allclose(model(ids).logits, dense, atol=1e-3)


def test_disable_removes_hooks_indexers_and_restores_attention() -> None:
    model = tiny_llama()
    ids = random_ids(1, T)
    with torch.no_grad():
        before = model(ids).logits
    names_before = [name for name, _ in model.named_parameters()]
    enable_dsa(model, topk=2, index_heads=2, index_dim=16)
    attn = model.model.layers[0].self_attn
    assert len(attn._forward_pre_hooks) == 1 and hasattr(attn, "dsa_indexer")
    assert any(".dsa_indexer." in key for key in model.state_dict())
    disable_dsa(model)
    assert all(not layer.self_attn._forward_pre_hooks for layer in model.model.layers)
    assert [name for name, _ in model.named_parameters()] == names_before
    assert model.config._attn_implementation == "sdpa"
    with torch.no_grad():
        assert torch.equal(model(ids).logits, before)
    with pytest.raises(ValueError, match="no DSA"):
        disable_dsa(model)


def test_refusals() -> None:
    model = tiny_llama()
    enable_dsa(model, topk=4, index_heads=2, index_dim=16)
    with pytest.raises(ValueError, match="already enabled"):
        enable_dsa(model, topk=4)
    with pytest.raises(NotImplementedError, match="use_cache=False"), torch.no_grad():
        model.generate(random_ids(1, 4), max_new_tokens=2, do_sample=False)
    with pytest.raises(ValueError, match="Llama-style"):
        enable_dsa(torch.nn.Linear(2, 2), topk=4)  # type: ignore[arg-type]


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    model = tiny_llama()
    model.config.tie_word_embeddings = True
    model.tie_weights()
    enable_dsa(model, topk=5, index_heads=2, index_dim=16)
    dsa_handle(model).warmup_steps = 7
    ids = random_ids(1, T)
    with torch.no_grad():
        want = model(ids).logits
    save_dsa_model(model, tmp_path / "m")
    loaded = load_dsa_model(tmp_path / "m")
    assert dsa_handle(loaded).config == dsa_handle(model).config and dsa_handle(loaded).warmup_steps == 7
    with torch.no_grad():
        assert torch.equal(loaded(ids).logits, want)
    plain = AutoModelForCausalLM.from_pretrained(str(tmp_path / "m"))  # a plain load is the dense base
    assert not any("dsa_indexer" in name for name, _ in plain.named_parameters())
    with pytest.raises(ValueError, match="not a DSA model"):
        load_dsa_model(tmp_path)


def test_the_kl_target_is_the_attention_before_dropout() -> None:
    """eager attention returns its probs after dropout; the indexer must fit the attention, not a noisy draw."""
    model = tiny_llama()
    for layer in model.model.layers:
        layer.self_attn.attention_dropout = 0.5
    enable_dsa(model, topk=4, index_heads=2, index_dim=16)
    runtime = dsa_handle(model).runtime
    runtime.sparse, runtime.collect_kl = False, True
    ids = random_ids(2, T)

    def first_layer_kl_and_logits(train: bool) -> tuple[float, torch.Tensor]:
        model.train(train)
        runtime.clear()
        torch.manual_seed(0)
        with torch.no_grad():
            logits = model(ids).logits
        return float(runtime.kl_terms[0]), logits  # layer 0: its input does not depend on dropout

    kl_eval, logits_eval = first_layer_kl_and_logits(False)
    kl_train, logits_train = first_layer_kl_and_logits(True)
    assert kl_train == pytest.approx(kl_eval, rel=1e-5)
    assert not torch.allclose(logits_train, logits_eval, atol=1e-3)  # dropout still acts on the output
