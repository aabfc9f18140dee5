"""DSA on a transformers Llama-style model through the library's own hooks, no copied attention code.

`enable_dsa` registers a `LightningIndexer` as a submodule `dsa_indexer` of every layer's `self_attn`
(so `state_dict`/`save_pretrained` carry it), a forward pre-hook on that `self_attn` that runs the indexer
on the layer's attention input and passes its scores down as a keyword argument, and switches the
model to the attention function registered here as `cppforge_dsa` in transformers' `AttentionInterface`
(with `eager_mask` registered for it in `AttentionMaskInterface`, so the model builds the usual 4D float
causal+padding mask). That function adds the top-k selection to the mask and calls transformers'
`eager_attention_forward`: all heads share one selection per query, as in DeepSeek's DSA. With top-k >=
the sequence length the selection is the whole causal mask and the output equals dense attention.

`DSARuntime` holds the switches the stages flip (sparse or dense, detach the indexer's input, collect the
indexer's KL). `disable_dsa` removes the hooks and the indexers and restores the attention implementation.
There is no indexer key cache: the sparse model runs full forwards (training, scoring), not cached decoding.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.hooks import RemovableHandle
from transformers import AttentionInterface
from transformers.masking_utils import AttentionMaskInterface, eager_mask
from transformers.models.llama.modeling_llama import eager_attention_forward, repeat_kv

from .functional import attention_recall, attention_target, indexer_kl, topk_keys
from .indexer import LightningIndexer

ATTN_IMPLEMENTATION = "cppforge_dsa"
INDEXER_ATTR = "dsa_indexer"  # the submodule name under each layer's self_attn
HANDLE_ATTR = "cppforge_dsa"  # where enable_dsa keeps its DSAHandle on the model


@dataclass(frozen=True)
class DSAConfig:
    topk: int
    index_heads: int
    index_dim: int
    rope_dim: int

    def __post_init__(self) -> None:
        if self.topk < 1:
            raise ValueError(f"topk must be >= 1, got {self.topk}")

    def to_dict(self) -> dict[str, int]:
        return {
            "topk": self.topk,
            "index_heads": self.index_heads,
            "index_dim": self.index_dim,
            "rope_dim": self.rope_dim,
        }


@dataclass
class DSARuntime:
    """What the attention function does on its next calls (the stage manager flips these)."""

    topk: int
    sparse: bool = True  # False: dense attention (stage 1's warm-up), the indexer only scored for its KL
    detach_indexer_input: bool = False  # True in stage 2: the indexer's KL never reaches the base model
    collect_kl: bool = False  # True: each layer appends its indexer KL (and top-k recall) below
    kl_terms: list[Tensor] = field(default_factory=list)
    recall_terms: list[Tensor] = field(default_factory=list)

    def take_kl(self) -> Tensor:
        """Mean of the layers' KL terms since the last take (and forget them)."""
        if not self.kl_terms:
            raise RuntimeError("no indexer KL was collected: run a forward with collect_kl on first")
        kl = torch.stack(self.kl_terms).mean()
        self.kl_terms.clear()
        return kl

    def take_recall(self) -> float | None:
        """Mean top-k recall of the dense attention mass over the layers since the last take, or None."""
        recall = float(torch.stack(self.recall_terms).mean()) if self.recall_terms else None
        self.recall_terms.clear()
        return recall

    def clear(self) -> None:
        self.kl_terms.clear()
        self.recall_terms.clear()


@dataclass
class DSAHandle:
    config: DSAConfig
    runtime: DSARuntime
    base_parameter_names: frozenset[str]  # the model's parameters before enable_dsa
    indexer_parameter_names: frozenset[str]
    previous_attn_implementation: str | None
    hooks: list[RemovableHandle]
    warmup_steps: int = 0  # stage-1 optimizer steps taken (saved with the model: stage 2 checks it)


def dsa_handle(model: nn.Module) -> DSAHandle:
    handle = model.__dict__.get(HANDLE_ATTR)
    if not isinstance(handle, DSAHandle):
        raise ValueError("this model has no DSA: call enable_dsa(model, ...) first")
    return handle


def decoder_attention_modules(model: nn.Module) -> list[Any]:
    """Every layer's `self_attn` of a Llama-style causal LM (`model.model.layers[i].self_attn`)."""
    layers = getattr(getattr(model, "model", None), "layers", None)
    if not isinstance(layers, nn.ModuleList) or not all(hasattr(layer, "self_attn") for layer in layers):
        raise ValueError(f"DSA needs a Llama-style model (model.model.layers[i].self_attn), got {type(model).__name__}")
    return [layer.self_attn for layer in layers]


