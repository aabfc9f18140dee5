"""Byte-level facts about untrusted source that need no C++ lexer: a strict canonical include block,
and whether a stretch of text can hold any preprocessor directive or pragma at all.

Both answers are deliberately conservative, so that no spelling trick can make them disagree with
GCC in the dangerous direction:
  * `leading_block` accepts only lines of an exact canonical form (blank, `#include <name>`, a `//`
    comment, or a `/* ... */` comment on lines of its own, the comments without backslashes,
    trigraphs, carriage returns or NULs, so that they end where they seem to), so every accepted line
    means to GCC exactly what it looks like; anything else ends the block. A shorter block only
    costs speed (no precompiled header), never a different verdict.
  * `may_hold_directives` answers False only when the text, with every possible line splice
    joined, contains no `#`, no `%:` digraph, no `??=` trigraph and no `_Pragma`: then GCC can find
    no directive and no pragma in it, whatever else it holds. Any doubt answers True.
  * `may_hold_linemarker` answers False only when no `#` (in any spelling) is followed, past blanks
    and block comments on its line, by a number: GCC reads a GNU linemarker (`# 1 "x" 3`) only there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Angle includes of plain standard/system header names only: no paths, no `..`.
_HEADER_NAME = r"(?:[A-Za-z_][A-Za-z0-9_]*(?:\.h)?|bits/stdc\+\+\.h|sys/[a-z_]+\.h)"
_INCLUDE_LINE = re.compile(rf"[ \t]*#[ \t]*include[ \t]*<({_HEADER_NAME})>[ \t]*\n")
# A `//` comment whose text cannot splice, hide a trigraph or end the line early.
_COMMENT_LINE = re.compile(r"[ \t]*//(?:[^\\\r\n\x00?]|\?(?!\?))*\n")
_BLANK_LINE = re.compile(r"[ \t]*\n")
# A block comment that ends at its first `*/` (nothing inside can splice or hide a trigraph).
_BLOCK_COMMENT = re.compile(r"[ \t]*/\*(?:[^\\\r\x00?*]|\?(?!\?)|\*(?!/))*\*/[ \t]*\n")
# Backslash (or its trigraph) followed by any whitespace: a superset of GCC's line splices.
_SPLICE = re.compile(r"(?:\\|\?\?/)[\s\x00]*")
_DIRECTIVE_MARKS = ("#", "%:", "??=", "_Pragma")


_HASHES = re.compile(r"#|%:|\?\?=")
_BLANKS = frozenset(" \t\f\v\x00")


@dataclass(frozen=True)
class LeadingBlock:
    headers: tuple[str, ...]  # in order, as included
    lines: tuple[int, ...]  # the 1-based line of each include
    end: int  # offset just past the block's last line


def leading_block(code: str) -> LeadingBlock:
    """The canonical run of includes, blank lines and simple comments that starts `code`."""
    headers: list[str] = []
    lines: list[int] = []
    pos = 0
    line = 1
    end = 0
    while pos < len(code):
        m = _INCLUDE_LINE.match(code, pos)
        if m is not None:
            headers.append(m.group(1))
            lines.append(line)
        elif (m := _COMMENT_LINE.match(code, pos) or _BLANK_LINE.match(code, pos)) is None:
            m = _BLOCK_COMMENT.match(code, pos)
            if m is None:
                break
        line += code.count("\n", pos, m.end())
        pos = m.end()
        if headers:
            end = pos
    return LeadingBlock(tuple(headers), tuple(lines), end if headers else 0)


def may_hold_directives(text: str) -> bool:
    """False only when GCC can find no directive and no `_Pragma` in `text` (see the module doc)."""
    joined = _SPLICE.sub("", text)
    return any(mark in text or mark in joined for mark in _DIRECTIVE_MARKS)


def may_hold_linemarker(text: str) -> bool:
    """False only when GCC can read no GNU linemarker in `text` (see the module docstring)."""
    joined = _SPLICE.sub("", text)
    for m in _HASHES.finditer(joined):
        i = m.end()
        while i < len(joined):
            if joined[i] in _BLANKS:
                i += 1
            elif joined.startswith("/*", i):
                end = joined.find("*/", i + 2)
                i = len(joined) if end < 0 else end + 2
            else:
                break
        rest = joined[i : i + 2]
        if rest[:1].isdigit() or (rest[:1] == "." and rest[1:].isdigit()):
            return True
    return False
