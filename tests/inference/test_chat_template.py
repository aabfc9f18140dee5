"""A tokenizer with a chat template: the rendered chat is encoded adding no special tokens of its own.

Templates that start with the BOS write it themselves; encoding the rendered text as a plain prompt
would add a second one ([bos, bos, ...]: one prompt token too many, off the model's distribution).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from transformers import AutoTokenizer

from services.common.settings import InferenceSettings
from services.inference.app import create_app
from services.lm.model import load_model
from services.lm.prompts import TemplatedPrompt, encode_prompt
from services.lm.sampling import SamplingParams, sample_n
from tests.helpers.servers import serve

TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}// {{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}int f() {{ '{' }}{% endif %}"
)
MESSAGES = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "return one"}]


@pytest.fixture(scope="module")
def templated_dir(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("templated") / "model"
    shutil.copytree(tiny_model_dir, out)
    tok = AutoTokenizer.from_pretrained(str(out), local_files_only=True)
    tok.chat_template = TEMPLATE
    tok.save_pretrained(str(out))
    return out


@pytest.fixture(scope="module")
def url(templated_dir: Path, tiny_proxy_dir: Path) -> Iterator[str]:
    settings = InferenceSettings(model=str(templated_dir), proxy_path=tiny_proxy_dir, api_keys=None, open_tier="pro")
    with serve(create_app(settings)) as served:
        yield served


def _rendered(tok: Any) -> str:
    text: str = tok.apply_chat_template(MESSAGES, tokenize=False, add_generation_prompt=True)
    return text


def test_a_templated_chat_starts_with_one_bos(templated_dir: Path) -> None:
    tok = AutoTokenizer.from_pretrained(str(templated_dir), local_files_only=True)
    rendered = _rendered(tok)
    assert rendered.startswith(tok.bos_token)
    ids = encode_prompt(tok, TemplatedPrompt(rendered))
    assert ids[0] == tok.bos_token_id and ids[1] != tok.bos_token_id
    assert encode_prompt(tok, "int f() {")[:1] == [tok.bos_token_id]  # a plain prompt still gets its BOS


def test_chat_completion_counts_and_continues_the_single_bos_prompt(url: str, templated_dir: Path) -> None:
    loaded = load_model(templated_dir)
    ids = loaded.tokenizer(_rendered(loaded.tokenizer), add_special_tokens=False)["input_ids"]
    assert ids[:2].count(loaded.tokenizer.bos_token_id) == 1
    expected = sample_n(loaded.model, loaded.tokenizer, ids, 1, SamplingParams(max_tokens=6, temperature=0.0))
    client = openai.OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0)
    r = client.chat.completions.create(
        model="cppforge-bootstrap",
        messages=MESSAGES,
        max_tokens=6,
        temperature=0.0,  # type: ignore[arg-type]
    )
    assert r.usage is not None and r.usage.prompt_tokens == len(ids)
    assert r.choices[0].message.content == expected[0][0].text


class _CapturingProxy:
    """Records the programs the best-of ranker is asked to score."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def score_many(self, codes: list[str]) -> list[float]:
        self.seen += codes
        return [0.0] * len(codes)


def test_best_of_on_a_templated_chat_ranks_the_completion_not_the_markup(templated_dir: Path) -> None:
    settings = InferenceSettings(model=str(templated_dir), api_keys=None, open_tier="pro")
    app = create_app(settings)
    with serve(app) as served:
        proxy = _CapturingProxy()
        app.state.service.proxy = proxy
        client = openai.OpenAI(base_url=served + "/v1", api_key="unused", max_retries=0)
        r = client.chat.completions.create(
            model="cppforge-bootstrap", messages=MESSAGES, max_tokens=6, n=1, seed=3,  # type: ignore[arg-type]
            extra_body={"best_of": 2},
        )  # fmt: skip
    assert len(proxy.seen) == 2 and r.choices[0].message.content in proxy.seen[0] + proxy.seen[1]
    assert not any("<s>" in code or "// user:" in code for code in proxy.seen), proxy.seen
