"""Refuse declarations that would change what the trusted test code's own expressions mean.

The test is compiled in the candidate's translation unit, so overload resolution in the test sees
every function the candidate defines. From the object's symbol table (its `readelf -W -s` rows,
mangled and demangled, paired by number), a build is refused when it defines:
  * a comparison operator (`==`, `!=`, `<`, `>`, `<=`, `>=`, `<=>`, `!`) outside a class whose
    parameters are all standard-library or built-in types, template or not, in any namespace: such an
    overload can beat the library's own (a non-template, or a more specialised template) and decide
    the test's `assert(f(x) == expected)`. Operators on the candidate's own types stay allowed, as do
    other operators (`<<` to print a vector, `+` on pairs);
  * a non-inline function in a library namespace (`std::...` defined by the candidate);
  * a weak function under a name the C/C++ runtime exports that is not a function template's
    instance (the only kind the headers emit): an `inline` copy would replace the library's own;
  * another function under a name the test code itself defines (its `issame` helper, say): an
    overload with a better conversion would be called instead of the test's;
  * a second function the candidate wrote (static or external, or placed in its source by GCC's debug
    information: a library's own `boost::any_cast` instance does not count) under a name the test code uses but
    does not define (the entry point the test calls): an overload taking `std::initializer_list<int>`
    beats the prompt's `f(std::vector<int>)` for `f({1, 2})`, and one returning a type whose `==` is
    always true passes every assert. An `extern "C"` function counts (its symbol is its bare name), and
    abi tags (`f[abi:x]`) are dropped from every demangled name before any rule reads it.
Only emitted functions leave symbols: static functions always do (the compile keeps them), and an
`inline` one that every call inlined leaves none; debug_check feeds the same rules the functions
GCC's debug information says the candidate wrote, inlined ones included.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Collection, Mapping
from dataclasses import dataclass

_ROW = re.compile(r"^\s*(\d+):\s+[0-9a-f]+\s+\S+\s+(\w+)\s+(\w+)\s+\w+(?:\s+\[[^\]]*\])?\s+(\S+)\s+(.+?)\s*$")
_CLONE = re.compile(r"(?: \[clone [^\]]*\])+$")
# `f[abi:x](int)`: an abi_tag attribute (or a std::string return) puts a tag after the name, which
# would hide it from every rule below that matches names; no tag tells two functions apart.
_ABI_TAG = re.compile(r"\[abi:[^\]]*\]")
# An extern "C" function's symbol is its bare name, with no parameter list to demangle.
_C_NAME = re.compile(r"^[A-Za-z_$][\w$]*$")
_COMPARISON = re.compile(r"operator(<=>|==|!=|<=|>=|<(?!<)|>(?!>)|!(?!=))(\s*<.*>)?$")
LIBRARY_NAMESPACES = ("std::", "__gnu_cxx::", "__gnu_pbds::", "__gnu_debug::", "__cxxabiv1::")


@dataclass(frozen=True)
class Function:
    bind: str  # LOCAL, GLOBAL, WEAK
    mangled: str
    head: str  # the demangled text before the parameter list (return type, qualified name, template args)
    parameters: tuple[str, ...]


def _split_parameters(text: str) -> tuple[str, ...]:
    """Top-level comma split of a demangled parameter list."""
    out, depth, start = [], 0, 0
    for i, c in enumerate(text):
        if c in "<([":
            depth += 1
        elif c in ">)]":
            depth -= 1
        elif c == "," and depth == 0:
            out.append(text[start:i].strip())
            start = i + 1
    out.append(text[start:].strip())
    return tuple(p for p in out if p and p != "void")


def parse_demangled(name: str) -> tuple[str, tuple[str, ...]] | None:
    """(head, parameters) of a demangled function name, or None when it is not one."""
    name = _ABI_TAG.sub("", _CLONE.sub("", name))
    name = re.sub(r"(?:\s+(?:const|volatile|&&|&))+$", "", name)
    if not name.endswith(")"):
        return None
    depth = 0
    for i in range(len(name) - 1, -1, -1):
        if name[i] == ")":
            depth += 1
        elif name[i] == "(":
            depth -= 1
            if depth == 0:
                return name[:i], _split_parameters(name[i + 1 : -1])
    return None


def functions(mangled_table: str, demangled_table: str) -> list[Function]:
    """Defined functions of the object, from `readelf -W -s` and `readelf -W -s -C` of it."""
    demangled = {int(m.group(1)): m.group(5) for m in map(_ROW.match, demangled_table.splitlines()) if m}
    out = []
    for m in map(_ROW.match, mangled_table.splitlines()):
        if m is None or m.group(2) != "FUNC" or m.group(4) == "UND":
            continue
        text = demangled.get(int(m.group(1)), "")
        # extern "C": an overload of the entry point no less than a C++ one (no parameters to show).
        parsed = (text, ()) if _C_NAME.match(text) else parse_demangled(text)
        if parsed is not None:
            out.append(Function(m.group(3), m.group(5), parsed[0], parsed[1]))
    return out


# Words of built-in types as the demangler prints them, and literal template arguments (`3`, `8ul`,
# `true`, `(char)97`, `'a'`): none of them is a type the candidate declared.
_BUILTIN_WORDS = frozenset(
    {
        "void", "bool", "char", "wchar_t", "char8_t", "char16_t", "char32_t", "short", "int", "long", "signed",
        "unsigned", "__int128", "float", "double", "const", "volatile", "decltype", "nullptr", "true", "false",
        "auto", "__float128", "_Float16", "_Float32", "_Float64", "_Float128", "__bf16",
    }
)  # fmt: skip
_LITERAL = re.compile(r"^-?(?:0x[0-9a-fA-F]+|[0-9][0-9a-zA-Z.]*)$|^'.*'$")
# Types the candidate's own code brings into being without naming them: lambdas, unnamed types and
# anything in its anonymous namespace.
_CANDIDATE_INTERNAL = re.compile(r"\{lambda\(|\{unnamed type#|\(anonymous namespace\)")
_TOKEN = re.compile(
    r"::?[A-Za-z_$][\w$]*(?:::[A-Za-z_$~][\w$]*)*|[A-Za-z_$][\w$]*(?:::[A-Za-z_$~][\w$]*)*|'[^']*'|-?[0-9][\w.]*"
)


def owned(parameter: str) -> bool:
    """A type (or a qualified name with template arguments) that involves one the candidate itself
    declared, not the library's, not built in, not a literal: `std::vector<Point>` is the
    candidate's to compare, `std::array<int, 3>` and `std::__equal<true>` are not."""
    if _CANDIDATE_INTERNAL.search(parameter):
        return True
    for m in _TOKEN.finditer(parameter):
        word = m.group(0)
        # `::iterator` after `vector<int>`: a member of the library's template.
        if word.startswith(":") or word in _BUILTIN_WORDS or _LITERAL.match(word):
            continue
        if not word.startswith(LIBRARY_NAMESPACES):
            return True
    return False


