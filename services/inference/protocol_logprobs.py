"""OpenAI's wire shapes of log-probabilities (logprobs.py fills them): chat and legacy completions."""

from __future__ import annotations

from pydantic import BaseModel, Field


class TopLogprob(BaseModel):
    token: str = Field(..., description="The tokenizer's decode of this one token id.")
    logprob: float = Field(..., description="Raw: log-softmax of the model's logits (temperature 1, before top_p).")
    bytes: list[int] | None = Field(None, description="The UTF-8 bytes of `token`.")


class ChatTokenLogprob(TopLogprob):
    top_logprobs: list[TopLogprob] = Field(default_factory=list, description="The top_logprobs most likely tokens.")


class ChatLogprobs(BaseModel):
    content: list[ChatTokenLogprob] | None = None


class CompletionLogprobs(BaseModel):
    """The legacy shape: parallel lists, one entry per token of the returned text."""

    tokens: list[str]
    token_logprobs: list[float]
    top_logprobs: list[dict[str, float]] = Field(
        ..., description="Per token: the top `logprobs` tokens and the sampled one, text -> logprob."
    )
    text_offset: list[int] = Field(..., description="Where each token's text starts in the returned text.")
