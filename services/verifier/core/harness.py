"""Build the translation unit the verifier compiles: prelude, candidate code, guard, test code.

One TU, the HumanEval-X convention: candidate code, then trusted test code. Around the candidate:
  * the prelude (before it) poisons the builtins that read return addresses and frames, and turns
    every use of `asm`/`__asm`/`__asm__`, of the attributes that pass strings to the assembler
    (section, alias, weakref, ifunc, symver) and of those that leave no symbol to check
    (always_inline, gnu_inline), and of `consteval`, into a warning tagged `cppforge-refused:`. GCC itself
    finds every use, however it is spelled (splices, token pasting, macros); it stays silent for
    the same names inside real system headers, and compile.py refuses any build that printed one;
  * the guard (after it) undoes what the candidate did to the preprocessor (`restore`, computed by
    macro_guard.py from GCC's own view of the candidate), resets option and packing pragmas, lifts
    the refusal macros, declares the runner's entry points under per-run names, and defines
    `assert` to fail through the runner (a message and an immediate exit, nothing the candidate can
    catch);
  * the test code is rewritten where it reports: a `PASSED` literal passed to printf/fprintf/puts
    goes to the runner with its arguments, one streamed with `<<` becomes a marker object whose
    capture reports the streamed numbers, and `#include "cppforge_test.h"` is inlined.
The runner writes every record with the run's nonce; the candidate's source holds none of it.
Only trusted text (the test code, our own templates) is lexed here.
"""

from __future__ import annotations

import dataclasses
import re
import secrets
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

from .cpp_lexer import Literal, lex

TEST_HEADER_NAME = "cppforge_test.h"
CANDIDATE_FILE = "solution.cpp"
TEST_FILE = "test.cpp"
# The guard's own functions (the stream marker's `Capture::add`) must not count as the candidate's in
# GCC's debug information (debug_check), where they would overload a test's `add`.
GUARD_FILE = "cppforge_guard.h"
REFUSAL_TAG = "cppforge-refused:"
RUNTIME_DIR = Path(__file__).parent / "runtime"
TOKEN_PLACEHOLDER = "CPPFORGE_TOKEN"

# Builtins that hand out return addresses, frames or raw control transfers: no solution needs them.
POISONED_BUILTINS = (
    "__builtin_return_address", "__builtin_frame_address", "__builtin_extract_return_addr",
    "__builtin_frob_return_addr", "__builtin_dwarf_cfa", "__builtin_eh_return", "__builtin_unwind_init",
    "__builtin_apply", "__builtin_apply_args", "__builtin_return", "__builtin_setjmp", "__builtin_longjmp",
)  # fmt: skip
ASM_KEYWORDS = ("asm", "__asm", "__asm__")
# Attributes whose string argument GCC writes into the assembly as it is.
STRING_ATTRIBUTES = ("section", "alias", "weakref", "ifunc", "symver")
# Attributes that make GCC inline a function into every caller, or emit no copy of it, even at -O0:
# the function then leaves no symbol for overload_check and object_check to see.
INLINING_ATTRIBUTES = ("always_inline", "gnu_inline")
# An immediate function is evaluated by the front end at every call and never emitted: no symbol and
# no debug entry, so an overload of the entry point declared `consteval` would escape overload_check.
IMMEDIATE_KEYWORDS = ("consteval",)
_TEST_HEADER_INCLUDE = re.compile(r'^[ \t]*#[ \t]*include[ \t]*[<"]cppforge_test\.h[>"][^\n]*$', re.MULTILINE)
_ASSERT_INCLUDE = re.compile(r"^[ \t]*#[ \t]*include[ \t]*[<\"](?:assert\.h|cassert)[>\"][^\n]*$", re.MULTILINE)


def new_nonce() -> str:
    return secrets.token_hex(16)


def new_token() -> str:
    """The per-run suffix of the runner's entry-point names in the TU."""
    return secrets.token_hex(8)


def reserved_macro_names() -> frozenset[str]:
    """Names the prelude defines or poisons: a candidate that touches one is refused."""
    attributes = {name for a in (*STRING_ATTRIBUTES, *INLINING_ATTRIBUTES) for name in (a, f"__{a}__")}
    return frozenset({*ASM_KEYWORDS, *IMMEDIATE_KEYWORDS, *attributes, *POISONED_BUILTINS})


def _refusal(what: str) -> str:
    return f'_Pragma("GCC warning \\"{REFUSAL_TAG} {what}\\"")'


