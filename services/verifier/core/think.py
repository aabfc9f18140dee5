"""Remove the ``<think>...</think>`` blocks that reasoning models emit before their answer.

The verifier must grade the answer only, so the chain of thought has to go before the code is
extracted and compiled. Two forms are provided, one on text and one on token ids, and both run
the same core routine (:func:`_strip`) so that they cannot drift apart:

1. A block from an opening tag to its matching closing tag is removed, tags included.
2. Tags nest with a depth counter: ``a<think>b<think>c</think>d</think>e`` -> ``ae``.
3. Any number of blocks may occur: ``a<think>x</think>b<think>y</think>c`` -> ``abc``.
4. An opening tag that is never closed drops everything after it (a truncated thought has no answer).
5. A closing tag at depth 0 discards everything output so far, the tag included. Chat templates
   such as DeepSeek-R1's and Qwen3's put the opening ``<think>`` in the *prompt*, so the completion
   starts inside the thought and its first tag is a stray ``</think>``: ``plan</think>int f(){}``
   -> ``int f(){}``. With several stray closing tags the last one wins.
6. Text without tags comes back unchanged; whitespace is left for the caller to handle.

The text form matches the tags exactly (case-sensitive, no attributes) and in a single pass: text
that only becomes a tag once a block in between has been removed (``<thi<think></think>nk>``)
is kept as it is, just as the token form keeps the characters of a tag that was not tokenised as
the special think token.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

THINK_OPEN = "<think>"
THINK_CLOSE = "</think>"

_T = TypeVar("_T")
_TAG_RE = re.compile(f"({re.escape(THINK_OPEN)}|{re.escape(THINK_CLOSE)})")


def _strip(items: Iterable[_T], is_open: Callable[[_T], bool], is_close: Callable[[_T], bool]) -> list[_T]:
    """Keep the items outside think blocks; the rules are those of the module docstring."""
    out: list[_T] = []
    depth = 0
    for item in items:
        if is_open(item):
            depth += 1
        elif is_close(item):
            if depth == 0:
                out.clear()  # rule 5: the completion began inside a thought opened in the prompt
            else:
                depth -= 1
        elif depth == 0:
            out.append(item)
    return out


def strip_think_blocks(text: str) -> str:
    """Return ``text`` without its think blocks."""
    # re.split with a capturing group keeps the tags as items of their own; the text chunks
    # between them can then never equal a tag.
    items = _TAG_RE.split(text)
    return "".join(_strip(items, lambda s: s == THINK_OPEN, lambda s: s == THINK_CLOSE))


def strip_think_token_ids(ids: Sequence[int], think_start_id: int, think_end_id: int) -> list[int]:
    """Return ``ids`` without its think blocks, ``think_start_id``/``think_end_id`` acting as the tags."""
    return _strip(ids, lambda i: i == think_start_id, lambda i: i == think_end_id)
