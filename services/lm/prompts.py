"""Prompt encoding and stop handling, written once for every caller (service, benches, trainer).

A prompt is encoded the way training samples begin: `<s>` (when the tokenizer has one) and then
the text's own tokens, never the tokenizer's post-processor, so a tokenizer that adds no BOS or
adds it twice cannot silently shift prompts off the training distribution; a chat the tokenizer's
own template rendered (TemplatedPrompt) is encoded as rendered, adding nothing. Stop sequences end a
completion as in OpenAI's API: the text up to the earliest stop, the stop itself reported apart.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

FUNCTION_STOP = "\n}"  # generated corpus completions end with a `}` in column 0


COMMENT_ROLES = ("system", "developer")  # instructions, not code: comments in a plain code prompt


def plain_chat_prompt(messages: Sequence[Mapping[str, str]]) -> str:
    """A chat as a code prompt, for a tokenizer with no chat template (a code model, not a chat model).

    The last user message is the code to continue; system and developer messages go before it as
    `//` comment lines, in order, which is how a code model reads instructions. A comment line never
    ends in a backslash: C++ would splice the next line (the prompt's first) into the comment.
    No user message: the last other message that is not a comment (else the comments alone).
    """
    users = [m["content"] for m in messages if m["role"] == "user"]
    others = [m["content"] for m in messages if m["role"] not in COMMENT_ROLES]
    prompt = users[-1] if users else (others[-1] if others else "")
    comments: list[str] = []
    for m in messages:
        if m["role"] in COMMENT_ROLES and m["content"].strip():
            for line in m["content"].strip("\n").splitlines():
                line = line.rstrip().rstrip("\\").rstrip()
                comments.append(f"// {line}" if line else "//")
    return "".join(f"{c}\n" for c in comments) + prompt


def encode_texts(tokenizer: Any, texts: Sequence[str], *, eos: bool = False) -> list[list[int]]:
    """Each text as `[<s>] ids [</s>]`: BOS when the tokenizer has one, EOS only when asked (training)."""
    encoded: list[list[int]] = tokenizer(list(texts), add_special_tokens=False)["input_ids"]
    bos, end = tokenizer.bos_token_id, tokenizer.eos_token_id
    head = [bos] if bos is not None else []
    tail = [end] if eos and end is not None else []
    return [[*head, *ids, *tail] for ids in encoded]


class TemplatedPrompt(str):
    """A chat rendered by the tokenizer's chat template. The template writes the special tokens it
    wants (most start with the BOS), so its text is encoded adding none: `[<s>] ids` would give
    [bos, bos, ...] (vLLM encodes a rendered chat with add_special_tokens=False too)."""


def encode_prompt(tokenizer: Any, prompt: str) -> list[int]:
    """The ids a completion continues: `[<s>] ids` (no EOS); a TemplatedPrompt's ids alone."""
    if isinstance(prompt, TemplatedPrompt):
        ids: list[int] = tokenizer(str(prompt), add_special_tokens=False)["input_ids"]
        return ids
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
