"""The sampler's logprobs, per-step events and cancellation (services/lm/sampling.py)."""

from __future__ import annotations

import threading

import torch

from services.lm.model import LoadedModel
from services.lm.prompts import encode_prompt
from services.lm.sampling import SampleRequest, SamplingParams, TokenEvent, sample_batch, sample_n

PROMPT = "#include <vector>\nusing namespace std;\n// return the sum of the elements of v\nint total(vector<int> v) {"


def recomputed_logprobs(model: LoadedModel, prompt_ids: list[int], completion: list[int]) -> torch.Tensor:
    """log-softmax of one plain forward over prompt + completion, at each completion token's position."""
    ids = torch.tensor([prompt_ids + completion])
    with torch.inference_mode():
        logits = model.model(input_ids=ids).logits[0].float()  # (P + C, V)
    return torch.log_softmax(logits[len(prompt_ids) - 1 : -1], dim=-1)  # (C, V): position t predicts token t


def test_logprobs_are_the_models_raw_log_softmax(tiny_model: LoadedModel) -> None:
    prompt = encode_prompt(tiny_model.tokenizer, PROMPT)
    hot = SamplingParams(max_tokens=12, temperature=1.3, top_p=0.9, seed=5, logprobs=3)  # raw: T and top_p ignored
    samples, _ = sample_n(tiny_model.model, tiny_model.tokenizer, prompt, 2, hot)
    for s in samples:
        expected = recomputed_logprobs(tiny_model, prompt, s.token_ids)
        assert len(s.token_logprobs) == len(s.top_logprobs) == len(s.token_ids) > 0
        for t, token in enumerate(s.token_ids):
            assert abs(s.token_logprobs[t] - float(expected[t, token])) < 1e-3
            values, ids = torch.topk(expected[t], 3)
            assert [i for i, _ in s.top_logprobs[t]] == ids.tolist()
            assert all(abs(lp - float(v)) < 1e-3 for (_, lp), v in zip(s.top_logprobs[t], values, strict=True))
    greedy, _ = sample_n(
        tiny_model.model, tiny_model.tokenizer, prompt, 1, SamplingParams(max_tokens=8, temperature=0, logprobs=1)
    )
    g = greedy[0]
    assert all(top[0] == (tok, lp) for tok, lp, top in zip(g.token_ids, g.token_logprobs, g.top_logprobs, strict=True))
    plain, _ = sample_n(tiny_model.model, tiny_model.tokenizer, prompt, 1, SamplingParams(max_tokens=4, seed=5))
    assert plain[0].token_logprobs == [] and plain[0].top_logprobs == []  # not asked: not computed


def test_step_events_tell_each_rows_tokens_and_final_text(tiny_model: LoadedModel) -> None:
    prompt = encode_prompt(tiny_model.tokenizer, PROMPT)
    seen: list[list[TokenEvent]] = []
    params = SamplingParams(max_tokens=30, seed=11, stop=("\n",), logprobs=0)
    watched = SampleRequest(prompt, 2, params, on_step=seen.append)
    other = SampleRequest(prompt[:-1], 1, SamplingParams(max_tokens=5, seed=1))  # batched with it, not watched
    (samples, _), _ = sample_batch(tiny_model.model, tiny_model.tokenizer, [watched, other])
    assert all(len({e.index for e in step}) == len(step) for step in seen)  # one event per row and step
    for s in samples:
        events = [e for step in seen for e in step if e.index == s.index]
        assert [e.token for e in events if e.token is not None] == s.token_ids
        assert [e.logprob for e in events if e.token is not None] == s.token_logprobs
        assert all(e.top == [] for e in events)  # logprobs=0: no alternatives
        last = events[-1]
        assert [e.finish for e in events[:-1]] == [None] * (len(events) - 1)
        assert (last.finish, last.text, last.stopped_by) == (s.finish_reason, s.text, s.stopped_by)


def test_cancel_ends_the_rows_at_the_next_step(tiny_model: LoadedModel) -> None:
    prompt = encode_prompt(tiny_model.tokenizer, PROMPT)
    cancel = threading.Event()
    steps: list[int] = []

    def on_step(events: list[TokenEvent]) -> None:
        steps.append(len(events))
        cancel.set()  # the caller goes away after the first step

    request = SampleRequest(prompt, 2, SamplingParams(max_tokens=200, seed=3), on_step=on_step, cancel=cancel)
    ((samples, stats),) = sample_batch(tiny_model.model, tiny_model.tokenizer, [request])
    assert steps == [2] and stats.steps == 1
    assert all(len(s.token_ids) <= 1 for s in samples)
