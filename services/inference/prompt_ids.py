"""A completions prompt given as token ids (as vLLM accepts it): the ids are used exactly as given.

`TokenPrompt` is the prompt's text (the ids decoded: for `echo` and the best-of-n scorer) that
also carries the ids, so InferenceService.encode hands them on untouched instead of re-encoding
a decode that need not round-trip.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class TokenPrompt(str):
    ids: tuple[int, ...]

    def __new__(cls, text: str, ids: Sequence[int]) -> TokenPrompt:
        prompt = super().__new__(cls, text)
        prompt.ids = tuple(ids)
        return prompt


def token_prompt(ids: Sequence[int], tokenizer: Any) -> TokenPrompt:
    """ValueError unless every id is in the tokenizer's vocabulary."""
    vocab = len(tokenizer)
    bad = next((i for i in ids if not 0 <= i < vocab), None)
    if bad is not None:
        raise ValueError(f"token id {bad} is not in the model's vocabulary (0..{vocab - 1})")
    return TokenPrompt(tokenizer.decode(list(ids)), ids)
