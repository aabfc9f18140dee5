"""DSA math on hand-computed tensors: eq. 1 scores, top-k selection, the head-summed target, the KL."""

from __future__ import annotations

import math

import pytest
import torch

from services.trainer.dsa.functional import attention_recall, attention_target, index_scores, indexer_kl, topk_keys


def test_index_scores_by_hand() -> None:
    q = torch.tensor([[[[1.0, 0.0], [0.0, 1.0]], [[1.0, 1.0], [-1.0, 0.0]]]])  # (1, T=2, H=2, d=2)
    k = torch.tensor([[[2.0, -1.0], [0.0, 3.0]]])  # (1, S=2, d=2)
    w = torch.tensor([[[1.0, 2.0], [0.5, -1.0]]])  # (1, T=2, H=2)
    # t=0: s=0: 1*relu(2) + 2*relu(-1) = 2;   s=1: 1*relu(0) + 2*relu(3) = 6
    # t=1: s=0: .5*relu(1) - 1*relu(-2) = .5; s=1: .5*relu(3) - 1*relu(0) = 1.5
    assert torch.equal(index_scores(q, k, w), torch.tensor([[[2.0, 6.0], [0.5, 1.5]]]))


def test_index_scores_rejects_bad_shapes() -> None:
    with pytest.raises(ValueError, match="want q"):
        index_scores(torch.zeros(2, 3, 4), torch.zeros(2, 3, 4), torch.zeros(2, 3, 1))


def test_topk_keys_stays_causal_and_keeps_all_when_fewer() -> None:
    scores = torch.tensor([[[5.0, 9.0, 9.0], [1.0, 3.0, 2.0], [4.0, 1.0, 7.0]]])  # (1, 3, 3)
    causal = torch.ones(3, 3, dtype=torch.bool).tril()[None]
    got = topk_keys(scores, causal, k=2)
    # row 0 sees only key 0 (the 9s are in its future); row 1 has 2 keys: both; row 2: the best two, 0 and 2
    want = torch.tensor([[[1, 0, 0], [1, 1, 0], [1, 0, 1]]], dtype=torch.bool)
    assert torch.equal(got, want)
    assert torch.equal(topk_keys(scores, causal, k=99), causal)
    with pytest.raises(ValueError):
        topk_keys(scores, causal, k=0)


def test_attention_target_sums_heads_and_normalises_over_the_keys() -> None:
    probs = torch.tensor([[[[1.0, 0.0], [0.25, 0.75]], [[1.0, 0.0], [0.75, 0.25]]]])  # (1, Hq=2, 2, 2)
    causal = torch.ones(2, 2, dtype=torch.bool).tril()[None]
    assert torch.equal(attention_target(probs, causal), torch.tensor([[[1.0, 0.0], [0.5, 0.5]]]))
    only_key_1 = torch.tensor([[[True, False], [False, True]]])  # row 1 keeps key 1: 0.75 + 0.25 -> 1
    assert torch.equal(attention_target(probs, only_key_1), torch.tensor([[[1.0, 0.0], [0.0, 1.0]]]))


def test_kl_takes_the_papers_direction() -> None:
    target = torch.tensor([[[0.75, 0.25, 0.0]]])
    scores = torch.tensor([[[0.0, 0.0, 50.0]]])  # the third key is masked out: its score must not count
    keys = torch.tensor([[[True, True, False]]])
    # KL(p || q), q = softmax(0, 0) = (.5, .5): .75 ln 1.5 + .25 ln .5 = 0.130812 (KL(q || p) would be 0.143841)
    want = 0.75 * math.log(1.5) + 0.25 * math.log(0.5)
    assert float(indexer_kl(target, scores, keys)) == pytest.approx(want, abs=1e-6)
    assert abs(want - (0.5 * math.log(0.5 / 0.75) + 0.5 * math.log(2.0))) > 0.01


def test_kl_is_zero_when_the_indexer_matches() -> None:
    keys = torch.tensor([[[True, True]]])
    assert float(indexer_kl(torch.tensor([[[0.5, 0.5]]]), torch.zeros(1, 1, 2), keys)) == 0.0
    scores = torch.tensor([[[0.3, -1.2, 2.0, 0.7]]])
    target = torch.softmax(scores, dim=-1)
    assert abs(float(indexer_kl(target, scores, torch.ones(1, 1, 4, dtype=torch.bool)))) < 1e-6


def test_kl_averages_over_queries_with_keys_and_keeps_gradients_finite() -> None:
    target = torch.tensor([[[0.75, 0.25], [0.0, 0.0]]])  # query 1 has no key at all (e.g. padding)
    scores = torch.zeros(1, 2, 2, requires_grad=True)
    keys = torch.tensor([[[True, True], [False, False]]])
    loss = indexer_kl(target, scores, keys)
    assert float(loss.detach()) == pytest.approx(0.75 * math.log(1.5) + 0.25 * math.log(0.5), abs=1e-6)
    loss.backward()
    assert scores.grad is not None and torch.isfinite(scores.grad).all()
    # d KL / d score = softmax - p = (.5 - .75, .5 - .25); the keyless query gets none
    assert torch.allclose(scores.grad, torch.tensor([[[-0.25, 0.25], [0.0, 0.0]]]))


def test_attention_recall_by_hand() -> None:
    target = torch.tensor([[[1.0, 0.0, 0.0], [0.5, 0.5, 0.0], [0.2, 0.3, 0.5]]])
    selected = torch.tensor([[[True, False, False], [False, True, False], [True, False, True]]])
    assert float(attention_recall(target, selected)) == pytest.approx((1.0 + 0.5 + 0.7) / 3)
