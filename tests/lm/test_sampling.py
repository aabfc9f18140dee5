"""Batched sampling: per-row seeds, stop sequences, limits."""

from __future__ import annotations

import pytest
import torch

from services.lm.model import LoadedModel
from services.lm.prompts import encode_prompt
from services.lm.sampling import SamplingParams, _draw_from, _filter_top_p, sample_n

PROMPT = "#include <vector>\nusing namespace std;\n// return the sum of the elements of v\nint total(vector<int> v) {"


def ids(model: LoadedModel, text: str = PROMPT) -> list[int]:
    return encode_prompt(model.tokenizer, text)


def test_candidate_i_equals_n1_with_seed_plus_i(tiny_model: LoadedModel) -> None:
    params = SamplingParams(max_tokens=40, temperature=1.0, seed=1234)
    batch, stats = sample_n(tiny_model.model, tiny_model.tokenizer, ids(tiny_model), 4, params)
    assert stats.completion_tokens == sum(len(s.token_ids) for s in batch)
    for i in range(4):
        alone, _ = sample_n(
            tiny_model.model,
            tiny_model.tokenizer,
            ids(tiny_model),
            1,
            SamplingParams(max_tokens=40, temperature=1.0, top_p=1.0, stop=(), seed=1234 + i),
        )
        assert alone[0].token_ids == batch[i].token_ids
        assert alone[0].text == batch[i].text
    assert len({tuple(s.token_ids) for s in batch}) > 1, "different seeds should give different candidates"


def test_same_seed_same_output_and_greedy_is_deterministic(tiny_model: LoadedModel) -> None:
    p = SamplingParams(max_tokens=20, temperature=0.8, top_p=0.9, seed=7)
    a, _ = sample_n(tiny_model.model, tiny_model.tokenizer, ids(tiny_model), 2, p)
    b, _ = sample_n(tiny_model.model, tiny_model.tokenizer, ids(tiny_model), 2, p)
    assert [s.token_ids for s in a] == [s.token_ids for s in b]
    g = SamplingParams(max_tokens=20, temperature=0.0, seed=1)
    c, _ = sample_n(tiny_model.model, tiny_model.tokenizer, ids(tiny_model), 3, g)
    assert c[0].token_ids == c[1].token_ids == c[2].token_ids


def test_max_tokens_and_stop(tiny_model: LoadedModel) -> None:
    limited, _ = sample_n(
        tiny_model.model,
        tiny_model.tokenizer,
        ids(tiny_model),
        2,
        SamplingParams(max_tokens=5, temperature=1.0, seed=3),
    )
    for s in limited:
        assert len(s.token_ids) <= 5
        assert s.finish_reason in ("length", "stop")
    stop = SamplingParams(max_tokens=60, temperature=1.0, seed=3, stop=("\n",))
    stopped, _ = sample_n(tiny_model.model, tiny_model.tokenizer, ids(tiny_model), 4, stop)
    for s in stopped:
        assert "\n" not in s.text
        if s.finish_reason == "stop" and s.stopped_by:
            assert s.stopped_by == "\n"


@pytest.mark.parametrize(
    "kwargs",
    [{"max_tokens": 0}, {"temperature": -1.0}, {"top_p": 0.0}, {"top_p": 1.5}, {"stop": ("",)}],
)
def test_bad_params_raise(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        SamplingParams(**kwargs)  # type: ignore[arg-type]


def test_bad_n_and_prompt(tiny_model: LoadedModel) -> None:
    with pytest.raises(ValueError, match="n must"):
        sample_n(tiny_model.model, tiny_model.tokenizer, ids(tiny_model), 0, SamplingParams())
    with pytest.raises(ValueError, match="empty"):
        sample_n(tiny_model.model, tiny_model.tokenizer, [], 1, SamplingParams())


def test_requests_of_different_lengths_batch_together(tiny_model: LoadedModel) -> None:
    from services.lm.sampling import SampleRequest, sample_batch

    short = ids(tiny_model, "// add two numbers\nint add(int a, int b) {")
    long = ids(tiny_model)
    greedy = SamplingParams(max_tokens=24, temperature=0.0, seed=0)
    sampled = SamplingParams(max_tokens=12, temperature=1.0, seed=77, stop=("\n}",))
    together = sample_batch(
        tiny_model.model,
        tiny_model.tokenizer,
        [SampleRequest(short, 1, greedy), SampleRequest(long, 2, sampled), SampleRequest(long, 1, greedy)],
    )
    alone_short, _ = sample_n(tiny_model.model, tiny_model.tokenizer, short, 1, greedy)
    alone_long, _ = sample_n(tiny_model.model, tiny_model.tokenizer, long, 1, greedy)
    # Left padding with a mask and position ids leaves each row's continuation unchanged.
    assert together[0][0][0].token_ids == alone_short[0].token_ids
    assert together[2][0][0].token_ids == alone_long[0].token_ids
    # Each request keeps its own params: the sampled one stops within its own budget.
    assert [len(s.token_ids) <= 12 for s in together[1][0]] == [True, True]
    assert [s.seed for s in together[1][0]] == [77, 78]


def test_a_tiny_top_p_keeps_the_most_likely_token() -> None:
    """`cumulative - p < top_p` runs in float32, where 1e-300 is 0: the most likely token must stay."""
    probs = torch.softmax(torch.tensor([0.5, 3.0, -1.0, 2.9]), dim=-1)  # (V,) float32, most likely: 1
    for top_p in (1e-300, 1e-45, 1e-9):
        assert _filter_top_p(probs, top_p).tolist() == [0.0, 1.0, 0.0, 0.0], top_p
    kept = _filter_top_p(probs, 0.6)  # tokens 1 and 3 reach 0.6; renormalized
    assert kept[0] == kept[2] == 0 and kept[1] > kept[3] > 0 and abs(float(kept.sum()) - 1) < 1e-6


def test_a_row_whose_probabilities_are_not_finite_draws_the_argmax() -> None:
    logits = torch.tensor([0.5, 3.0, -1.0, 2.9])
    params = SamplingParams(temperature=1e-300, top_p=0.9)  # 1e-300 is 0 in float32: logits / t -> inf, NaN
    probs = torch.softmax(logits / torch.tensor([params.temperature]), dim=-1)
    assert not bool(torch.isfinite(probs).all())
    generator = torch.Generator().manual_seed(0)
    assert [_draw_from(logits, probs, params, generator) for _ in range(3)] == [1, 1, 1]


def test_underflowing_temperature_and_top_p_decode_greedily(tiny_model: LoadedModel) -> None:
    greedy, _ = sample_n(
        tiny_model.model, tiny_model.tokenizer, ids(tiny_model), 1, SamplingParams(max_tokens=8, temperature=0)
    )
    for extreme in ({"temperature": 1e-300}, {"top_p": 1e-300}, {"temperature": 1e-300, "top_p": 1e-300}):
        p = SamplingParams(max_tokens=8, seed=3, **extreme)  # type: ignore[arg-type]
        two, _ = sample_n(tiny_model.model, tiny_model.tokenizer, ids(tiny_model), 2, p)
        assert [s.token_ids for s in two] == [greedy[0].token_ids] * 2, extreme