def _qualified_name(head: str) -> str:
    """`bool ns::issame<int>` -> `ns::issame` (the last word, template arguments dropped)."""
    while head.endswith(">"):
        depth = 0
        for i in range(len(head) - 1, -1, -1):
            depth += {">": 1, "<": -1}.get(head[i], 0)
            if depth == 0:
                head = head[:i].rstrip()
                break
        else:
            break
    return head.rsplit(" ", 1)[-1]


def _function_name(head: str) -> str:
    """The head without its return type (a template instance's symbol shows one, its debug entry may not)."""
    depth = 0
    for i in range(len(head) - 1, -1, -1):
        depth += {">": 1, "<": -1, ")": 1, "(": -1}.get(head[i], 0)
        if depth == 0 and head[i] == " ":
            return head[i + 1 :]
    return head


def _candidates_own(fn: Function) -> bool:
    """A function the candidate wrote that the test's unqualified call could resolve to: one GCC's debug
    information places in its source (debug_check), or a static or external one outside the library
    namespaces (headers define only inline functions and templates, which are weak: a library's own
    `boost::any_cast` instance counts only if the debug information says the candidate wrote it)."""
    return (fn.bind == "DEBUG" or fn.bind in ("LOCAL", "GLOBAL")) and _candidates_free_function(fn.head)


def _candidates_free_function(head: str) -> bool:
    """Not the library's (`std::vector<int>::vector`, `std::sort<...>`) and not a member of a template's
    instance: a function the test's unqualified call could resolve to (free, or in the candidate's namespace)."""
    name = _function_name(head)
    return not _in_library(name) and ">::" not in name


def _in_library(name: str) -> bool:
    return name.startswith(LIBRARY_NAMESPACES)


