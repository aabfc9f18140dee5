"""The model's context length, and the check that a request fits in it before it is queued.

A prompt longer than the model can attend to would fail (or silently wrap positions) inside the
decode, holding the single decode thread meanwhile: refuse it up front with OpenAI's 400
`context_length_exceeded`. The limit: the model config's max_position_embeddings (or n_positions),
else the tokenizer's model_max_length when it is a real number (transformers puts ~1e30 there when
it does not know), else none. Tokenizing a long prompt takes a while: callers run `encode_checked`
off the event loop.
"""

from __future__ import annotations

from typing import Any

from ..lm.model import LoadedModel
from ..lm.prompts import encode_prompt
from .errors import InferenceError
from .prompt_ids import TokenPrompt

_SANE_MAX_LENGTH = 1_000_000_000


class ContextLengthExceededError(InferenceError):
    """The prompt's tokens plus max_tokens exceed the model's context (400)."""

    status = 400
    code = "context_length_exceeded"

    def __init__(self, message: str, param: str) -> None:
        super().__init__(message, param=param)


def context_length(loaded: LoadedModel) -> int | None:
    """Tokens the model attends to (prompt + completion); None when it does not say."""
    config: Any = getattr(loaded.model, "config", None)
    for name in ("max_position_embeddings", "n_positions"):
        value = getattr(config, name, None)
        if isinstance(value, int) and value > 0:
            return value
    value = getattr(loaded.tokenizer, "model_max_length", None)
    if isinstance(value, int) and 0 < value < _SANE_MAX_LENGTH:
        return value
    return None


def encode_checked(
    loaded: LoadedModel, prompt: str, max_tokens: int, param: str, *, defaulted: bool = False
) -> tuple[list[int], int]:
    """(the prompt's ids, max_tokens), or ContextLengthExceededError (`param`: the field holding the prompt)
    when they do not fit the model's context. A `defaulted` max_tokens (the caller gave none) is clipped
    to the context the prompt leaves, as OpenAI does; one the caller asked for is never cut. Blocking:
    call it off the event loop."""
    # A prompt given as token ids is used as given (its decode need not re-encode to the same ids).
    ids = list(prompt.ids) if isinstance(prompt, TokenPrompt) else encode_prompt(loaded.tokenizer, prompt)
    limit = context_length(loaded)
    if defaulted and limit is not None and len(ids) < limit:
        max_tokens = min(max_tokens, limit - len(ids))
    if limit is not None and len(ids) + max_tokens > limit:
        raise ContextLengthExceededError(
            f"This model's maximum context length is {limit} tokens. However, you requested "
            f"{len(ids) + max_tokens} tokens ({len(ids)} in the prompt, {max_tokens} for the completion). "
            "Please reduce the prompt or max_tokens.",
            param,
        )
    return ids, max_tokens
