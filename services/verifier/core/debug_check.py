"""GCC's debug information says which functions the candidate's own source defines.

The symbol table (overload_check) sees only functions that keep a symbol: an inline one that every
call inlined leaves none at -O1 and above, and an explicit specialisation of a library template
(`template <> inline bool std::operator==<char, ...>(...)`) has exactly the symbol the library's
own instance would have. The compile therefore always writes `-g1` debug information (function
names, declaring file and line; no types or locals), and GCC records there every function it
emitted or inlined, with the file its definition was written in. Whatever the candidate's code
defines is in `solution.cpp` (the harness's `#line`; a `#line` naming another file is refused by
the macro guard), whether it got there through a macro, a namespace opened under a system header's
macro, a qualified specialisation or an inlined call. Refused, when written in `solution.cpp`:
  * a function in a library namespace (`std::`, `__gnu_cxx::`, ...) whose name holds none of the
    candidate's own types: the library's behaviour is the library's (a `std::hash` specialisation,
    which can change no comparison, stays allowed, as does `std::less<Point>::operator()`);
  * what overload_check refuses of a symbol (comparison operators for library types only, overloads
    of the test's helpers), now also when inlined.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .harness import CANDIDATE_FILE
from .overload_check import LIBRARY_NAMESPACES, Function, owned, parse_demangled

_C_NAME = re.compile(r"^[A-Za-z_$][\w$]*$")
# Always last on the compile line: no request flag can lower it (request -g flags raise it only).
DEBUG_FLAGS = ("-g1",)
# One `readelf -W --debug-dump=info,line` of the object, as is and through c++filt (see split_dump).
DWARF_DUMP_NAME = "solution.dwarf"
DWARF_DEMANGLED_NAME = "solution.dwarf.cxx"
LINE_DUMP_HEADING = "Raw dump of debug contents of section .debug_line:"
_INFO_DUMP_HEADING = "Contents of the .debug_info section:"

_DIE_START = re.compile(r"^ <\d+><([0-9a-f]+)>: Abbrev Number: \d+ \((\w+)\)", re.MULTILINE)
_ATTRIBUTE = re.compile(r"^\s+<[0-9a-f]+>\s+(DW_AT_\w+)\s*:\s*(.*)$", re.MULTILINE)
# readelf shows a string attribute as `(strp) (offset: 0x..): text` or `(string) text`.
_STRING_VALUE = re.compile(r"^(?:\((?:[a-z_]+)\)\s+)?(?:\((?:indirect [a-z ]+, )?offset: 0x[0-9a-f]+\):\s*)?(.*)$")
# A file-table row: `  5	(udata)	0	(line_strp)	(offset: 0xaa): solution.cpp` (DWARF 5) or
# `  5	0	0	0	solution.cpp` (DWARF 4).
_FILE_ROW = re.compile(r"^\s+(\d+)\s+.*?(?:\):\s*|\s)(\S+)\s*$")
# Specialising `std::hash` cannot change what a comparison means, and competitive code does it.
_HARMLESS_LIBRARY_SCOPES = ("std::hash<",)


@dataclass(frozen=True)
class CandidateFunction:
    name: str  # DW_AT_name: unqualified, with template arguments
    linkage: str  # the demangled linkage name ("" for extern "C" functions and main)


def candidate_file_indices(file_table: str) -> frozenset[int]:
    """Indices of the line table's file entries named like the candidate's source: the rows between
    each "The File Name Table" heading and the blank line that ends it."""
    found = set()
    for table in file_table.split("The File Name Table")[1:]:
        for line in table.split("\n\n", 1)[0].splitlines()[1:]:
            m = _FILE_ROW.match(line)
            if m is not None and m.group(2).rsplit("/", 1)[-1] == CANDIDATE_FILE:
                found.add(int(m.group(1)))
    return frozenset(found)


class DumpLayoutError(ValueError):
    """readelf's debug dump is not one .debug_info section followed by one .debug_line section."""


def split_dump(raw: str, demangled: str) -> tuple[str, str]:
    """(the demangled .debug_info dump, the line table's header up to its first `Line Number
    Statements` line) from one `readelf --debug-dump=info,line` and that dump through c++filt:
    exactly the texts `readelf --debug-dump=info | c++filt` and `readelf --debug-dump=line | sed
    '/Line Number Statements/q'` give (readelf writes the two sections one after the other, and
    c++filt rewrites words within a line, never a line break)."""
    at = _line_part(raw)
    # An object without functions has neither section: readelf prints a blank line and a notice.
    info_ok = raw.startswith(_INFO_DUMP_HEADING + "\n") or not raw[: max(at, 0)].strip()
    if at < 0 or not info_ok:
        raise DumpLayoutError(f"unexpected layout of readelf's debug dump: {raw[:120]!r}")
    cut = _line_part(demangled)
    if cut < 0 or demangled.count("\n", 0, cut) != raw.count("\n", 0, at):
        raise DumpLayoutError("c++filt changed the line structure of readelf's debug dump")
    lines = raw[at:]
    mark = lines.find("Line Number Statements")
    end = lines.find("\n", mark) if mark >= 0 else -1
    return demangled[:cut], lines if end < 0 else lines[: end + 1]