_IPA_CLONE = re.compile(r"\.(?:isra|constprop|part|cold|lto_priv|localalias)(?:\.\d+)*$")
_INTERNAL_TYPE = re.compile(r"\{lambda|\{unnamed type|\(anonymous namespace\)")


def _library_own(fn: Function, name: str) -> bool:
    """The library's own instantiations: weak ones, local ones for internal types (a lambda's), and
    local copies the optimiser made of an instance (`.isra.0`, `.constprop.0`, `.part.0`: the
    vector `operator==` at -O2). Whatever the candidate itself wrote in a library namespace is
    refused by where GCC says it was written (debug_check), so its clones need no rule here."""
    if not _in_library(name):
        return False
    if fn.bind == "LOCAL" and _IPA_CLONE.search(fn.mangled):
        return True
    return fn.bind == "WEAK" or (fn.bind == "LOCAL" and any(_INTERNAL_TYPE.search(p) for p in fn.parameters))


def _operator_refusal(fn: Function) -> str | None:
    m = _COMPARISON.search(fn.head)
    if m is None:
        return None
    free_arity = 1 if m.group(1) == "!" else 2  # a member has one parameter fewer (its own object)
    name = _qualified_name(fn.head)
    if len(fn.parameters) != free_arity or _library_own(fn, name):
        return None
    if any(owned(p) for p in fn.parameters):
        return None
    return (
        f"overloads operator{m.group(1)} for standard-library or built-in types only, which would decide "
        "what the test's own comparisons mean"
    )


# A function template's instance: template arguments right before the parameter list (and not the
# `>` of an operator's own name).
_TEMPLATE_INSTANCE = re.compile(r"(?<!operator)(?<!operator-)(?<!operator>)(?<!operator<=)>$")


def _runtime_refusal(fn: Function, runtime: Collection[str]) -> str | None:
    """A weak definition under a name the C/C++ runtime exports replaces the library's own. The
    headers emit such names only as instances of function templates (`_M_construct<char const*>`)
    and as members of class templates' instances: anything else is the candidate's."""
    if fn.bind != "WEAK" or fn.mangled not in runtime or _TEMPLATE_INSTANCE.search(fn.head):
        return None
    # A member of a class template's instance (`basic_string<char, ...>::size() const`, emitted weak
    # at C++20 where it is constexpr): the library's own; a candidate's explicit specialisation of
    # one is refused by where GCC says it was written (debug_check).
    if ">::" in fn.head:
        return None
    return f"defines {fn.mangled}, a function of the C/C++ runtime"


def refusals(
    fns: list[Function],
    test_functions: Mapping[str, int],
    runtime: Collection[str] = frozenset(),
    test_names: Collection[str] = frozenset(),
) -> list[str]:
    """Reasons to refuse (see the module docstring); `test_functions`: name -> how many functions of
    that name the test code defines (harness.test_defined_functions); `runtime`: the names the C/C++
    runtime exports (object_check.runtime_symbols); `test_names`: the identifiers the test code uses
    (harness.test_identifiers)."""
    found: list[str] = []
    signatures: dict[str, set[str]] = defaultdict(set)
    entry_points: dict[str, set[str]] = defaultdict(set)
    for fn in fns:
        for reason in (_operator_refusal(fn), _runtime_refusal(fn, runtime)):
            if reason:
                found.append(reason)
        name = _qualified_name(fn.head)
        if fn.bind == "GLOBAL" and _in_library(name) and not owned(fn.head):
            found.append(f"defines {name}, a function in the standard library's namespace")
        base = name.rsplit("::", 1)[-1]
        if base in test_functions and not _library_own(fn, _function_name(fn.head)):
            # (The library's own `std::vector<int>::size` is no overload of a test helper `size`: the
            # test's unqualified call cannot reach a member, and whether the object holds that weak
            # instance depends on the build, not on the candidate.)
            signatures[base].add(f"{fn.head}({', '.join(fn.parameters)})")
        elif base in test_names and _candidates_own(fn):
            entry_points[base].add(f"{_function_name(fn.head)}({', '.join(fn.parameters)})")
    for base, seen in signatures.items():
        if len(seen) > test_functions[base]:
            found.append(f"declares another {base}, a function the test code defines: it could be called instead")
    for base, seen in entry_points.items():
        if len(seen) > 1:
            found.append(
                f"defines {len(seen)} functions named {base}, which the test code uses: an overload could be "
                "chosen instead of the one the prompt declares (name helpers differently)"
            )
    return list(dict.fromkeys(found))
