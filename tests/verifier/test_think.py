from __future__ import annotations

import re
from collections.abc import Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.verifier.core.think import (
    THINK_CLOSE,
    THINK_OPEN,
    strip_think_blocks,
    strip_think_token_ids,
)

OPEN_ID = 1
CLOSE_ID = 2
_OFFSET = 100  # text characters are encoded as ord(c) + 100, so never 1 or 2


def encode(items: Sequence[str]) -> list[int]:
    """Render items as token ids: a tag is one id, a text chunk is one id per character."""
    ids: list[int] = []
    for item in items:
        if item == THINK_OPEN:
            ids.append(OPEN_ID)
        elif item == THINK_CLOSE:
            ids.append(CLOSE_ID)
        else:
            ids.extend(ord(c) + _OFFSET for c in item)
    return ids


def encode_text(text: str) -> list[int]:
    return [ord(c) + _OFFSET for c in text]


def split_tags(text: str) -> list[str]:
    """Independent re-tokenisation of text into tags and non-empty text chunks."""
    return [s for s in re.split(f"({re.escape(THINK_OPEN)}|{re.escape(THINK_CLOSE)})", text) if s]


def is_subsequence(small: Sequence[object], big: Sequence[object]) -> bool:
    it = iter(big)
    return all(any(x == y for y in it) for x in small)


# (input, expected) pairs, one group per rule of the module docstring.
CASES = [
    # rule 1: a block is removed with its tags
    ("a<think>b</think>c", "ac"),
    ("<think>reasoning</think>answer", "answer"),
    ("answer<think>afterthought</think>", "answer"),
    # rule 2: nesting
    ("a<think>b<think>c</think>d</think>e", "ae"),
    ("<think><think><think>x</think></think></think>y", "y"),
    ("a<think><think></think>b</think>c", "ac"),
    # rule 3: repeated blocks
    ("a<think>x</think>b<think>y</think>c", "abc"),
    ("<think></think><think></think>", ""),
    ("<think>x</think><think>y</think>z", "z"),
    # rule 4: unterminated
    ("a<think>b", "a"),
    ("a<think>b<think>c</think>d", "a"),
    ("answer<think>", "answer"),
    ("<think>", ""),
    ("<think>never closed", ""),
    ("a<think>x</think>b<think>", "ab"),
    # rule 5: stray closing tag at depth 0
    ("plan</think>int f(){}", "int f(){}"),
    ("a</think>b</think>c", "c"),
    ("</think>", ""),
    ("</think>answer", "answer"),
    ("answer</think>", ""),
    ("</think></think>", ""),
    ("plan</think>a<think>x</think>b", "ab"),
    ("a<think>b</think>c</think>d", "d"),
    ("plan</think>a<think>unterminated", "a"),
    # rule 6: identity, whitespace kept
    ("", ""),
    ("int main() { return 0; }", "int main() { return 0; }"),
    ("  \n code \n\n", "  \n code \n\n"),
    ("\n<think>x</think>\n\nint f();\n", "\n\n\nint f();\n"),
    # only tags / adjacent tags
    ("<think></think>", ""),
    ("<think></think></think>", ""),
    ("</think><think>", ""),
    ("<think></think>x</think><think>", ""),
    # rule 7: exact, case-sensitive matching, no attributes
    ("<THINK>x</THINK>", "<THINK>x</THINK>"),
    ("<Think>x</Think>", "<Think>x</Think>"),
    ('<think mode="deep">x</think>y', "y"),  # the opening is not a tag; the closing is a stray one
    ("<think >x", "<think >x"),
    ("< think>x</ think>", "< think>x</ think>"),
    ("<thinking>x</thinking>", "<thinking>x</thinking>"),
    ("<think/>x", "<think/>x"),
    ("<<think>>", "<"),
    ("<</think>>", ">"),
]


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_strip_think_blocks_examples(text: str, expected: str) -> None:
    assert strip_think_blocks(text) == expected


# The same cases for token ids: tags map to 1/2, other characters to ord(c) + 100.
ID_CASES = [
    ([], []),
    ([OPEN_ID], []),
    ([CLOSE_ID], []),
    ([10, OPEN_ID, 11, CLOSE_ID, 12], [10, 12]),
    ([10, OPEN_ID, 11, OPEN_ID, 12, CLOSE_ID, 13, CLOSE_ID, 14], [10, 14]),
    ([10, OPEN_ID, 11, CLOSE_ID, 12, OPEN_ID, 13, CLOSE_ID, 14], [10, 12, 14]),
    ([10, OPEN_ID, 11], [10]),
    ([10, OPEN_ID, 11, OPEN_ID, 12, CLOSE_ID, 13], [10]),
    ([10, CLOSE_ID, 11], [11]),
    ([10, CLOSE_ID, 11, CLOSE_ID, 12], [12]),
    ([10, 11, 12], [10, 11, 12]),
    ([OPEN_ID, CLOSE_ID, OPEN_ID, CLOSE_ID], []),
    ([10, OPEN_ID], [10]),
]


