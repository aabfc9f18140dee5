"""Build a candidate inside the sandbox: compile (TU on stdin), check, then link behind the runner.

Compile: `g++ -std=<std> -Wall -Wextra -fmax-errors=<n> -x c++ - -c` with the TU on stdin, no
/proc and only /dev/null under /dev, so neither `#include __BASE_FILE__`, `/proc/self/fd/0` nor
`/dev/zero` can be read. Check: a build whose compiler output carries the prelude's
`cppforge-refused:` warnings, or whose object object_check refuses, is not run (error_class
`refused`). Link: rename `main` to the runner's (`-Wl,--wrap=main`), alias the TU's per-run names of
the runner's entry points (`--defsym`), strip the program and make it unreadable to itself.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shlex
import shutil
import subprocess
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from . import debug_check, object_check, overload_check
from .diagnostics import Diagnostic, ErrorClass, classify_compile_error, parse_diagnostics
from .flags import compile_flags, is_sanitizer_build, library_flags, link_flags
from .harness import REFUSAL_TAG
from .sandbox import SandboxLimits, SandboxSpec, run_sandboxed

RUNTIME_DIR = Path(__file__).parent / "runtime"
RUNNER_SOURCE = RUNTIME_DIR / "runner.cpp"
OBJECT_NAME = "solution.o"
PROGRAM_NAME = "prog"
RUNNER_OBJECT_NAME = "cppforge_runner.o"
ELF_TABLES_NAME = "solution.elf"
DEMANGLED_TABLE_NAME = "solution.elf.cxx"
INSTANCES_ARCHIVE = "instances.a"  # see instances.py


@contextlib.contextmanager
def unlinked_source(workdir: Path, text: str | bytes) -> Iterator[int]:
    """An fd on `text` whose file name is already gone: g++ reads it on stdin, nothing can
    #include it (there is no /proc at compile time to reopen the fd either)."""
    path = workdir / f".src{time.monotonic_ns()}"
    path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    fd = os.open(path, os.O_RDONLY)
    path.unlink()
    try:
        yield fd
    finally:
        os.close(fd)


class ToolchainError(RuntimeError):
    """g++ (or binutils) is missing or broken: an infrastructure failure, never a reward."""


@dataclass(frozen=True)
class BuildLimits:
    timeout_s: float
    memory_bytes: int
    output_cap_bytes: int
    max_errors: int


@dataclass
class BuildOutcome:
    compile_ok: bool
    linked: bool
    output: str  # compiler + linker stderr, capped
    diagnostics: list[Diagnostic] = field(default_factory=list)
    error_class: ErrorClass = ErrorClass.NONE
    compile_s: float = 0.0
    sandbox_error: str | None = None
    # GCC reported code entering a library namespace (a failed compile is not refused for it, but
    # such code can mean something else next to prebuilt instantiations: see instances.py).
    opened_library_namespace: bool = False


@lru_cache(maxsize=1)
def compiler_version() -> str:
    """`g++ --version`'s first line; part of every cache key."""
    gxx = shutil.which("g++")
    if gxx is None:
        raise ToolchainError("g++ is not installed")
    out = subprocess.run([gxx, "--version"], capture_output=True, text=True, timeout=30, check=False)
    if out.returncode != 0:
        raise ToolchainError(f"g++ --version failed: {out.stderr.strip()[:200]}")
    return out.stdout.splitlines()[0].strip()


