"""Prompt encoding and stop handling: the one place every caller goes through."""

from __future__ import annotations

from typing import Any

import pytest

from services.lm.prompts import (
    FUNCTION_STOP,
    encode_prompt,
    encode_texts,
    find_stop,
    plain_chat_prompt,
    program_text,
    trim_at_stop,
)
from services.lm.sampling import Sample, SamplingParams


class FakeTokenizer:
    """Characters as ids; a post-processor that would add its own BOS must never be used."""

    def __init__(self, bos: int | None = 1, eos: int | None = 2) -> None:
        self.bos_token_id, self.eos_token_id = bos, eos

    def __call__(self, texts: list[str], add_special_tokens: bool = True) -> dict[str, Any]:
        assert add_special_tokens is False
        return {"input_ids": [[ord(c) for c in t] for t in texts]}


def test_encode_prompt_puts_bos_first_once() -> None:
    assert encode_prompt(FakeTokenizer(), "ab") == [1, 97, 98]
    assert encode_prompt(FakeTokenizer(bos=None), "ab") == [97, 98]


def test_encode_texts_adds_eos_only_when_asked() -> None:
    tok = FakeTokenizer()
    assert encode_texts(tok, ["a", "bc"]) == [[1, 97], [1, 98, 99]]
    assert encode_texts(tok, ["a", "bc"], eos=True) == [[1, 97, 2], [1, 98, 99, 2]]
    assert encode_texts(FakeTokenizer(eos=None), ["a"], eos=True) == [[1, 97]]


def test_encode_prompt_matches_the_training_encoding(tiny_model: Any) -> None:
    """A prompt's ids are a prefix of the training sample it starts (the DESIGN's token-boundary pitfall)."""
    from services.tasks import generate_tasks, training_text

    tok = tiny_model.tokenizer
    for task in generate_tasks(50, seed=5):
        prompt = encode_prompt(tok, task.prompt)
        full = encode_texts(tok, [training_text(task)], eos=True)[0]
        assert prompt[0] == tok.bos_token_id and full[: len(prompt)] == prompt


@pytest.mark.parametrize(
    ("text", "stops", "expected"),
    [
        ("int f() {\n  return 1;\n}\nint g", (FUNCTION_STOP,), ("int f() {\n  return 1;", FUNCTION_STOP)),
        ("abc", ("x",), ("abc", "")),
        ("a;b\nc", ("\n", ";"), ("a", ";")),  # the earliest wins, whatever the order of stops
        ("a\n}x", ("\n}", "\n"), ("a", "\n")),  # same index: the shorter one, independent of order
        ("a\n}x", ("\n", "\n}"), ("a", "\n")),
    ],
)
def test_trim_at_stop(text: str, stops: tuple[str, ...], expected: tuple[str, str]) -> None:
    assert trim_at_stop(text, stops) == expected
    assert (find_stop(text, stops) is None) == (expected[1] == "")


def test_program_text_and_sample_program_agree() -> None:
    s = Sample(index=0, text="  return 1;", token_ids=[5], finish_reason="stop", seed=3, stopped_by="\n}")
    assert s.program("int f() {\n") == "int f() {\n  return 1;\n}"
    assert s.program("int f() {\n", final_newline=True) == "int f() {\n  return 1;\n}\n"
    assert program_text("p", "c", "") == "pc"


def test_sampling_params_are_keyword_only() -> None:
    with pytest.raises(TypeError):
        SamplingParams(96, 1.0)  # type: ignore[misc]
    assert SamplingParams(max_tokens=96, stop=(FUNCTION_STOP,)).stop == ("\n}",)


def test_plain_chat_prompt_puts_instructions_as_comments_before_the_code() -> None:
    code = "int total(vector<int> v) {"
    assert plain_chat_prompt([{"role": "user", "content": code}]) == code
    messages = [
        {"role": "system", "content": "Write fast C++.\n\nNo recursion."},
        {"role": "user", "content": "an earlier prompt"},
        {"role": "developer", "content": "end with a } \\"},  # a trailing backslash would splice the next line
        {"role": "assistant", "content": "ignored"},
        {"role": "user", "content": code},
    ]
    assert plain_chat_prompt(messages) == "// Write fast C++.\n//\n// No recursion.\n// end with a }\n" + code
    assert plain_chat_prompt([{"role": "system", "content": "  "}, {"role": "user", "content": code}]) == code
    assert plain_chat_prompt([{"role": "system", "content": "only"}]) == "// only\n"
