"""Logprobs over real HTTP through the `openai` client: OpenAI's completions and chat shapes, equal to
the model's own log-softmax recomputed in-process, streamed as they are answered whole."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
import torch

from services.common.settings import InferenceSettings
from services.inference.app import create_app
from services.lm.model import LoadedModel
from services.lm.prompts import encode_prompt
from services.lm.sampling import SamplingParams, sample_n
from tests.helpers.servers import serve

PROMPT = "#include <vector>\nusing namespace std;\n// return the sum of the elements of v\nint total(vector<int> v) {"
MODEL = "cppforge-bootstrap"


@pytest.fixture(scope="module")
def client(tiny_model_dir: Path, tiny_proxy_dir: Path) -> Iterator[openai.OpenAI]:
    settings = InferenceSettings(
        model=str(tiny_model_dir), proxy_path=tiny_proxy_dir, api_keys=None, open_tier="pro", max_tokens_default=16
    )
    with serve(create_app(settings)) as url:
        yield openai.OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0)


def test_greedy_completion_logprobs_are_the_models(client: openai.OpenAI, tiny_model: LoadedModel) -> None:
    r = client.completions.create(model=MODEL, prompt=PROMPT, max_tokens=10, temperature=0, logprobs=3)
    choice = r.choices[0]
    lp = choice.logprobs
    assert lp is not None and lp.tokens and lp.token_logprobs and lp.top_logprobs and lp.text_offset is not None
    for token, logprob, top in zip(lp.tokens, lp.token_logprobs, lp.top_logprobs, strict=True):
        assert top[token] == logprob == max(top.values())  # greedy: the chosen token is the top-1
        assert 3 <= len(top) <= 4  # the top 3, plus the sampled one when it is not among them
    assert "".join(lp.tokens) == choice.text
    assert lp.text_offset == [len("".join(lp.tokens[:i])) for i in range(len(lp.tokens))]

    # The same greedy tokens in-process, and one plain forward over prompt + completion.
    prompt_ids = encode_prompt(tiny_model.tokenizer, PROMPT)
    params = SamplingParams(max_tokens=10, temperature=0, logprobs=3)
    (local,), _ = sample_n(tiny_model.model, tiny_model.tokenizer, prompt_ids, 1, params)
    assert [tiny_model.tokenizer.decode([t]) for t in local.token_ids] == lp.tokens
    with torch.inference_mode():
        logits = tiny_model.model(input_ids=torch.tensor([prompt_ids + local.token_ids])).logits[0].float()
    expected = torch.log_softmax(logits[len(prompt_ids) - 1 : -1], dim=-1)  # (C, V): position t predicts token t
    for t, token_id in enumerate(local.token_ids):
        assert abs(lp.token_logprobs[t] - float(expected[t, token_id])) < 1e-3
        values, ids = torch.topk(expected[t], 3)
        for v, i in zip(values.tolist(), ids.tolist(), strict=True):
            assert abs(lp.top_logprobs[t][tiny_model.tokenizer.decode([i])] - v) < 1e-3


def test_chat_logprobs_shape_and_top_logprobs(client: openai.OpenAI) -> None:
    messages: Any = [{"role": "user", "content": PROMPT}]
    r = client.chat.completions.create(
        model=MODEL, messages=messages, max_tokens=8, temperature=0, logprobs=True, top_logprobs=2
    )
    content = r.choices[0].logprobs.content  # type: ignore[union-attr]
    assert content is not None and "".join(t.token for t in content) == r.choices[0].message.content
    for t in content:
        assert len(t.top_logprobs) == 2 and t.bytes == list(t.token.encode())
        assert (t.top_logprobs[0].token, t.top_logprobs[0].logprob) == (t.token, t.logprob)
        assert t.top_logprobs[0].logprob >= t.top_logprobs[1].logprob
    plain = client.chat.completions.create(model=MODEL, messages=messages, max_tokens=8, temperature=0, logprobs=True)
    assert [(t.token, t.logprob, t.top_logprobs) for t in plain.choices[0].logprobs.content] == [  # type: ignore[union-attr]
        (t.token, t.logprob, []) for t in content
    ]
    assert client.chat.completions.create(model=MODEL, messages=messages, max_tokens=2).choices[0].logprobs is None


def test_streamed_chat_logprobs_equal_the_non_streamed(client: openai.OpenAI) -> None:
    messages = [{"role": "user", "content": PROMPT}]
    kwargs: dict[str, Any] = {"model": MODEL, "messages": messages, "n": 2, "max_tokens": 14, "seed": 6,
                              "stop": ["\n"], "logprobs": True, "top_logprobs": 1}  # fmt: skip
    whole = client.chat.completions.create(**kwargs)
    chunks = list(client.chat.completions.create(**kwargs, stream=True))
    for c in whole.choices:
        streamed = [
            t
            for x in chunks
            if x.choices[0].index == c.index and x.choices[0].logprobs is not None
            for t in x.choices[0].logprobs.content or []
        ]
        assert c.logprobs is not None and streamed == c.logprobs.content


def test_refused_logprob_requests(client: openai.OpenAI) -> None:
    messages: Any = [{"role": "user", "content": PROMPT}]
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=MODEL, messages=messages, max_tokens=2, top_logprobs=2)
    assert caught.value.body["param"] == "top_logprobs"  # type: ignore[index]
    with pytest.raises(openai.BadRequestError) as caught:
        client.completions.create(model=MODEL, prompt=PROMPT, max_tokens=2, logprobs=1, echo=True)
    assert caught.value.body["param"] == "echo"  # type: ignore[index]
    with pytest.raises(openai.BadRequestError):  # OpenAI's legacy limit: 5
        client.completions.create(model=MODEL, prompt=PROMPT, max_tokens=2, logprobs=6)
