"""Prompt encoding and stop handling, written once for every caller (service, benches, trainer).

A prompt is encoded the way training samples begin: `<s>` (when the tokenizer has one) and then
the text's own tokens, never the tokenizer's post-processor, so a tokenizer that adds no BOS or
adds it twice cannot silently shift prompts off the training distribution. Stop sequences end a
completion as in OpenAI's API: the text up to the earliest stop, the stop itself reported apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

FUNCTION_STOP = "\n}"  # generated corpus completions end with a `}` in column 0


def encode_texts(tokenizer: Any, texts: Sequence[str], *, eos: bool = False) -> list[list[int]]:
    """Each text as `[<s>] ids [</s>]`: BOS when the tokenizer has one, EOS only when asked (training)."""
    encoded: list[list[int]] = tokenizer(list(texts), add_special_tokens=False)["input_ids"]
    bos, end = tokenizer.bos_token_id, tokenizer.eos_token_id
    head = [bos] if bos is not None else []
    tail = [end] if eos and end is not None else []
    return [[*head, *ids, *tail] for ids in encoded]


def encode_prompt(tokenizer: Any, prompt: str) -> list[int]:
    """The ids a completion continues: `[<s>] ids` (no EOS)."""
    return encode_texts(tokenizer, [prompt])[0]


def find_stop(text: str, stops: Sequence[str]) -> tuple[int, str] | None:
    """The earliest stop sequence in `text`: (its index, the sequence); None when there is none.

    At equal index the shorter sequence wins, so the cut never depends on the order of `stops`.
    """
    found = [(text.find(s), s) for s in stops if s in text]
    return min(found) if found else None


def trim_at_stop(text: str, stops: Sequence[str]) -> tuple[str, str]:
    """(`text` up to its earliest stop, that stop) or (`text`, "") when no stop occurs."""
    cut = find_stop(text, stops)
    return (text, "") if cut is None else (text[: cut[0]], cut[1])


def program_text(prompt: str, completion: str, stopped_by: str, *, final_newline: bool = False) -> str:
    """The program a completion ends: prompt + completion + the stop that closed it (e.g. "\\n}")."""
    return prompt + completion + stopped_by + ("\n" if final_newline else "")
