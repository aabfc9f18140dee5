"""Byte-level facts about untrusted source that need no C++ lexer: a strict canonical include block,
and whether a stretch of text can hold any preprocessor directive or pragma at all.

Both answers are deliberately conservative, so that no spelling trick can make them disagree with
GCC in the dangerous direction:
  * `leading_block` accepts only lines of an exact canonical form (blank, `#include <name>`, a `//`
    comment, or a `/* ... */` comment on lines of its own, the comments without backslashes,
    trigraphs, carriage returns or NULs, so that they end where they seem to, and the competitive
    programmer's `#pragma GCC optimize("O3")`/`target("avx2")` with options that keep floating-point
    semantics), so every accepted line means to GCC exactly what it looks like; anything else ends
    the block. A shorter block only costs speed (no precompiled header), never a different verdict.
  * `tampers_then_includes` answers True when the code after the block may set a macro or a pragma
    and later include a header: the header would be compiled under them. A line that is exactly
    `#undef NDEBUG` does not count: it can only put assert.h back the way the verifier builds it.
  * `may_name_mangled_symbol` answers False only when no identifier can start with `_Z`.
  * `may_hold_directives` answers False only when the text, with every possible line splice
    joined, contains no `#`, no `%:` digraph, no `??=` trigraph and no `_Pragma`: then GCC can find
    no directive and no pragma in it, whatever else it holds. Any doubt answers True.
  * `may_hold_linemarker` answers False only when no `#` (in any spelling) is followed, past blanks
    and block comments on its line, by a number: GCC reads a GNU linemarker (`# 1 "x" 3`) only there.
  * `may_name_file` answers False only when GCC can read no `#line` that names a file: every `#`
    (in any spelling) followed, past blanks and block comments, by `line`, with and without line
    splices joined, is on a line of exactly `#line <digits>` (which can only keep the file's name,
    or, spliced into another line or inside a literal, be no directive at all).
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
_PRAGMA_LINE = re.compile(r"[ \t]*#[ \t]*pragma[ \t]+GCC[ \t]+(optimize|target)[ \t]*\(([^()\\\n]*)\)[ \t]*\n")
_PRAGMA_ARGUMENT = re.compile(r'[ \t]*"([A-Za-z0-9.,=+ -]*)"[ \t]*(?:,|$)')
# Options that change speed or instruction choice, never what the code computes (no fast-math).
_SAFE_OPTIONS = {
    "optimize": re.compile(
        r"-?(?:O[0-3sg]?|unroll-loops|unroll-all-loops|inline|inline-functions|tree-vectorize|peel-loops"
        r"|omit-frame-pointer)"
    ),
    "target": re.compile(
        r"avx[0-9a-z]*|sse[0-9.]*|ssse3|popcnt|lzcnt|bmi2?|fma|f16c|mmx|movbe|aes|pclmul|(?:tune|arch)=native"
    ),
}
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
    items: tuple[str, ...]  # every directive of the block as GCC must see it: includes and pragmas
    lines: tuple[int, ...]  # the 1-based line of each item
    end: int  # offset just past the block's last line


def _safe_pragma(kind: str, arguments: str) -> bool:
    options = [o.strip() for m in _PRAGMA_ARGUMENT.finditer(arguments) for o in m.group(1).split(",")]
    joined = ",".join(f'"{m.group(1)}"' for m in _PRAGMA_ARGUMENT.finditer(arguments))
    if not options or joined.replace(" ", "") != arguments.replace(" ", "").replace("\t", ""):
        return False
    return all(_SAFE_OPTIONS[kind].fullmatch(o) for o in options)


def leading_block(code: str) -> LeadingBlock:
    """The canonical run of includes, safe pragmas, blank lines and simple comments that starts `code`."""
    headers: list[str] = []
    items: list[str] = []
    lines: list[int] = []
    pos = 0
    line = 1
    end = 0
    while pos < len(code):
        m = _INCLUDE_LINE.match(code, pos)
        pragma = _PRAGMA_LINE.match(code, pos) if m is None else None
        if m is not None:
            headers.append(m.group(1))
            items.append(f"#include <{m.group(1)}>")
            lines.append(line)
        elif pragma is not None and _safe_pragma(pragma.group(1), pragma.group(2)):
            m = pragma
            items.append(f"#pragma GCC {pragma.group(1)}({pragma.group(2).strip()})")
            lines.append(line)
        elif (m := _COMMENT_LINE.match(code, pos) or _BLANK_LINE.match(code, pos)) is None:
            m = _BLOCK_COMMENT.match(code, pos)
            if m is None:
                break
        line += code.count("\n", pos, m.end())
        pos = m.end()
        if headers:
            end = pos
    if not headers:
        return LeadingBlock((), (), (), 0)
    return LeadingBlock(tuple(headers), tuple(items), tuple(lines), end)


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


def _directive(names: str) -> re.Pattern[str]:
    """`#` in any spelling, then blanks and block comments, then one of `names`: how GCC reads one."""
    return re.compile(rf"(?:#|%:|\?\?=)[ \t\f\v\x00]*(?:/\*.*?\*/[ \t\f\v\x00]*)*(?:{names})", re.DOTALL)


_INCLUDE_DIRECTIVE = _directive("include|import")
_LINE_DIRECTIVE = _directive("line")
_LINE_NUMBER_ONLY = re.compile(r"^[ \t]*#[ \t]*line[ \t]+[0-9]+[ \t]*$", re.MULTILINE)
_TAMPER_DIRECTIVE = _directive("define|undef|pragma")
# `#undef NDEBUG` alone on its line, the test suites' idiom before `#include <assert.h>`: it only
# returns assert.h (the one standard header that reads NDEBUG) to the verifier's own default.
_UNDEF_NDEBUG_LINE = re.compile(r"^[ \t]*#[ \t]*undef[ \t]+NDEBUG[ \t]*$", re.MULTILINE)


def tampers_then_includes(text: str) -> bool:
    """True when `text` may set a macro or pragma and then include a header, the way GCC would read
    its directives. Every directive GCC can find is among the matches here (the matches are a
    superset, spliced lines joined), and GCC reads them in text order: so when the first possible
    tampering comes after the last possible include, no header can have been read under it."""
    joined = _UNDEF_NDEBUG_LINE.sub("", _SPLICE.sub("", text))
    starts = [m.start() for m in _TAMPER_DIRECTIVE.finditer(joined)]
    pragma = joined.find("_Pragma")
    if pragma >= 0:
        starts.append(pragma)
    includes = [m.start() for m in _INCLUDE_DIRECTIVE.finditer(joined)]
    return bool(starts) and bool(includes) and min(starts) < max(includes)


# An identifier that starts `_Z` (reserved): spelled in source, it names a C++ symbol directly, an
# `extern "C"` function named like a library function's mangled symbol, say.
_MANGLED_IDENTIFIER = re.compile(r"(?<![A-Za-z0-9_$])_Z")


def may_name_mangled_symbol(text: str) -> bool:
    """False only when no identifier in `text`, spliced lines joined, can start with `_Z` (a match
    inside a comment or string only costs a refusal of text no solution needs)."""
    return bool(_MANGLED_IDENTIFIER.search(text) or _MANGLED_IDENTIFIER.search(_SPLICE.sub("", text)))


def may_name_file(text: str) -> bool:
    """False only when GCC can read no `#line` naming a file in `text` (see the module docstring)."""
    rest = _LINE_NUMBER_ONLY.sub("", text)
    return any(_LINE_DIRECTIVE.search(t) for t in (rest, _SPLICE.sub("", rest)))