_NO_LINE_DATA = "Section '.debug_line' has no debugging data."


def _line_part(text: str) -> int:
    """Where the line table's part of the dump starts (its heading, or readelf's notice that there is
    none), or -1."""
    i = text.find("\n" + LINE_DUMP_HEADING + "\n")
    if i >= 0:
        return i + 1
    return text.find("\n" + _NO_LINE_DATA + "\n")  # (readelf starts that notice with a blank line)


def _string(value: str) -> str:
    m = _STRING_VALUE.match(value.strip())
    return m.group(1).strip() if m else value.strip()


def candidate_functions(debug_info: str, file_table: str) -> list[CandidateFunction]:
    """Every subprogram GCC records as declared in the candidate's source, from
    `readelf -W --debug-dump=info` (through c++filt) and the line table's file names."""
    files = candidate_file_indices(file_table)
    starts = list(_DIE_START.finditer(debug_info))
    out = []
    for i, start in enumerate(starts):
        if start.group(2) != "DW_TAG_subprogram":
            continue
        end = starts[i + 1].start() if i + 1 < len(starts) else len(debug_info)
        attrs = dict(_ATTRIBUTE.findall(debug_info, start.end(), end))
        decl_file = attrs.get("DW_AT_decl_file", "").split()
        if not decl_file or not decl_file[-1].isdigit() or int(decl_file[-1]) not in files:
            continue
        out.append(
            CandidateFunction(_string(attrs.get("DW_AT_name", "")), _string(attrs.get("DW_AT_linkage_name", "")))
        )
    return out


def _names_at(linkage: str, base: str, i: int) -> bool:
    """`base` starts a name at `i`: after `::`, a space or nothing, before `<`, `(` or `[abi:`."""
    after = linkage[i + len(base) : i + len(base) + 1]
    return linkage.startswith(base, i) and after in ("<", "(", "[") and (i == 0 or linkage[i - 1] in ": ")


def _scope(fn: CandidateFunction) -> str | None:
    """The qualified scope (`std::`, `std::hash<Point>::`, `` for the global namespace) from the
    demangled linkage name: what precedes the function's own name (GCC's DW_AT_name without its
    template arguments, which GCC and the demangler may spell differently) at bracket depth 0,
    past a function template's return type. None when the name is not found there."""
    base = fn.name.split("<", 1)[0]
    if not base or not fn.linkage:
        return None
    depth, start, found = 0, 0, None
    for i, c in enumerate(fn.linkage):
        if depth == 0 and _names_at(fn.linkage, base, i):
            found = i
        if c in "<(":
            depth += 1
        elif c in ">)":
            depth -= 1
        elif c == " " and depth == 0 and found is None:
            start = i + 1
    if found is None:
        return None
    return fn.linkage[start:found]


def library_refusals(fns: list[CandidateFunction]) -> list[str]:
    found = []
    for fn in fns:
        scope = _scope(fn)
        if scope is None:
            # Unreadable: judged on the whole name, so doubt refuses rather than passes.
            if any(ns in fn.linkage for ns in LIBRARY_NAMESPACES) and not owned(fn.linkage):
                found.append(f"defines {fn.linkage[:200]}, which names the standard library's namespace")
            continue
        if not scope.startswith(LIBRARY_NAMESPACES) or scope.startswith(_HARMLESS_LIBRARY_SCOPES):
            continue
        if owned(scope + fn.name):
            continue
        found.append(
            f"defines {scope}{fn.name} in the standard library's namespace (a specialisation or an "
            "overload the test's own calls would reach)"
        )
    return found


def as_functions(fns: list[CandidateFunction]) -> list[Function]:
    """The candidate's functions in overload_check's form (bind `DEBUG`: never the library's own)."""
    out = []
    for fn in fns:
        parsed = parse_demangled(fn.linkage) if fn.linkage else None
        if not fn.linkage and _C_NAME.match(fn.name):
            parsed = (fn.name, ())  # extern "C" (or main): no linkage name, still a function of that name
        if parsed is not None:
            out.append(Function("DEBUG", fn.linkage, parsed[0], parsed[1]))
    return out
