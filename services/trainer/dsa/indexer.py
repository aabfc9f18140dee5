"""The lightning indexer of one attention layer (DeepSeek-V3.2-Exp; arXiv:2512.02556, section 2.1).

From the layer's attention input h (B, T, D): queries `q_proj(h)` split into H_I heads of d_I, one key
`k_norm(k_proj(h))` of d_I per token, per-query head weights `w_proj(h)`, then eq. 1 of
`functional.index_scores`. As in DeepSeek's reference indexer, the first `rope_dim` dims of q and k get
rotary position embeddings (there half of d_I) so that the indexer can learn locality, w is scaled by
H_I^-1/2 and q.k by d_I^-1/2. The rotary frequencies are a strided subset of the host layer's own
(cos, sin), so they follow the model's rope settings.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from transformers.models.llama.modeling_llama import apply_rotary_pos_emb

from .functional import index_scores


class LightningIndexer(nn.Module):
    """Scores (B, T, S) of every key for every query of one layer; masking and top-k are the caller's."""

    def __init__(self, *, hidden_size: int, index_heads: int, index_dim: int, rope_dim: int = 0) -> None:
        super().__init__()
        if index_heads < 1 or index_dim < 1:
            raise ValueError(f"index_heads and index_dim must be >= 1, got {index_heads}, {index_dim}")
        if rope_dim < 0 or rope_dim % 2 or rope_dim > index_dim:
            raise ValueError(f"rope_dim must be even and in [0, index_dim={index_dim}], got {rope_dim}")
        self.index_heads = index_heads
        self.index_dim = index_dim
        self.rope_dim = rope_dim
        self.q_proj = nn.Linear(hidden_size, index_heads * index_dim, bias=False)
        self.k_proj = nn.Linear(hidden_size, index_dim, bias=False)
        self.k_norm = nn.LayerNorm(index_dim)  # DeepSeek's indexer normalises its key with a LayerNorm
        self.w_proj = nn.Linear(hidden_size, index_heads, bias=False)

    def forward(self, hidden: Tensor, position_embeddings: tuple[Tensor, Tensor] | None = None) -> Tensor:
        batch, length, _ = hidden.shape
        q = self.q_proj(hidden).view(batch, length, self.index_heads, self.index_dim)  # (B, T, H_I, d_I)
        k = self.k_norm(self.k_proj(hidden))  # (B, T, d_I)
        if self.rope_dim:
            if position_embeddings is None:
                raise ValueError("this indexer rotates its first rope_dim dims and needs the layer's (cos, sin)")
            q, k = self._rotate(q, k, position_embeddings)
        w = self.w_proj(hidden) * self.index_heads**-0.5  # (B, T, H_I)
        q = q * self.index_dim**-0.5
        return index_scores(q.float(), k.float(), w.float())  # (B, T, T), float32 for the softmax and top-k

    def _rotate(self, q: Tensor, k: Tensor, position_embeddings: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:
        cos, sin = _subset_frequencies(*position_embeddings, self.rope_dim)  # (B, T, rope_dim) each
        r = self.rope_dim
        q_rot, k_rot = apply_rotary_pos_emb(q[..., :r], k[..., :r].unsqueeze(2), cos, sin, unsqueeze_dim=2)
        q = torch.cat([q_rot, q[..., r:]], dim=-1)  # (B, T, H_I, d_I)
        k = torch.cat([k_rot.squeeze(2), k[..., r:]], dim=-1)  # (B, T, d_I)
        return q, k


def _subset_frequencies(cos: Tensor, sin: Tensor, rope_dim: int) -> tuple[Tensor, Tensor]:
    """The host's (B, T, head_dim) rotate-half (cos, sin), laid out as [f_0..f_{h/2-1}, f_0..f_{h/2-1}],
    cut to `rope_dim` dims in the same layout with every (head_dim / rope_dim)-th frequency: a spread from
    fast to slow rather than only the fastest ones."""
    half = cos.shape[-1] // 2
    want = rope_dim // 2
    if want > half:
        raise ValueError(f"rope_dim {rope_dim} exceeds the layer's rotary head dim {2 * half}")
    idx = torch.arange(want, device=cos.device) * (half // want)  # (rope_dim/2,)
    idx = torch.cat([idx, idx + half])  # (rope_dim,) both halves of the rotate-half layout
    return cos.index_select(-1, idx), sin.index_select(-1, idx)