def enable_dsa(
    model: nn.Module, *, topk: int, index_heads: int = 4, index_dim: int = 32, rope_dim: int | None = None
) -> nn.Module:
    """Add a lightning indexer to every attention layer and switch the model to top-k sparse attention.

    rope_dim (default: half of index_dim, as DeepSeek's 64 of 128, capped by the layer's head dim) is
    how many leading indexer dims get rotary position embeddings. Returns the same model, in place.
    The switch is transformers' `config._attn_implementation`: models built from one config object share it.
    """
    if HANDLE_ATTR in model.__dict__:
        raise ValueError("DSA is already enabled on this model")
    attns = decoder_attention_modules(model)
    config: Any = getattr(model, "config", None)
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    if rope_dim is None:
        rope_dim = min(index_dim // 2 // 2 * 2, head_dim)
    if rope_dim > head_dim:
        raise ValueError(f"rope_dim {rope_dim} exceeds the attention head dim {head_dim} whose rotary it reuses")
    dsa_config = DSAConfig(topk=topk, index_heads=index_heads, index_dim=index_dim, rope_dim=rope_dim)
    base_names = frozenset(name for name, _ in model.named_parameters())
    runtime = DSARuntime(topk=topk)
    hooks: list[RemovableHandle] = []
    for attn in attns:
        ref = attn.q_proj.weight
        indexer = LightningIndexer(
            hidden_size=config.hidden_size, index_heads=index_heads, index_dim=index_dim, rope_dim=rope_dim
        ).to(device=ref.device, dtype=ref.dtype)
        attn.add_module(INDEXER_ATTR, indexer)
        hook = partial(_index_before_attention, runtime=runtime, indexer=indexer)
        hooks.append(attn.register_forward_pre_hook(hook, with_kwargs=True))
    indexer_names = frozenset(name for name, _ in model.named_parameters()) - base_names
    previous = config._attn_implementation
    model.set_attn_implementation(ATTN_IMPLEMENTATION)  # type: ignore[operator]  # a PreTrainedModel method
    model.__dict__[HANDLE_ATTR] = DSAHandle(
        config=dsa_config,
        runtime=runtime,
        base_parameter_names=base_names,
        indexer_parameter_names=indexer_names,
        previous_attn_implementation=previous,
        hooks=hooks,
    )
    return model


def disable_dsa(model: nn.Module) -> nn.Module:
    """Undo enable_dsa: remove the hooks and the indexers, restore the previous attention implementation."""
    handle = dsa_handle(model)
    for hook in handle.hooks:
        hook.remove()
    for attn in decoder_attention_modules(model):
        if INDEXER_ATTR in attn._modules:
            delattr(attn, INDEXER_ATTR)
    if handle.previous_attn_implementation is not None:
        model.set_attn_implementation(handle.previous_attn_implementation)  # type: ignore[operator]
    del model.__dict__[HANDLE_ATTR]
    return model


@contextlib.contextmanager
def attention_mode(model: nn.Module, *, sparse: bool) -> Iterator[DSARuntime]:
    """Run the block with sparse (top-k) or dense attention, then restore the previous mode."""
    runtime = dsa_handle(model).runtime
    before = runtime.sparse
    runtime.sparse = sparse
    try:
        yield runtime
    finally:
        runtime.sparse = before


def _index_before_attention(
    module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any], *, runtime: DSARuntime, indexer: LightningIndexer
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """Forward pre-hook on `self_attn`: score the keys from the layer's attention input, pass the scores on."""
    kwargs["dsa_runtime"] = runtime
    if not (runtime.sparse or runtime.collect_kl):
        return args, kwargs  # plain dense forward: the indexer is not needed
    hidden = kwargs["hidden_states"] if "hidden_states" in kwargs else args[0]  # (B, T, D)
    if runtime.detach_indexer_input:
        hidden = hidden.detach()  # DeepSeek's sparse stage: the indexer learns from its KL alone
    kwargs["dsa_index_scores"] = indexer(hidden, kwargs.get("position_embeddings"))  # (B, T, T)
    return args, kwargs


def _allowed_keys(mask: Tensor | None, batch: int, q_len: int, kv_len: int, device: torch.device) -> Tensor:
    """(B, T, S) bool: the keys the model's own mask lets each query see (causal + padding)."""
    if mask is None:
        causal = torch.ones(q_len, kv_len, dtype=torch.bool, device=device).tril(kv_len - q_len)  # (T, S)
        return causal.expand(batch, q_len, kv_len)
    if mask.dtype == torch.bool:
        return mask[:, 0].expand(batch, q_len, kv_len)  # (B, T, S)
    return (mask[:, 0] > torch.finfo(mask.dtype).min / 2).expand(batch, q_len, kv_len)  # (B, T, S)


def _select_keys(mask: Tensor | None, keys: Tensor, dtype: torch.dtype) -> Tensor:
    """(B, 1, T, S) additive float mask: the model's mask where `keys` (B, T, S) holds, finfo.min elsewhere
    (finfo.min rather than -inf, as transformers' eager_mask: a fully masked row stays finite)."""
    minimum = torch.finfo(dtype).min
    if mask is None:
        mask = torch.zeros(keys.shape, dtype=dtype, device=keys.device)[:, None]  # (B, 1, T, S)
    elif mask.dtype == torch.bool:
        mask = torch.zeros(mask.shape, dtype=dtype, device=mask.device).masked_fill(~mask, minimum)
    return mask.masked_fill(~keys[:, None], minimum)


def dsa_attention_forward(
    module: nn.Module,
    query: Tensor,
    key: Tensor,
    value: Tensor,
    attention_mask: Tensor | None,
    scaling: float,
    dropout: float = 0.0,
    **kwargs: Any,
) -> tuple[Tensor, Tensor]:
    """The `cppforge_dsa` attention: eager attention over the indexer's top-k keys (or dense in stage 1).

    query (B, Hq, T, d), key/value (B, Hkv, S, d); the scores (B, T, S) come from the pre-hook.
    """
    runtime: DSARuntime | None = kwargs.pop("dsa_runtime", None)
    scores: Tensor | None = kwargs.pop("dsa_index_scores", None)
    if runtime is None:
        raise RuntimeError(
            f"attention {ATTN_IMPLEMENTATION!r} runs only on a model prepared by enable_dsa (another model that "
            "shares its config object with a DSA model is switched too: give each model its own config)"
        )
    if scores is None:
        return eager_attention_forward(module, query, key, value, attention_mask, scaling=scaling, dropout=dropout)
    batch, _, q_len, _ = query.shape
    kv_len = key.shape[-2]
    if scores.shape[-2:] != (q_len, kv_len):
        raise NotImplementedError(
            f"DSA keeps no indexer key cache ({q_len} queries over {kv_len} cached keys): run it with use_cache=False"
        )
    allowed = _allowed_keys(attention_mask, batch, q_len, kv_len, query.device)  # (B, T, S)
    keys = topk_keys(scores, allowed, runtime.topk) if runtime.sparse else allowed  # (B, T, S)
    mask = _select_keys(attention_mask, keys, query.dtype) if runtime.sparse else attention_mask
    # Dropout off inside: eager returns the probs after its dropout, and the KL's target is the attention itself.
    out, probs = eager_attention_forward(module, query, key, value, mask, scaling=scaling, dropout=0.0)
    if dropout > 0.0:
        out = _dropped_out(module, probs, value, dropout)
    if runtime.collect_kl:
        target = attention_target(probs.detach().float(), keys)  # (B, T, S)
        runtime.kl_terms.append(indexer_kl(target, scores, keys))
        if not runtime.sparse:
            selected = topk_keys(scores, allowed, runtime.topk)
            runtime.recall_terms.append(attention_recall(target, selected).detach())
    return out, probs


def _dropped_out(module: nn.Module, probs: Tensor, value: Tensor, p: float) -> Tensor:
    """Eager attention's output with dropout on the probs (B, Hq, T, S), from the probs before dropout."""
    weights = nn.functional.dropout(probs, p=p, training=module.training)  # (B, Hq, T, S)
    values = repeat_kv(value, probs.shape[1] // value.shape[1])  # (B, Hq, S, d): GQA's kv heads repeated
    return torch.matmul(weights, values).transpose(1, 2).contiguous()  # (B, T, Hq, d)


AttentionInterface.register(ATTN_IMPLEMENTATION, dsa_attention_forward)
AttentionMaskInterface.register(ATTN_IMPLEMENTATION, eager_mask)
