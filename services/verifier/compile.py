"""Build a candidate inside the sandbox: compile (TU on stdin), then link behind the runner.

Compile: `g++ -std=<std> -Wall -Wextra -fmax-errors=<n> -x c++ - -c` with the TU on stdin, no
/proc and only /dev/null under /dev, so neither `#include __BASE_FILE__`, `/proc/self/fd/0` nor
`/dev/zero` can be read. Link: record the object's exported symbols, rename `main` to
the runner's (`-Wl,--wrap=main`), link behind the verifier's runner object. An object that defines a symbol
of the C/C++ runtime (`exit`, `puts`, `__assert_fail`, ...) or of the runner is refused as a link
error: interposing the runtime is how a candidate would fake a passing run.
"""

from __future__ import annotations

import hashlib
import re
import shlex
import shutil
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from .diagnostics import Diagnostic, ErrorClass, classify_compile_error, parse_diagnostics
from .flags import link_flags
from .sandbox import SandboxLimits, SandboxSpec, run_sandboxed

RUNTIME_DIR = Path(__file__).parent / "runtime"
RUNNER_SOURCE = RUNTIME_DIR / "runner.cpp"
OBJECT_NAME = "solution.o"
PROGRAM_NAME = "prog"
RUNNER_OBJECT_NAME = "cppforge_runner.o"
SYMBOLS_NAME = "solution.syms"


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
    names: set[str] = set()
    for lib in _library_paths():
        out = subprocess.run(["nm", "-D", "--defined-only", "-P", lib], capture_output=True, text=True, check=False)
        for line in out.stdout.splitlines():
            name = line.split(" ", 1)[0].split("@", 1)[0]
            if name:
                names.add(name)
    return frozenset(names)


_OPERATOR_NEW_DELETE = re.compile(r"^_Z(?:nw|na|dl|da)")
# A global-namespace function whose name is reserved (`__x` or `_X`): `_Z13__assert_failPKc...`.
_MANGLED_RESERVED = re.compile(r"^_Z\d+(?:__|_[A-Z])")


def forbidden_symbols(nm_output: str) -> list[str]:
    """Symbols the candidate's object defines that belong to the runtime or the verifier."""
    runtime = runtime_symbols()
    bad: list[str] = []
    for line in nm_output.splitlines():
        parts = line.split()
        if len(parts) < 2:
            continue
        name, kind = parts[0], parts[1]
        if name == "main":
            continue
        strong = kind in ("T", "D", "B", "R", "G", "S", "C")
        if name.startswith("cppforge"):
            bad.append(name)
        elif not name.startswith("_Z"):
            # C linkage: any runtime name, or any reserved identifier, is interposition.
            if name in runtime or name.startswith("__") or re.match(r"^_[A-Z]", name):
                bad.append(name)
        elif _MANGLED_RESERVED.match(name) or (strong and name in runtime and not _OPERATOR_NEW_DELETE.match(name)):
            bad.append(name)
    return bad


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
_SYMBOLS_FAILED = 121
LINK_SEPARATOR = "@@cppforge-link@@"


def compile_base_command(std: str, flags: Sequence[str], max_errors: int) -> list[str]:
    """g++ and every flag that shapes the compile; a PCH must be built with exactly these."""
    cmd = ["g++", f"-std={std}", "-Wall", "-Wextra", f"-fmax-errors={max_errors}"]
    return [*cmd, "-fno-diagnostics-color", "-fdiagnostics-urls=never", *flags]


