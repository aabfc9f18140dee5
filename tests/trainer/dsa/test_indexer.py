"""LightningIndexer: shapes, and rotary dims that make its scores depend on relative position only."""

from __future__ import annotations

import pytest
import torch

from services.trainer.dsa import LightningIndexer

from .conftest import tiny_llama


def _scores_of_a_constant_sequence(rope_dim: int, length: int = 6) -> torch.Tensor:
    model = tiny_llama()
    torch.manual_seed(0)
    indexer = LightningIndexer(hidden_size=32, index_heads=2, index_dim=8, rope_dim=rope_dim)
    hidden = torch.randn(1, 1, 32).expand(1, length, 32)  # the same token at every position
    cos_sin = model.model.rotary_emb(hidden, position_ids=torch.arange(length)[None])  # the host layer's rotary
    with torch.no_grad():
        return indexer(hidden, cos_sin)[0]  # (T, T)


def test_rotary_scores_depend_on_the_offset_only() -> None:
    scores = _scores_of_a_constant_sequence(rope_dim=8)
    for offset in range(4):  # along each diagonal t - s = offset the score is one value
        diagonal = torch.diagonal(scores, -offset)
        assert torch.allclose(diagonal, diagonal[0].expand_as(diagonal), atol=1e-5), offset
    assert not torch.allclose(torch.diagonal(scores, 0)[0], torch.diagonal(scores, -3)[0], atol=1e-4)
    flat = _scores_of_a_constant_sequence(rope_dim=0)  # without rotary dims: no notion of position
    assert torch.allclose(flat, flat[0, 0].expand_as(flat), atol=1e-6)


def test_indexer_shapes_and_bad_sizes() -> None:
    indexer = LightningIndexer(hidden_size=32, index_heads=3, index_dim=8, rope_dim=0)
    assert indexer(torch.randn(2, 5, 32)).shape == (2, 5, 5)
    assert indexer.q_proj.out_features == 24 and indexer.k_proj.out_features == 8 and indexer.w_proj.out_features == 3
    with pytest.raises(ValueError, match="rope_dim"):
        LightningIndexer(hidden_size=32, index_heads=2, index_dim=8, rope_dim=3)
    with pytest.raises(ValueError, match="needs the layer"):
        LightningIndexer(hidden_size=32, index_heads=2, index_dim=8, rope_dim=4)(torch.randn(1, 3, 32))