@lru_cache(maxsize=1)
def prelude() -> str:
    """Trusted text before the candidate's code (see the module docstring)."""
    # glibc's sys/cdefs.h asks `__has_attribute(__always_inline__)` in an #if, where a refusal macro
    # cannot expand: read it (as every libc header would) before those macros exist.
    lines = ["#if __has_include(<features.h>)", "#include <features.h>", "#endif"]
    lines.append("#pragma GCC poison " + " ".join(POISONED_BUILTINS))
    asm = _refusal("inline assembly or an asm label")
    lines += [f"#define {kw} {asm} {kw}" for kw in ASM_KEYWORDS]
    for name in STRING_ATTRIBUTES:
        refusal = _refusal(f"the {name} attribute")
        lines.append(f"#define __{name}__ {refusal} __{name}__")
        lines.append(f"#define {name}(...) {refusal} {name}(__VA_ARGS__)")
    for name in INLINING_ATTRIBUTES:
        refusal = _refusal(f"the {name} attribute")
        lines += [f"#define __{name}__ {refusal} __{name}__", f"#define {name} {refusal} {name}"]
    immediate = _refusal("consteval (an immediate function leaves no symbol to check)")
    lines += [f"#define {kw} {immediate} {kw}" for kw in IMMEDIATE_KEYWORDS]
    return "\n".join(lines) + "\n"


@cache
def _template(name: str) -> str:
    return (RUNTIME_DIR / name).read_text()


def _fill(name: str, token: str) -> str:
    return _template(name).replace(TOKEN_PLACEHOLDER, token)


def runner_aliases(token: str) -> dict[str, str]:
    """TU name -> runner symbol, for the linker's --defsym."""
    return {
        f"cppforge_r_{token}": "cppforge_api_report",
        f"cppforge_f_{token}": "cppforge_api_assert_fail",
        f"cppforge_p_{token}": "cppforge_api_vprintf",
        f"cppforge_q_{token}": "cppforge_api_vfprintf",
        f"cppforge_t_{token}": "cppforge_api_puts",
    }


@dataclass(frozen=True)
class TestNeeds:
    printf_markers: bool = False
    stream_markers: bool = False
    test_header: bool = False


def guard_block(token: str, restore: str, needs: TestNeeds) -> str:
    lift = "".join(f"#undef {name}\n" for name in sorted(reserved_macro_names() - set(POISONED_BUILTINS)))
    text = _fill("guard.h", token).replace("CPPFORGE_RESTORE\n", restore).replace("CPPFORGE_LIFT\n", lift)
    parts = ["\n", text, _fill("assert.h", token)]
    if needs.printf_markers:
        parts.append(_fill("markers_printf.h", token))
    if needs.stream_markers:
        parts.append(_fill("markers_stream.h", token))
    return "".join(parts)


# --------------------------------------------------------------------------- test code rewriting

_IDENT_BEFORE = re.compile(r"([A-Za-z_]\w*)\s*$")
_QUALIFIERS_BEFORE = re.compile(r"(?:(?:\bstd\s*)?::\s*)$")


def _callee_before_paren(cleaned: str, paren: int) -> tuple[str, int] | None:
    """The free function named before `(` at `paren` (with the start of its `std::`/`::`
    qualification); None for a member call or no name."""
    m = _IDENT_BEFORE.search(cleaned, 0, paren)
    if m is None:
        return None
    q = _QUALIFIERS_BEFORE.search(cleaned, 0, m.start())
    start = q.start() if q else m.start()
    before = _prev_nonspace(cleaned, start)
    if before >= 0 and (cleaned[before] == "." or cleaned[before - 1 : before + 1] == "->"):
        return None
    return m.group(1), start


def _prev_nonspace(cleaned: str, pos: int) -> int:
    pos -= 1
    while pos >= 0 and cleaned[pos].isspace():
        pos -= 1
    return pos


def _literal_run(literals: list[Literal], index: int, cleaned: str) -> int:
    """End of the run of adjacent string literals starting at literals[index] (they concatenate)."""
    end = literals[index].end
    for lit in literals[index + 1 :]:
        if cleaned[end : lit.start].strip() != "" or lit.raw:
            break
        end = lit.end
    return end


def rewrite_markers(test_code: str, token: str) -> tuple[str, TestNeeds]:
    """Route every `PASSED` literal of the test to the runner (see the module docstring)."""
    cleaned, literals = lex(test_code)
    edits: list[tuple[int, int, str]] = []
    printf = stream = False
    ns = f"::cppforge_{token}::"
    for i, lit in enumerate(literals):
        if "PASSED" not in test_code[lit.start : lit.end] or lit.raw:
            continue
        if lit.start > 0 and (cleaned[lit.start - 1].isalnum() or cleaned[lit.start - 1] == "_"):
            continue  # a prefixed literal (L"", u8"", ...): not a narrow format
        before = _prev_nonspace(cleaned, lit.start)
        if before >= 1 and cleaned[before - 1 : before + 1] == "<<":
            end = _literal_run(literals, i, cleaned)
            edits += [(lit.start, lit.start, f"{ns}Marker("), (end, end, ")")]
            stream = True
            continue
        if before >= 0 and cleaned[before] == ",":
            stream_arg = _IDENT_BEFORE.search(cleaned, 0, before)
            paren = _prev_nonspace(cleaned, stream_arg.start()) if stream_arg else -1
            if stream_arg is None or stream_arg.group(1) not in ("stdout", "stderr") or cleaned[paren] != "(":
                continue
            callee = _callee_before_paren(cleaned, paren)
            if callee is not None and callee[0] == "fprintf":
                edits.append((callee[1], paren, f"{ns}fprintf_marker"))
                printf = True
            continue
        if before >= 0 and cleaned[before] == "(":
            callee = _callee_before_paren(cleaned, before)
            if callee is not None and callee[0] in ("printf", "puts"):
                edits.append((callee[1], before, f"{ns}{callee[0]}_marker"))
                printf = True
    out = test_code
    for start, end, text in sorted(edits, reverse=True):
        out = out[:start] + text + out[end:]
    return out, TestNeeds(printf_markers=printf, stream_markers=stream)


