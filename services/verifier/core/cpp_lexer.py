"""A small C++ lexer for TRUSTED text only: the test code and the verifier's own templates.

It understands `//` and `/* */` comments, string and character literals with encoding prefixes,
raw strings (`R"d(...)d"`) and digit separators (`1'000`); it does not expand macros. The harness
uses it to find the test code's string literals. Untrusted candidate code is never read with it:
what candidate code means is decided by GCC itself (see macro_guard.py and harness.prelude).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_IDENT_START = re.compile(r"[A-Za-z_]")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PP_NUMBER = re.compile(r"\.?[0-9](?:[eEpP][+-]|'[0-9A-Za-z_]|[0-9A-Za-z_.])*")
_STRING_PREFIXES = ("u8", "u", "U", "L")
_RAW_DELIM = re.compile(r'([^()\\\s"]{0,16})\(')


@dataclass(frozen=True)
class Literal:
    start: int  # index of the opening quote (after any prefix)
    end: int  # index one past the closing quote
    raw: bool


def _skip_quoted(text: str, i: int, quote: str) -> int:
    """`text[i]` is the opening quote; returns the index one past the closing one (or EOL)."""
    n = len(text)
    i += 1
    while i < n:
        c = text[i]
        if c == "\\":
            i += 2
            continue
        if c == quote:
            return i + 1
        if c == "\n":  # unterminated: the compiler rejects it; stop at the line end
            return i
        i += 1
    return n


def _skip_raw(text: str, i: int) -> int:
    """`text[i]` is the `"` of a raw string; returns the index one past its end."""
    m = _RAW_DELIM.match(text, i + 1)
    if m is None:
        return _skip_quoted(text, i, '"')
    closing = ")" + m.group(1) + '"'
    end = text.find(closing, m.end())
    return len(text) if end < 0 else end + len(closing)


def lex(text: str) -> tuple[str, list[Literal]]:
    """Return `text` with comments and literal contents blanked (same length, newlines kept)
    and the list of string literals found."""
    out = list(text)
    literals: list[Literal] = []
    n = len(text)
    i = 0

    def blank(a: int, b: int) -> None:
        for k in range(a, b):
            if out[k] != "\n":
                out[k] = " "

    while i < n:
        c = text[i]
        if c == "/" and text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            blank(i, j)
            i = j
        elif c == "/" and text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            blank(i, j)
            i = j
        elif c == '"':
            j = _skip_quoted(text, i, '"')
            literals.append(Literal(i, j, raw=False))
            blank(i + 1, max(i + 1, j - 1))
            i = j
        elif c == "'":
            j = _skip_quoted(text, i, "'")
            blank(i + 1, max(i + 1, j - 1))
            i = j
        elif c.isdigit() or (c == "." and i + 1 < n and text[i + 1].isdigit()):
            m = _PP_NUMBER.match(text, i)
            i = m.end() if m else i + 1
        elif _IDENT_START.match(c):
            m = _IDENT.match(text, i)
            assert m is not None
            word, j = m.group(0), m.end()
            if j < n and text[j] == '"' and word.endswith("R") and word[:-1] in ("", *_STRING_PREFIXES):
                k = _skip_raw(text, j)
                literals.append(Literal(j, k, raw=True))
                blank(j + 1, max(j + 1, k - 1))
                i = k
            elif j < n and text[j] in "\"'" and word in _STRING_PREFIXES:
                k = _skip_quoted(text, j, text[j])
                if text[j] == '"':
                    literals.append(Literal(j, k, raw=False))
                blank(j + 1, max(j + 1, k - 1))
                i = k
            else:
                i = j
        else:
            i += 1
    return "".join(out), literals
