"""DecodeSession: chunked prefill, joining running decodes, dropping finished rows, per-request failures."""

from __future__ import annotations

from typing import Any

import pytest

from services.lm import kv_rows, sampling
from services.lm.decode_session import DecodeSession
from services.lm.model import LoadedModel
from services.lm.sampling import SampleRequest, SamplingParams, TokenEvent, sample_batch

LONG = list(range(3, 300))  # ids of a long prompt (the vocabulary is 512)
SHORT = [5, 6, 7, 8, 9]


def greedy(max_tokens: int = 12, seed: int | None = None) -> SamplingParams:
    return SamplingParams(max_tokens=max_tokens, temperature=0, seed=seed)


def tokens(results: Any) -> list[list[list[int]]]:
    return [[s.token_ids for s in samples] for samples, _ in results]


def run(model: LoadedModel, session: DecodeSession) -> list[Any]:
    while not session.step(model.model):
        pass
    return session.outcomes()


def test_chunked_prefill_decodes_as_one_forward(tiny_model: LoadedModel) -> None:
    requests = [
        SampleRequest(LONG, 2, greedy()),
        SampleRequest(SHORT, 1, greedy()),
        SampleRequest(LONG[:77], 1, greedy()),
    ]
    whole = sample_batch(tiny_model.model, tiny_model.tokenizer, requests)
    session = DecodeSession(tiny_model.tokenizer, requests, prefill_chunk=32)
    chunked = run(tiny_model, session)
    assert tokens(chunked) == tokens(whole)
    assert session.units >= len(LONG) // 32  # the prompt went in several steps
    alone = DecodeSession(tiny_model.tokenizer, [SampleRequest(LONG, 1, greedy())], prefill_chunk=50)
    assert tokens(run(tiny_model, alone)) == [tokens(whole)[0][:1]]


def _prefilled(model: LoadedModel, requests: list[SampleRequest], decode_steps: int = 0) -> DecodeSession:
    session = DecodeSession(model.tokenizer, requests, prefill_chunk=64)
    while session.prefilling:
        session.step(model.model)
    for _ in range(decode_steps):
        session.step(model.model)
    return session


@pytest.mark.parametrize("seed", [None, 7])
def test_a_joined_request_decodes_as_it_would_alone(tiny_model: LoadedModel, seed: int | None) -> None:
    """A running decode absorbs a newly prefilled one; every request still draws what it draws alone
    (greedy, and sampled: each row keeps its own generator)."""
    params = greedy(16) if seed is None else SamplingParams(max_tokens=16, temperature=0.8, seed=seed)
    first = [SampleRequest(LONG, 2, params)]
    second = [SampleRequest(SHORT, 1, params), SampleRequest(LONG[:40], 1, params)]
    alone = [*tokens(sample_batch(tiny_model.model, tiny_model.tokenizer, first)),
             *tokens(sample_batch(tiny_model.model, tiny_model.tokenizer, second))]  # fmt: skip
    running = _prefilled(tiny_model, first, decode_steps=5)  # unpadded, 5 tokens ahead
    newcomer = _prefilled(tiny_model, second)  # padded
    assert kv_rows.supports_rows(running._past)
    assert running.absorb(newcomer)
    assert newcomer.done and not newcomer.requests
    joined = run(tiny_model, running)
    assert tokens(joined) == alone


def test_only_prefilled_sessions_join(tiny_model: LoadedModel) -> None:
    running = _prefilled(tiny_model, [SampleRequest(SHORT, 1, greedy())])
    fresh = DecodeSession(tiny_model.tokenizer, [SampleRequest(LONG, 1, greedy())], prefill_chunk=64)
    assert not running.absorb(fresh) and not fresh.absorb(running)
    fresh.step(tiny_model.model)  # one chunk of five
    assert not running.absorb(fresh)
    assert not running.absorb(running)


def test_finished_requests_leave_the_batch_and_are_reported_at_once(tiny_model: LoadedModel) -> None:
    quick, slow = SampleRequest(SHORT, 2, greedy(2)), SampleRequest(LONG[:50], 1, greedy(30))
    expected = tokens(sample_batch(tiny_model.model, tiny_model.tokenizer, [quick])) + tokens(
        sample_batch(tiny_model.model, tiny_model.tokenizer, [slow])
    )
    session = DecodeSession(tiny_model.tokenizer, [quick, slow])
    reported: dict[int, int] = {}
    while not session.step(tiny_model.model):
        for index, _ in session.take_finished():
            reported[index] = session.units
    for index, _ in session.take_finished():
        reported.setdefault(index, session.units)
    assert reported[0] < reported[1]  # the quick request was reported while the slow one decoded on
    assert len(session.rows) == 3
    if any(len(s.token_ids) == 30 for s in session.outcomes()[1][0]):  # (the slow one did not stop early)
        assert session._past is None  # freed once done
    assert tokens(session.outcomes()) == expected


def test_a_listener_that_raises_fails_only_its_request(tiny_model: LoadedModel) -> None:
    heard: list[int] = []

    def broken(events: list[TokenEvent]) -> None:
        raise RuntimeError("client gone wrong")

    def fine(events: list[TokenEvent]) -> None:
        heard.append(len(events))

    good = SampleRequest(SHORT, 2, greedy(6), on_step=fine)
    bad = SampleRequest(SHORT, 1, greedy(6), on_step=broken)
    other = SampleRequest(LONG[:20], 1, greedy(6))
    outcomes = run(tiny_model, DecodeSession(tiny_model.tokenizer, [good, bad, other]))
    assert isinstance(outcomes[1], RuntimeError)
    alone = tokens(sample_batch(tiny_model.model, tiny_model.tokenizer, [good, other]))
    assert tokens([outcomes[0], outcomes[2]]) == alone
    assert heard


def test_a_row_whose_draw_fails_fails_only_its_request(
    tiny_model: LoadedModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = sampling._draw_from

    def draw(logits: Any, probs: Any, params: SamplingParams, generator: Any) -> int:
        if params.seed == 666:
            raise RuntimeError("probability tensor contains either inf, nan or element < 0")
        return real(logits, probs, params, generator)

    monkeypatch.setattr(sampling, "_draw_from", draw)
    good, bad = SampleRequest(SHORT, 2, greedy(5, seed=1)), SampleRequest(LONG[:30], 1, greedy(5, seed=666))
    outcomes = run(tiny_model, DecodeSession(tiny_model.tokenizer, [good, bad]))
    assert isinstance(outcomes[1], RuntimeError) and "probability" in str(outcomes[1])
    assert tokens([outcomes[0]]) == tokens(sample_batch(tiny_model.model, tiny_model.tokenizer, [good]))
    with pytest.raises(RuntimeError, match="probability"):  # sample_batch raises the failed request's error
        sample_batch(tiny_model.model, tiny_model.tokenizer, [good, bad])