def build_script(std: str, flags: Sequence[str], link: bool, max_errors: int, pch_header: Path | None = None) -> str:
    """One sandboxed shell script: compile the TU from stdin; when linking, list the object's
    exported symbols, then link it behind the runner with `--wrap=main`."""
    compile_cmd = compile_base_command(std, flags, max_errors)
    if pch_header is not None:
        compile_cmd += ["-include", str(pch_header)]
    compile_cmd += ["-x", "c++", "-", "-c", "-o", OBJECT_NAME]
    lines = [f"{shlex.join(compile_cmd)} || exit {_COMPILE_FAILED}"]
    if link:
        linker = ["-fuse-ld=gold"] if shutil.which("ld.gold") else []
        link_cmd = ["g++", *linker, *link_flags(flags), "-Wl,--wrap=main", RUNNER_OBJECT_NAME, OBJECT_NAME]
        lines += [
            f"nm -P --defined-only --extern-only {OBJECT_NAME} > {SYMBOLS_NAME} || exit {_SYMBOLS_FAILED}",
            f"echo {LINK_SEPARATOR} >&2",
            f"exec {shlex.join([*link_cmd, '-o', PROGRAM_NAME])}",
        ]
    return "\n".join(lines)


def build(
    workdir: Path,
    tu_fd: int,
    std: str,
    flags: Sequence[str],
    link: bool,
    limits: BuildLimits,
    sandboxed: bool,
    cache_root: Path,
    pch_header: Path | None = None,
    remap: Callable[[str], str] | None = None,
) -> BuildOutcome:
    """Compile the TU read from `tu_fd`, and link it when `link`; see the module docstring.
    `pch_header`: a pch.h (with its .gch beside it) holding exactly the code's leading includes;
    `remap` rewrites the compiler's text so that it reads as it would have without the PCH."""
    started = time.monotonic()
    if link:
        shutil.copyfile(runner_object(cache_root), workdir / RUNNER_OBJECT_NAME)
    spec = SandboxSpec(
        argv=["/bin/sh", "-c", build_script(std, flags, link, limits.max_errors, pch_header)],
        workdir=workdir,
        limits=compile_limits(limits),
        ro_binds=(pch_header.parent,) if pch_header is not None else (),
        minimal_dev=True,
        mount_proc=False,
        stdin_fd=tu_fd,
    )
    out = run_sandboxed(spec, sandboxed=sandboxed)
    elapsed = time.monotonic() - started
    text = out.stderr.decode(errors="replace")
    if remap is not None:
        text = remap(text)
    if out.sandbox_error:
        return BuildOutcome(False, False, text, [], ErrorClass.SANDBOX_ERROR, elapsed, out.sandbox_error)
    # The separator is ours only at its last occurrence (candidate text can precede it).
    compile_text, sep, link_text = text.rpartition(LINK_SEPARATOR + "\n")
    if not sep:
        compile_text, link_text = text, ""
    diags = parse_diagnostics(compile_text)
    if out.timed_out:
        return _failed(
            compile_text + link_text,
            elapsed,
            ErrorClass.TIMEOUT_COMPILE,
            diags + parse_diagnostics(link_text),
        )
    if out.returncode == _SYMBOLS_FAILED:
        raise ToolchainError(f"nm failed on the compiled object: {text.strip()[-300:]}")
    if out.returncode == _COMPILE_FAILED or (out.returncode != 0 and not sep):
        cls = ErrorClass.MEMORY if out.memory_exceeded else classify_compile_error(diags, compile_text)
        return _failed(compile_text, elapsed, cls, diags)
    if out.returncode != 0:
        return _failed(compile_text + link_text, elapsed, ErrorClass.LINK, diags + parse_diagnostics(link_text))
    if link:
        refused = _refuse_runtime_symbols(workdir, diags, elapsed, compile_text)
        if refused is not None:
            return refused
    return BuildOutcome(True, link, compile_text, diags, ErrorClass.NONE, elapsed)


def _refuse_runtime_symbols(workdir: Path, diags: list[Diagnostic], elapsed: float, text: str) -> BuildOutcome | None:
    symbols_file = workdir / SYMBOLS_NAME
    bad = forbidden_symbols(symbols_file.read_text(errors="replace") if symbols_file.exists() else "")
    if not bad:
        return None
    names = ", ".join(sorted(set(bad))[:5])
    msg = f"defines {names}, reserved for the C/C++ runtime or the verifier; refusing to run it"
    refusal = Diagnostic(file="solution.cpp", line=None, column=None, severity="error", message=msg)
    return _failed(text + f"cppforge: error: {msg}\n", elapsed, ErrorClass.LINK, [*diags, refusal])
