"""Per-token log-probabilities of a choice, and OpenAI's two wire shapes for them.

The numbers come from the sampler (services/lm/sampling.py): the log-softmax of the model's raw
logits (temperature 1, before top_p; vLLM's default "raw" logprobs). A token's text is the tokenizer's
decode of that one id (a byte-level token holding part of a UTF-8 character decodes to U+FFFD), its
`bytes` that text's UTF-8.

Which tokens a choice reports: those of its returned text. When a stop sequence cut the text, a
token that starts before the cut is reported whole (its text may run past the cut, into the stop);
tokens that start at the cut or later (the stop's own) are not. Without a cut every token is reported.
Streaming reports the same tokens: each chunk those whose text it completes, the last chunk the rest.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..lm.sampling import Sample
from ..lm.stream_text import token_offsets
from .protocol_logprobs import ChatLogprobs, ChatTokenLogprob, CompletionLogprobs, TopLogprob


@dataclass(frozen=True)
class TokenLogprob:
    token: str
    logprob: float
    offset: int  # where its text starts in the choice's text
    top: list[tuple[str, float]]  # the most likely tokens at its position, most likely first


class TokenTexts:
    """The text of single token ids, decoded once each."""

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer
        self._cache: dict[int, str] = {}

    def __call__(self, token: int) -> str:
        text = self._cache.get(token)
        if text is None:
            text = self._cache[token] = self.tokenizer.decode([token], skip_special_tokens=False)
        return text


def reported_tokens(offsets: Sequence[int], text_length: int, *, cut: bool) -> int:
    """How many leading tokens a choice reports (module docstring): all of them, or with a stop cut
    at `text_length` those that start before it."""
    if not cut:
        return len(offsets)
    return sum(1 for start in offsets if start < text_length)


def entry(texts: TokenTexts, token: int, logprob: float, top: Sequence[tuple[int, float]], offset: int) -> TokenLogprob:
    return TokenLogprob(texts(token), logprob, offset, [(texts(t), lp) for t, lp in top])


def sample_logprobs(tokenizer: Any, sample: Sample, texts: TokenTexts | None = None) -> list[TokenLogprob]:
    """The reported tokens of a finished (non-streamed) sample; its params must have asked for logprobs."""
    texts = texts or TokenTexts(tokenizer)
    offsets = token_offsets(tokenizer, sample.token_ids)
    keep = reported_tokens(offsets, len(sample.text), cut=bool(sample.stopped_by))
    return [
        entry(texts, sample.token_ids[i], sample.token_logprobs[i], sample.top_logprobs[i], offsets[i])
        for i in range(keep)
    ]


def _bytes(text: str) -> list[int]:
    return list(text.encode("utf-8"))


def chat_logprobs(entries: Sequence[TokenLogprob]) -> ChatLogprobs:
    """OpenAI's chat shape: {"content": [{"token", "logprob", "bytes", "top_logprobs": [...]}]}."""
    return ChatLogprobs(
        content=[
            ChatTokenLogprob(
                token=e.token, logprob=e.logprob, bytes=_bytes(e.token),
                top_logprobs=[TopLogprob(token=t, logprob=lp, bytes=_bytes(t)) for t, lp in e.top],
            )
            for e in entries
        ]
    )  # fmt: skip


def completion_logprobs(entries: Sequence[TokenLogprob], *, offset_base: int = 0) -> CompletionLogprobs:
    """OpenAI's legacy completions shape. As OpenAI documents, `top_logprobs` holds the top `logprobs`
    tokens plus the sampled one (so up to logprobs + 1 entries; logprobs=0: the sampled one alone);
    tokens with the same text share a key. `text_offset`: from the start of the returned text
    (plus `offset_base`)."""
    tops = []
    for e in entries:
        top: dict[str, float] = {}
        for text, lp in [*e.top, (e.token, e.logprob)]:
            top.setdefault(text, lp)  # the more likely of two tokens with one text
        tops.append(top)
    return CompletionLogprobs(
        tokens=[e.token for e in entries],
        token_logprobs=[e.logprob for e in entries],
        top_logprobs=tops,
        text_offset=[offset_base + e.offset for e in entries],
    )
