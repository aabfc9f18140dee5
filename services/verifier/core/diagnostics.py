"""Parse g++/ld text diagnostics and classify why a build or run failed.

g++'s text format (`file:line:col: severity: message`) is parsed rather than
`-fdiagnostics-format=json`, because the text is also what users and FGO read in `stderr`;
one source for both keeps them from disagreeing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class ErrorClass(StrEnum):  # a str: compares, formats and serialises as its value
    NONE = "none"
    SYNTAX = "syntax"
    TYPE = "type"
    UNDECLARED = "undeclared"
    LINK = "link"
    REFUSED = "refused"  # a construct the verifier does not run (asm, runtime interposition, ...)
    TIMEOUT_COMPILE = "timeout_compile"
    RUNTIME_CRASH = "runtime_crash"
    RUNTIME_TIMEOUT = "runtime_timeout"
    MEMORY = "memory"
    OUTPUT_LIMIT = "output_limit"
    SANDBOX_ERROR = "sandbox_error"


@dataclass(frozen=True)
class Diagnostic:
    file: str
    line: int | None
    column: int | None
    severity: str  # error | warning | note | fatal error
    message: str


_LOCATED = re.compile(
    r"^(?P<file>[^:\n]+?):(?P<line>\d+):(?:(?P<col>\d+):)? (?P<sev>fatal error|error|warning|note): (?P<msg>.*)$"
)
_TOOL = re.compile(
    r"^(?P<file>cc1plus|g\+\+|collect2|[^\s:]*ld(?:\.gold)?): (?P<sev>fatal error|error|warning|note): (?P<msg>.*)$"
)
# ld: "/usr/bin/ld: prog.o: in function `main': solution.cpp:(.text+0x5): undefined reference to `f()'"
_LD_UNDEFINED = re.compile(
    r"^(?P<file>[^\s:]*ld(?:\.gold)?): (?P<msg>.*(?:undefined reference|multiple definition).*)$"
)
# gold and others: "solution.o:<stdin>:function main: error: undefined reference to 'g()'"
_ANY = re.compile(r"^(?P<file>[^:\n]+):.*?(?P<sev>fatal error|error|warning): (?P<msg>.*)$")


def parse_diagnostics(text: str) -> list[Diagnostic]:
    diags: list[Diagnostic] = []
    for line in text.splitlines():
        m = _LOCATED.match(line)
        if m:
            diags.append(
                Diagnostic(
                    file=m.group("file"),
                    line=int(m.group("line")),
                    column=int(m.group("col")) if m.group("col") else None,
                    severity=m.group("sev"),
                    message=m.group("msg").strip(),
                )
            )
            continue
        m = _TOOL.match(line) or _LD_UNDEFINED.match(line) or _ANY.match(line)
        if m:
            sev = m.groupdict().get("sev") or "error"
            diags.append(Diagnostic(m.group("file"), None, None, sev, m.group("msg").strip()))
    return diags


def warning_lines(diags: list[Diagnostic]) -> list[str]:
    return [_render(d) for d in diags if d.severity == "warning"]


def _render(d: Diagnostic) -> str:
    where = d.file
    if d.line is not None:
        where += f":{d.line}"
        if d.column is not None:
            where += f":{d.column}"
    return f"{where}: {d.severity}: {d.message}"


_UNDECLARED = re.compile(
    r"was not declared|has not been declared|undeclared|is not a member of|does not name a type"
    r"|no member named|unknown type name|not declared in this scope|is not a namespace"
    r"|no such member|'[^']*' in namespace '[^']*' does not name"
)
_SYNTAX = re.compile(
    r"^expected|stray '|missing terminating|unterminated|extra tokens|No such file or directory"
    r"|invalid preprocessing directive|#include|#error|macro|unbalanced|before '[^']*' token"
    r"|empty character constant|invalid suffix|#include nested depth"
)
_MEMORY = re.compile(r"memory exhausted|out of memory|cannot allocate memory|std::bad_alloc", re.IGNORECASE)


def classify_compile_error(diags: list[Diagnostic], stderr: str) -> ErrorClass:
    """Class of a failed compile, from its first error (the root cause; later ones cascade)."""
    if _MEMORY.search(stderr):
        return ErrorClass.MEMORY
    first = next((d for d in diags if d.severity in ("error", "fatal error")), None)
    if first is None:
        return ErrorClass.SYNTAX
    msg = first.message
    if _UNDECLARED.search(msg):
        return ErrorClass.UNDECLARED
    if _SYNTAX.search(msg):
        return ErrorClass.SYNTAX
    return ErrorClass.TYPE


_RUNTIME_MEMORY = re.compile(
    r"std::bad_alloc|out of memory|allocator is out of memory|requested allocation size .* exceeds"
    r"|cannot allocate memory|failed to allocate",
    re.IGNORECASE,
)


def looks_like_memory_failure(stderr: str) -> bool:
    return bool(_RUNTIME_MEMORY.search(stderr))