def rewrite_includes(test_code: str, token: str) -> tuple[str, bool]:
    """Each `#include <assert.h>`/`<cassert>` re-defines assert our way; `cppforge_test.h` is inlined.
    #line directives keep the test's own line numbers."""
    lines = test_code.split("\n")
    out: list[str] = []
    header = False
    for number, line in enumerate(lines, start=1):
        if _ASSERT_INCLUDE.match(line):
            out.append(f'#include <cassert>\n{_fill("assert.h", token)}#line {number + 1} "{TEST_FILE}"')
        elif _TEST_HEADER_INCLUDE.match(line):
            out.append(f'{_fill("test_header.h", token)}#line {number + 1} "{TEST_FILE}"')
            header = True
        else:
            out.append(line)
    return "\n".join(out), header


_DEFINITION_HEAD = re.compile(r"([A-Za-z_]\w*)\s*\($")
_KEYWORDS = frozenset({"if", "for", "while", "switch", "return", "sizeof", "decltype", "catch", "main"})


def _matching_paren(text: str, start: int) -> int:
    depth = 0
    for i in range(start, len(text)):
        depth += {"(": 1, ")": -1}.get(text[i], 0)
        if depth == 0:
            return i
    return -1


_IDENTIFIER = re.compile(r"[A-Za-z_]\w*")


def test_identifiers(test_code: str | None) -> frozenset[str]:
    """Every identifier of the (trusted) test code outside comments and literals: the functions it calls
    or takes the address of (`candidate(...)`, MultiPL-E's `auto candidate = f;`) are among them, for
    overload_check: the candidate may define only one function under such a name."""
    if not test_code:
        return frozenset()
    cleaned, _ = lex(test_code)
    return frozenset(_IDENTIFIER.findall(cleaned))


def test_defined_functions(test_code: str | None) -> dict[str, int]:
    """name -> how many non-template functions of that name the (trusted) test code defines at file
    scope, for overload_check: the candidate may not add another function under such a name."""
    if not test_code:
        return {}
    cleaned, _ = lex(test_code)
    found: dict[str, int] = {}
    templates: set[str] = set()
    depth, statement_start, i = 0, 0, 0
    while i < len(cleaned):
        c = cleaned[i]
        if c in "{}":
            depth += 1 if c == "{" else -1
            statement_start = i + 1
        elif c == ";" and depth == 0:
            statement_start = i + 1
        elif c == "(" and depth == 0:
            m = _DEFINITION_HEAD.search(cleaned, statement_start, i + 1)
            close = _matching_paren(cleaned, i)
            if m is not None and close > 0 and m.group(1) not in _KEYWORDS:
                after = cleaned[close + 1 :].lstrip()
                tail = re.match(r"(?:(?:const|noexcept|override|final)\b\s*|->[^{;]*)*\{", after)
                if tail is not None:
                    if re.search(r"\btemplate\b", cleaned[statement_start : m.start()]):
                        templates.add(m.group(1))
                    else:
                        found[m.group(1)] = found.get(m.group(1), 0) + 1
            i = max(i, close) if close > 0 else i
        i += 1
    return {name: count for name, count in found.items() if name not in templates}


def expects_marker(test_code: str | None) -> bool:
    """Test code that prints `PASSED N/M` itself (a literal) or uses cppforge_test.h: its verdict
    is the marker, and a missing marker is a failure, never a fall-back to the exit status."""
    if not test_code:
        return False
    if _TEST_HEADER_INCLUDE.search(test_code):
        return True
    _, literals = lex(test_code)
    return any("PASSED" in test_code[lit.start : lit.end] for lit in literals)


def build_translation_unit(code: str, test_code: str | None, token: str, restore: str = "") -> str:
    """The whole TU, fed to g++ on stdin (there is no file on disk to self-#include). `restore` is
    the guard's preprocessor repair (macro_guard.py); empty when the candidate holds no directive."""
    parts = [prelude(), f'#line 1 "{CANDIDATE_FILE}"\n', code, "\n"]
    if test_code is not None and test_code.strip():
        body, needs = rewrite_markers(test_code, token)
        body, header = rewrite_includes(body, token)
        needs = dataclasses.replace(needs, test_header=header)
        parts += [f'#line 1 "{GUARD_FILE}"\n', guard_block(token, restore, needs)]
        parts += [f'#line 1 "{TEST_FILE}"\n', body, "\n"]
    return "".join(parts)


def candidate_prefix(code: str) -> str:
    """What GCC sees up to the end of the candidate's code: the text macro_guard.py preprocesses."""
    return f'{prelude()}#line 1 "{CANDIDATE_FILE}"\n{code}\n'
