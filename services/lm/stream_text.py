"""Text of a completion while it is being decoded: incremental detokenization and stop hold-back.

Streamed text may never be retracted, so what goes out must be a prefix of the text the finished
completion will have. Two things could break that: a token whose bytes end inside a UTF-8 character
(byte-level BPE), and text that may still turn out to be the start of a stop sequence (which cuts the
completion there). `IncrementalDetokenizer` holds back the first, `releasable` the second.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .prompts import find_stop

_REPLACEMENT = "\ufffd"  # what decoding an incomplete UTF-8 sequence ends with


class IncrementalDetokenizer:
    """The text of a growing token sequence, one token at a time, without decoding it all each step.

    TGI's and vLLM's prefix-window method: decode the new tokens together with the last few already
    turned into text (their left context: tokenizers such as SentencePiece drop a leading space at the
    start of a decode) and keep what the new ones add. A decode ending in U+FFFD waits for the next
    token, which may complete the character. `text` is then a prefix of decoding all the tokens at
    once for tokenizers whose decode is prefix-stable (byte-level BPE, SentencePiece; not ones that
    clean up spaces).
    """

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer
        self.tokens: list[int] = []
        self.text = ""
        self.offsets: list[int] = []  # per token: the length of `text` when it arrived (its start)
        self._prefix = 0  # tokens[_prefix:_read] are the left context of the next decode
        self._read = 0  # tokens before this are in `text`

    @property
    def complete_tokens(self) -> int:
        """How many leading tokens have all their text in `text`."""
        return self._read

    def _decode(self, ids: list[int]) -> str:
        text: str = self.tokenizer.decode(ids, skip_special_tokens=True)
        return text

    def push(self, token: int) -> str:
        """Add one token; returns the text it completes ("" while a character is incomplete)."""
        self.offsets.append(len(self.text))
        self.tokens.append(token)
        context = self._decode(self.tokens[self._prefix : self._read])
        window = self._decode(self.tokens[self._prefix :])
        if len(window) <= len(context) or window.endswith(_REPLACEMENT):
            return ""
        added = window[len(context) :]
        self._prefix, self._read = self._read, len(self.tokens)
        self.text += added
        return added


def token_offsets(tokenizer: Any, token_ids: Sequence[int]) -> list[int]:
    """Where each token's text starts in the decoded text (as streaming sees it)."""
    detok = IncrementalDetokenizer(tokenizer)
    for token in token_ids:
        detok.push(token)
    return detok.offsets


def releasable(text: str, stops: Sequence[str]) -> int:
    """How many leading characters of `text`, the text of an unfinished completion so far, can be
    streamed now without ever being retracted.

    Holds back the longest tail of `text` that is the start of a stop sequence (at most the longest
    stop's length - 1 characters), and everything from a stop sequence already complete in `text`
    (the sampler ends the completion there, excluding the stop). Without stops: all of it.
    """
    if not stops:
        return len(text)
    found = find_stop(text, stops)
    limit = found[0] if found is not None else len(text)
    longest = max(len(s) for s in stops)
    for start in range(max(0, len(text) - longest + 1), limit):
        tail = text[start:]
        if any(s.startswith(tail) for s in stops):
            return start  # a longer stop may still complete here, before the one found
    return limit
