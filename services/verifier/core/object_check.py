"""Refuse, from the compiled object's own tables (`readelf -W -s -S`), what no solution needs.

Symbols (local ones included: a file-local function under a runtime name binds calls in its TU):
  * a definition of a C/C++ runtime function (`__assert_fail`, `exit`, `puts`, ...) or of a
    reserved name at global scope: interposing the runtime is how a run's verdict would be faked;
  * an IFUNC: its resolver runs while the loader relocates, before the runner's first line;
  * a reference to the runner's own symbols (`__wrap_*`, `__real_*`, `cppforge*` other than the
    run's own aliases) or to primitives that forge control flow or read code and frames: setjmp
    and longjmp, ucontext, raw syscall(), mprotect and protection keys, the dynamic loader's
    lookups, backtraces and the unwinder's IP accessors.
Overloads that would change what the test's own expressions mean are overload_check.py's.
Sections: code outside `.text*`, `.preinit_array` (runs before the runner reads its nonce), the
priority forms `.init_array.N`/`.fini_array.N`, `.ctors`/`.dtors`, `.init`/`.fini`.
These apply to the whole TU, so trusted test code cannot use them either.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Collection
from functools import lru_cache
from pathlib import Path

_OPERATOR_NEW_DELETE = re.compile(r"^_Z(?:nw|na|dl|da)")
# A global-namespace function whose name is reserved (`__x` or `_X`): `_Z13__assert_failPKc...`.
_MANGLED_RESERVED = re.compile(r"^_Z\d+(?:__|_[A-Z])")
_SYMBOL_ROW = re.compile(r"^\s*\d+:\s+[0-9a-f]+\s+\S+\s+(\w+)\s+(\w+)\s+\w+(?:\s+\[[^\]]*\])?\s+(\S+)\s+(\S+)\s*$")
_SECTION_ROW = re.compile(r"^\s*\[\s*\d+\]\s+(\S+)\s+(\S+)\s+[0-9a-f]+\s+[0-9a-f]+\s+[0-9a-f]+\s+[0-9a-f]+\s*(\S*)")
FORBIDDEN_REFERENCES = frozenset(
    {
        "setjmp", "_setjmp", "__sigsetjmp", "sigsetjmp", "longjmp", "_longjmp", "siglongjmp", "__longjmp_chk",
        "getcontext", "setcontext", "makecontext", "swapcontext", "syscall", "mprotect", "pkey_mprotect",
        "pkey_set", "pkey_alloc", "dlopen", "dlmopen", "dlsym", "dlvsym", "dladdr", "dladdr1", "dlinfo",
        "dl_iterate_phdr", "backtrace", "backtrace_symbols", "backtrace_symbols_fd", "_Unwind_Backtrace",
        "_Unwind_GetIP", "_Unwind_GetIPInfo", "_Unwind_SetIP", "_Unwind_GetCFA", "_Unwind_ForcedUnwind",
        "_Unwind_FindEnclosingFunction", "ptrace", "process_vm_readv", "process_vm_writev",
    }
)  # fmt: skip
_SANITIZER_SECTIONS = re.compile(r"^\.(?:init|fini)_array\.\d+$")
_FORBIDDEN_SECTIONS = re.compile(r"^\.(?:preinit_array.*|init_array\..+|fini_array\..+|ctors.*|dtors.*|init|fini)$")


def _library_paths() -> list[str]:
    paths = []
    for name in ("libc.so.6", "libm.so.6", "libstdc++.so.6", "libgcc_s.so.1"):
        out = subprocess.run(["g++", f"-print-file-name={name}"], capture_output=True, text=True, check=False)
        path = out.stdout.strip()
        if path and Path(path).is_absolute() and Path(path).exists():
            paths.append(str(Path(path).resolve()))
    return paths


@lru_cache(maxsize=1)
def runtime_symbols() -> frozenset[str]:
    """Every dynamic symbol exported by the C/C++ runtime libraries programs link against."""
    nm = shutil.which("nm") or "nm"
    names: set[str] = set()
    for lib in _library_paths():
        out = subprocess.run([nm, "-D", "--defined-only", "-P", lib], capture_output=True, text=True, check=False)
        for line in out.stdout.splitlines():
            name = line.split(" ", 1)[0].split("@", 1)[0]
            if name:
                names.add(name)
    return frozenset(names)


def _defined_refusal(name: str, kind: str, bind: str) -> str | None:
    runtime = runtime_symbols()
    if name == "main":
        return None
    if name.startswith("cppforge"):
        return f"defines {name}, reserved for the verifier"
    if not name.startswith("_Z"):
        if name in runtime and kind in ("FUNC", "IFUNC", "NOTYPE"):
            return f"defines {name}, a function of the C/C++ runtime"
        if bind != "LOCAL" and (name.startswith("__") or re.match(r"^_[A-Z]", name)):
            return f"defines {name}, a name reserved for the implementation"
        return None
    if bind != "LOCAL" and _MANGLED_RESERVED.match(name):
        return f"defines {name}, a name reserved for the implementation"
    # A weak function under a runtime name can be the headers' own template instance
    # (overload_check tells those apart); anything else under that name replaces the library's.
    interposes = bind != "WEAK" and kind != "NOTYPE" and not (bind == "GLOBAL" and _OPERATOR_NEW_DELETE.match(name))
    if interposes and name in runtime:
        return f"defines {name}, a function of the C/C++ runtime"
    return None


def _reference_refusal(name: str, allowed: Collection[str]) -> str | None:
    if name in allowed:
        return None
    if name.startswith(("__wrap_", "__real_", "cppforge")):
        return f"refers to {name}, which belongs to the verifier's runner"
    if name in FORBIDDEN_REFERENCES:
        return f"calls {name}, which no solution needs (it can forge control flow or read code)"
    return None


def refusals(readelf_output: str, allowed_references: Collection[str] = (), sanitized: bool = False) -> list[str]:
    """Reasons to refuse the object, from `readelf -W -s -S` of it; empty when it may run.
    `sanitized`: a sanitizer build, whose instrumentation adds prioritised constructors of its own
    (such a build feeds only the shaped reward's sanitizer finding, never test credit)."""
    found: list[str] = []
    for line in readelf_output.splitlines():
        sym = _SYMBOL_ROW.match(line)
        if sym is not None:
            kind, bind, ndx, name = sym.groups()
            if kind == "IFUNC":
                found.append(f"defines the ifunc {name}, whose resolver would run before the verifier's runner")
            elif ndx == "UND":
                reason = _reference_refusal(name, allowed_references)
                if reason:
                    found.append(reason)
            elif kind not in ("SECTION", "FILE"):
                reason = _defined_refusal(name, kind, bind)
                if reason:
                    found.append(reason)
            continue
        sec = _SECTION_ROW.match(line)
        if sec is not None:
            name, _, flags = sec.groups()
            if _FORBIDDEN_SECTIONS.match(name) and not (sanitized and _SANITIZER_SECTIONS.match(name)):
                found.append(f"has a {name} section (start-up code or ordering no solution needs)")
            elif "X" in flags and not (name == ".text" or name.startswith(".text.")):
                found.append(f"puts code in the section {name}")
    return list(dict.fromkeys(found))