def runner_object(cache_root: Path) -> Path:
    """The runner's object file, built once per (runner source, compiler) and cached on disk."""
    source = RUNNER_SOURCE.read_bytes()
    key = hashlib.sha256(source + compiler_version().encode()).hexdigest()[:16]
    target = cache_root / "runtime" / key / "runner.o"
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(f".{time.monotonic_ns()}.tmp")
    cmd = ["g++", "-std=c++17", "-O2", "-fPIE", "-c", str(RUNNER_SOURCE), "-o", str(tmp)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    if out.returncode != 0:
        raise ToolchainError(f"building the verifier runner failed: {out.stderr.strip()[:500]}")
    tmp.replace(target)  # atomic: concurrent builders race harmlessly
    return target


def compile_limits(limits: BuildLimits) -> SandboxLimits:
    return SandboxLimits(
        wall_s=limits.timeout_s,
        cpu_s=int(limits.timeout_s) + 1,
        memory_bytes=limits.memory_bytes,
        max_processes=32,
        file_size_bytes=256 << 20,
        open_files=256,
        stack_bytes=64 << 20,
        address_space_bytes=None,
        output_cap_bytes=limits.output_cap_bytes,
        kill_on_output_overflow=False,  # an error flood is drained, not fatal; the deadline bounds it
    )


def _failed(text: str, compile_s: float, cls: ErrorClass, diags: list[Diagnostic]) -> BuildOutcome:
    return BuildOutcome(
        compile_ok=False, linked=False, output=text, diagnostics=diags, error_class=cls, compile_s=compile_s
    )


# Exit codes of the build script that say which stage stopped it.
_COMPILE_FAILED = 120
_TABLES_FAILED = 121
LINK_SEPARATOR = "@@cppforge-link@@"


def compile_base_command(std: str, flags: Sequence[str], max_errors: int) -> list[str]:
    """g++ and every flag that shapes the compile; a PCH must be built with exactly these."""
    cmd = ["g++", f"-std={std}", "-Wall", "-Wextra", f"-fmax-errors={max_errors}"]
    # Static functions stay in the object even when inlined, so object_check sees every one; the
    # debug information (last, so no request flag can lower it) names every function the candidate
    # wrote, inlined ones too (debug_check).
    cmd += ["-fno-diagnostics-color", "-fdiagnostics-urls=never", "-fkeep-static-functions"]
    return [*cmd, *compile_flags(flags), *debug_check.DEBUG_FLAGS]


@dataclass(frozen=True)
class LinkPlan:
    """How the object meets the runner: per-run aliases of the runner's entry points (TU name ->
    runner symbol), and whether the program is stripped and left unreadable to itself (not for
    sanitizer builds, whose reports need the symbols)."""

    aliases: Mapping[str, str] = field(default_factory=dict)
    harden: bool = True


def build_script(
    std: str,
    flags: Sequence[str],
    *,
    link: LinkPlan | None,
    max_errors: int,
    pch_header: Path | None = None,
    instances: Path | None = None,
) -> str:
    """One sandboxed shell script: compile the TU from stdin, dump the object's symbol and section
    tables for object_check; with a link plan, and when the object defines `main` (GCC's own view of
    whether there is a program to run), link it behind the runner with `--wrap=main`. `instances`:
    the dir of the prebuilt instantiations (instances.py) this build links; its pch.h is `pch_header`."""
    compile_cmd = compile_base_command(std, flags, max_errors)
    if pch_header is not None:
        compile_cmd += ["-include", str(pch_header)]

    # GCC names every namespace user code opens (never one inside a system header): see _refusals.
    compile_cmd += ["-Wnamespaces", "-x", "c++", "-", "-c", "-o", OBJECT_NAME]
    dwarf = debug_check.DWARF_DUMP_NAME
    lines = [
        f"{shlex.join(compile_cmd)} || exit {_COMPILE_FAILED}",
        f"readelf -W -s -S {OBJECT_NAME} > {ELF_TABLES_NAME} || exit {_TABLES_FAILED}",
        f"readelf -W -s -C {OBJECT_NAME} > {DEMANGLED_TABLE_NAME} || exit {_TABLES_FAILED}",
        # One dump of both debug sections, demangled whole: debug_check.split_dump takes it apart
        # (fewer processes on every request than one readelf per section plus sed).
        f"readelf -W --debug-dump=info,line {OBJECT_NAME} > {dwarf} || exit {_TABLES_FAILED}",
        f"c++filt < {dwarf} > {debug_check.DWARF_DEMANGLED_NAME} || exit {_TABLES_FAILED}",
    ]
    if link is not None:
        linker = ["-fuse-ld=gold"] if shutil.which("ld.gold") else []
        defsyms = [f"-Wl,--defsym={alias}={target}" for alias, target in sorted(link.aliases.items())]
        hardening = ["-s"] if link.harden else []
        link_cmd = ["g++", *linker, *link_flags(flags), "-Wl,--wrap=main", *defsyms, *hardening]
        archive = [str(instances / INSTANCES_ARCHIVE)] if instances is not None else []
        link_cmd += [RUNNER_OBJECT_NAME, OBJECT_NAME, *archive, *library_flags(flags), "-o", PROGRAM_NAME]
        # A symbol row `... <section index> main`: defined here (an undefined one says UND).
        defines_main = f"grep -Eq '[[:space:]][0-9]+ main$' {ELF_TABLES_NAME}"
        lines += [f"{defines_main} || exit 0", f"echo {LINK_SEPARATOR} >&2", f"{shlex.join(link_cmd)} || exit $?"]
        if link.harden:
            # Executable but not readable: the program cannot read its own code or tables.
            lines.append(f"chmod 0111 {PROGRAM_NAME}")
    return "\n".join(lines)


def build(
    workdir: Path,
    tu_fd: int,
    *,
    std: str,
    flags: Sequence[str],
    link: LinkPlan | None,
    limits: BuildLimits,
    sandboxed: bool,
    cache_root: Path,
    pch_header: Path | None = None,
    instances: Path | None = None,
    remap: Callable[[str], str] | None = None,
    test_functions: Mapping[str, int] | None = None,
    test_names: Collection[str] = frozenset(),
) -> BuildOutcome:
    """Compile the TU read from `tu_fd`, and link it when `link` is given; see the module docstring.
    `test_functions`: the functions the test code defines (overload_check refuses other overloads);
    `test_names`: the identifiers it uses (a name it calls may have one definition only).
    `pch_header`: a pch.h (with its .gch beside it) holding exactly the code's leading includes;
    `remap` rewrites the compiler's text so that it reads as it would have without the PCH."""
    started = time.monotonic()
    if link is not None:
        shutil.copyfile(runner_object(cache_root), workdir / RUNNER_OBJECT_NAME)
    script = build_script(
        std, flags, link=link, max_errors=limits.max_errors, pch_header=pch_header, instances=instances
    )
    spec = SandboxSpec(
        argv=["/bin/sh", "-c", script],
        workdir=workdir,
        limits=compile_limits(limits),
        ro_binds=(pch_header.parent,) if pch_header is not None else (),
        minimal_dev=True,
        stdin_fd=tu_fd,
    )
    out = run_sandboxed(spec, sandboxed=sandboxed)
    elapsed = time.monotonic() - started
    text = out.stderr.decode(errors="replace")
    if remap is not None:
        text = remap(text)
    if out.sandbox_error:
        return BuildOutcome(
            compile_ok=False, linked=False, output=text, error_class=ErrorClass.SANDBOX_ERROR, compile_s=elapsed,
            sandbox_error=out.sandbox_error,
        )  # fmt: skip
    # The separator is ours only at its last occurrence (candidate text can precede it).
    compile_text, sep, link_text = text.rpartition(LINK_SEPARATOR + "\n")
    if not sep:
        compile_text, link_text = text, ""
    compile_text, opened = split_namespace_warnings(compile_text)
    diags = parse_diagnostics(compile_text)
    if out.timed_out:
        return _failed(
            compile_text + link_text,
            elapsed,
            ErrorClass.TIMEOUT_COMPILE,
            diags + parse_diagnostics(link_text),
        )
    if out.returncode == _TABLES_FAILED:
        raise ToolchainError(f"readelf failed on the compiled object: {text.strip()[-300:]}")
    if out.returncode == _COMPILE_FAILED or (out.returncode != 0 and not sep):
        if _POISONED_USE.search(compile_text):
            return refused_outcome(compile_text, elapsed, diags, ["a builtin that reads return addresses or frames"])
        cls = ErrorClass.MEMORY if out.memory_exceeded else classify_compile_error(diags, compile_text)
        failed = _failed(compile_text, elapsed, cls, diags)
        failed.opened_library_namespace = bool(_namespace_refusals(opened))
        return failed
    sanitized = is_sanitizer_build(flags)
    aliases = link.aliases if link is not None else {}
    refused = _namespace_refusals(opened) + _refusals(
        workdir, compile_text, aliases, sanitized, test_functions or {}, test_names
    )
    if refused:
        return refused_outcome(compile_text, elapsed, diags, refused)
    if out.returncode != 0:
        return _failed(compile_text + link_text, elapsed, ErrorClass.LINK, diags + parse_diagnostics(link_text))
    return BuildOutcome(compile_ok=True, linked=bool(sep), output=compile_text, diagnostics=diags, compile_s=elapsed)


def _refusals(
    workdir: Path,
    compile_text: str,
    aliases: Mapping[str, str],
    sanitized: bool,
    test_functions: Mapping[str, int],
    test_names: Collection[str],
) -> list[str]:
    """Why the build is refused: GCC's `cppforge-refused:` warnings (see harness.prelude), then
    the object's own tables (object_check, overload_check)."""
    reasons = [m.group(1).strip() for m in _REFUSAL_WARNING.finditer(compile_text)]
    tables, demangled = workdir / ELF_TABLES_NAME, workdir / DEMANGLED_TABLE_NAME
    if tables.exists() and demangled.exists():
        mangled_text = tables.read_text(errors="replace")
        reasons += object_check.refusals(mangled_text, aliases, sanitized)
        fns = overload_check.functions(mangled_text, demangled.read_text(errors="replace"))
        dump, dump_cxx = workdir / debug_check.DWARF_DUMP_NAME, workdir / debug_check.DWARF_DEMANGLED_NAME
        if dump.exists() and dump_cxx.exists():
            try:
                info, files = debug_check.split_dump(
                    dump.read_text(errors="replace"), dump_cxx.read_text(errors="replace")
                )
            except debug_check.DumpLayoutError as exc:
                raise ToolchainError(str(exc)) from exc
            written = debug_check.candidate_functions(info, files)
            reasons += debug_check.library_refusals(written)
            fns += debug_check.as_functions(written)
        reasons += overload_check.refusals(fns, test_functions, object_check.runtime_symbols(), test_names)
    return list(dict.fromkeys(reasons))


# `solution.cpp:4:11: warning: namespace 'std' entered [-Wnamespaces]` (quotes as the locale has them)
# and the source and caret lines GCC shows under it.
_NAMESPACE_WARNING = re.compile(
    r"^[^\n]*: warning: namespace .(?P<name>[^\n]*?). entered \[-Wnamespaces\]\n(?:[ \t]+[0-9]* *\|[^\n]*\n)*",
    re.MULTILINE,
)


def split_namespace_warnings(compile_text: str) -> tuple[str, list[str]]:
    """The compiler's text without its -Wnamespaces warnings (the verifier's own probe, not the
    candidate's diagnostics), and the namespaces they name."""
    opened = [m.group("name") for m in _NAMESPACE_WARNING.finditer(compile_text)]
    return _NAMESPACE_WARNING.sub("", compile_text), opened


def _namespace_refusals(opened: Sequence[str]) -> list[str]:
    """Code that opens a library namespace can add overloads and templates the test's own calls
    would pick, inlined at any optimisation level; GCC names each namespace user code opens."""
    for name in opened:
        if f"{name}::".startswith(overload_check.LIBRARY_NAMESPACES):
            return [
                f"opens namespace {name} (declarations there change what the test's calls mean; to "
                "specialise a library template, use the qualified form outside it: "
                "`template<> struct std::hash<T> {...};`)"
            ]
    return []


_POISONED_USE = re.compile(r'error: attempt to use poisoned "__builtin_')
_REFUSAL_WARNING = re.compile(rf"warning: {re.escape(REFUSAL_TAG)}\s*(.*)$", re.MULTILINE)


def refused_outcome(text: str, elapsed: float, diags: Sequence[Diagnostic], reasons: Sequence[str]) -> BuildOutcome:
    """A build the verifier will not run: error_class `refused`, reward 0.0, each reason named."""
    shown = "; ".join(reasons[:5])
    msg = f"refused: {shown}"
    refusal = Diagnostic(file="solution.cpp", line=None, column=None, severity="error", message=msg)
    return _failed(text + f"cppforge: error: {msg}\n", elapsed, ErrorClass.REFUSED, [*diags, refusal])
