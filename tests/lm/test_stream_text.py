"""Streaming text (services/lm/stream_text.py): the stop hold-back and incremental detokenization."""

from __future__ import annotations

import random

import pytest

from services.lm.model import LoadedModel
from services.lm.prompts import trim_at_stop
from services.lm.stream_text import IncrementalDetokenizer, releasable, token_offsets


@pytest.mark.parametrize(
    ("text", "stops", "expected"),
    [
        ("int x = 1", (), 9),  # no stops: everything
        ("int x = 1", (";",), 9),  # no tail starts a stop
        ("return a\n", ("\n}",), 8),  # "\n" may become "\n}": held
        ("return a\n ", ("\n}",), 10),  # "\n " can no longer: released
        ("a;\n", (";\n}",), 1),  # ";\n" is the start of ";\n}"
        ("ab", ("abc",), 0),  # the whole text may be the start of a stop
        ("x }", ("}", "\n}"), 2),  # a complete stop: up to it (the sampler cuts there)
        ("a\n}b", ("\n}",), 1),  # a stop inside the text (a sampler that missed it): never past it
        ("aXY", ("XYZ", "Y"), 1),  # "Y" is complete, but "XYZ" may still complete earlier
        ("aXYq", ("XYZ", "Y"), 2),  # now it cannot
        ("", ("\n",), 0),
    ],
)
def test_releasable_holds_back_what_may_start_a_stop(text: str, stops: tuple[str, ...], expected: int) -> None:
    assert releasable(text, stops) == expected


def test_releasable_never_passes_the_cut() -> None:
    """Text grows a few characters a step (a token) until it holds a stop, where it is cut (as the sampler
    does): nothing released on the way is past the cut, and without a stop at most longest - 1 is held."""
    rng = random.Random(0)
    alphabet = "ab;\n}"
    for _ in range(3000):
        stops = tuple({"".join(rng.choice(alphabet) for _ in range(rng.randint(1, 3))) for _ in range(2)})
        text, released = "", []
        for _ in range(rng.randint(0, 8)):
            text += "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 3)))
            if any(s in text for s in stops):
                break
            released.append(releasable(text, stops))
            assert released[-1] >= len(text) - max(len(s) for s in stops) + 1
        kept, _ = trim_at_stop(text, stops)
        assert all(r <= len(kept) for r in released), (text, stops, released)
        assert released == sorted(released)  # never takes back


def test_incremental_text_is_the_full_decode(tiny_model: LoadedModel) -> None:
    """Token by token, the text equals decoding everything at once (utf-8 split across byte tokens too)."""
    tok = tiny_model.tokenizer
    text = "int f(int a) {\n  return a * 2; // double\n}\n// ünïcödé → ✓ 𝔘\n"
    ids = tok(text, add_special_tokens=False)["input_ids"]
    detok = IncrementalDetokenizer(tok)
    for i, token in enumerate(ids):
        detok.push(token)
        full = tok.decode(ids[: i + 1], skip_special_tokens=True)
        assert full.startswith(detok.text)
        assert len(full) - len(detok.text) <= 1  # at most one incomplete character held
    assert detok.text == text == tok.decode(ids)
    offsets = token_offsets(tok, ids)
    assert offsets[0] == 0 and offsets == sorted(offsets) and len(offsets) == len(ids)
    ascii_ids = tok("int f(int a) {", add_special_tokens=False)["input_ids"]
    starts = token_offsets(tok, ascii_ids)
    assert [len(tok.decode(ascii_ids[:i])) for i in range(len(ascii_ids))] == starts