@pytest.mark.parametrize(("ids", "expected"), ID_CASES)
def test_strip_think_token_ids_examples(ids: list[int], expected: list[int]) -> None:
    assert strip_think_token_ids(ids, OPEN_ID, CLOSE_ID) == expected


def test_token_ids_accept_any_sequence_and_return_a_new_list() -> None:
    ids = (5, 6, 7)
    out = strip_think_token_ids(ids, 1, 2)
    assert out == [5, 6, 7]
    assert isinstance(out, list)
    ids_list = [5, 6, 7]
    assert strip_think_token_ids(ids_list, 1, 2) is not ids_list


def test_token_ids_use_the_given_special_ids() -> None:
    # Realistic ids (Qwen3: <think>=151667, </think>=151668); 1 and 2 are plain text here.
    assert strip_think_token_ids([1, 151667, 2, 151668, 3], 151667, 151668) == [1, 3]
    assert strip_think_token_ids([9, 151668, 1, 2], 151667, 151668) == [1, 2]


@pytest.mark.parametrize(("text", "_expected"), CASES)
def test_example_cases_agree_with_token_ids(text: str, _expected: str) -> None:
    items = split_tags(text)
    assert encode_text(strip_think_blocks(text)) == strip_think_token_ids(encode(items), OPEN_ID, CLOSE_ID)


def test_single_pass_does_not_rejoin_split_tags() -> None:
    # Removing a block can bring the two halves of a tag together; that text was never a tag,
    # so it stays (the token form would likewise keep the characters, not the special id).
    assert strip_think_blocks("<thi<think>x</think>nk>y") == "<think>y"
    assert strip_think_blocks("</thi</think>nk>") == "nk>"


# ---------------------------------------------------------------------------
# properties

ITEMS = st.lists(st.sampled_from([THINK_OPEN, THINK_CLOSE, "a", "b", "\n", "x y"]), max_size=40)


@given(ITEMS)
def test_string_and_token_versions_agree(items: list[str]) -> None:
    text = "".join(items)
    assert encode_text(strip_think_blocks(text)) == strip_think_token_ids(encode(items), OPEN_ID, CLOSE_ID)


@given(ITEMS)
def test_idempotent(items: list[str]) -> None:
    once = strip_think_blocks("".join(items))
    assert strip_think_blocks(once) == once
    ids_once = strip_think_token_ids(encode(items), OPEN_ID, CLOSE_ID)
    assert strip_think_token_ids(ids_once, OPEN_ID, CLOSE_ID) == ids_once


@given(st.text().filter(lambda s: THINK_OPEN not in s and THINK_CLOSE not in s))
def test_identity_without_tags(text: str) -> None:
    assert strip_think_blocks(text) == text


@given(st.lists(st.integers(min_value=3, max_value=10**6)))
def test_token_identity_without_tags(ids: list[int]) -> None:
    assert strip_think_token_ids(ids, OPEN_ID, CLOSE_ID) == ids


@given(ITEMS)
def test_output_contains_no_tag(items: list[str]) -> None:
    out = strip_think_blocks("".join(items))
    assert THINK_OPEN not in out
    assert THINK_CLOSE not in out
    ids = strip_think_token_ids(encode(items), OPEN_ID, CLOSE_ID)
    assert OPEN_ID not in ids
    assert CLOSE_ID not in ids


@given(ITEMS)
def test_output_is_subsequence_of_input(items: list[str]) -> None:
    text = "".join(items)
    assert is_subsequence(strip_think_blocks(text), text)
    ids = encode(items)
    assert is_subsequence(strip_think_token_ids(ids, OPEN_ID, CLOSE_ID), ids)


@given(st.text(alphabet="<>/thinkab \n", max_size=60))
def test_partial_tags_subsequence_and_identity(text: str) -> None:
    # Over an alphabet that makes partial and overlapping tags likely, the output is still a
    # subsequence and the tags that were in the input are gone (the only tags left in the output
    # are ones spliced together from pieces, see test_single_pass_does_not_rejoin_split_tags).
    out = strip_think_blocks(text)
    assert is_subsequence(out, text)
    if THINK_OPEN not in text and THINK_CLOSE not in text:
        assert out == text
