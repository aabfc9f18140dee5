"""Undo, before the trusted test code, whatever the candidate's directives did to the preprocessor.

Decided from GCC's own view of the candidate, never from a lexer of ours: when the candidate's code
may hold a directive or a pragma at all (source_shape.may_hold_directives past its canonical
include block), GCC preprocesses the candidate alone, exactly as the compile will see it
(`-E -dD -MD`, same std, flags and precompiled header), and that view gives:
  * every macro name a `#define`/`#undef` touched after the candidate's first line. GCC writes its
    directives at column 0 and puts a space before any `#` a macro expansion produces; a raw string
    literal can still hold a line that looks like a directive, but such lines can only add names,
    and every touched name is treated the same way, so they cost nothing;
  * the headers GCC really opened (the dependency file it writes, not text in the output);
  * every pragma, as a column-0 `#pragma` line (`_Pragma` included);
  * GCC's own warning for a GNU linemarker (`# 1 "x" 3`), which could make the candidate's code a
    "system header" and silence the warnings the prelude uses to refuse asm (asked for only when the
    code may hold one at all: the warning needs -Wpedantic, which costs the precompiled header).
The guard then `#undef`s every touched name and re-defines it as the pristine headers define it,
but only when a header defining it was really opened: so after the guard every macro is either
untouched or pristine, include guards of headers the candidate never opened are gone, and the test
code and any header it includes afresh see the preprocessor as if the candidate had only included
its headers. The pristine definitions come from preprocessing a broad set of standard, POSIX and
GNU headers once per (compiler, std, flags), cached on disk.
Refused: touching a name the prelude reserves, `#pragma redefine_extname` (it renames the C
functions the test calls), `#pragma weak` (an alias, as the refused attribute), an identifier that
starts with `_Z` once macros are expanded (a mangled symbol's name), a `#line` that may name a
file (source_shape.may_name_file: debug_check trusts GCC's record of where each function was
written), diagnostic pragmas aimed at the warnings the verifier relies on (-Wcpp, -Wpedantic,
-Wpragmas, -Wnamespaces), and GNU linemarkers.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import os
import re
import shlex
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .compile import BuildLimits, compile_base_command, compile_limits, compiler_version, unlinked_source
from .harness import CANDIDATE_FILE, candidate_prefix, reserved_macro_names
from .sandbox import NOBODY_UID, SandboxSpec, run_sandboxed
from .source_shape import may_hold_linemarker, may_name_file, may_name_mangled_symbol
from .workdirs import workdir

log = logging.getLogger(__name__)
VIEW_NAME = "candidate.ii"
# GCC's view of one candidate is read whole: past this it is refused, not read.
VIEW_CAP_BYTES = 16 << 20
TOO_LARGE = f"code that preprocesses to more than {VIEW_CAP_BYTES >> 20} MiB"
DEPS_NAME = "candidate.d"
MANGLED_NAME = "an identifier that starts with _Z: it would name a library function's mangled symbol directly"
LINEMARKER_WARNING = "style of line directive is a GCC extension"
_DIRECTIVE = re.compile(r"^#(define|undef) ([^\s(]+)", re.MULTILINE)
_PRAGMA = re.compile(r"^#pragma[ \t]+(.*)$", re.MULTILINE)
_LINEMARKER = re.compile(r'^# \d+ "((?:[^"\\]|\\.)*)"(.*)$')
RENAMED_FILE = "a #line directive that names a file: GCC would record the code that follows as written elsewhere"
_GUARDED_WARNINGS = ("-Wcpp", "-Wpedantic", "-Wpragmas", "-Wnamespaces")

# The headers whose pristine macros the guard can restore; one missing on this machine is skipped.
UNIVERSAL_HEADERS = (
    "bits/stdc++.h", "stdio.h", "stdlib.h", "string.h", "strings.h", "math.h", "ctype.h", "limits.h",
    "float.h", "stdint.h", "inttypes.h", "errno.h", "assert.h", "time.h", "signal.h", "setjmp.h",
    "wchar.h", "wctype.h", "locale.h", "stdarg.h", "stddef.h", "stdbool.h", "fenv.h", "complex.h",
    "unistd.h", "fcntl.h", "sys/types.h", "sys/stat.h", "sys/time.h", "sys/wait.h", "sys/mman.h",
    "sys/resource.h", "sys/select.h", "sys/socket.h", "sys/ioctl.h", "sys/uio.h", "sys/utsname.h",
    "sys/syscall.h", "sys/prctl.h", "poll.h", "pthread.h", "sched.h", "semaphore.h", "dirent.h",
    "dlfcn.h", "termios.h", "libgen.h", "getopt.h", "malloc.h", "alloca.h", "execinfo.h", "ucontext.h",
    "endian.h", "byteswap.h", "search.h", "fnmatch.h", "glob.h", "regex.h", "iconv.h", "langinfo.h",
    "ext/pb_ds/assoc_container.hpp", "ext/pb_ds/tree_policy.hpp", "ext/rope", "x86intrin.h", "arm_neon.h",
)  # fmt: skip


@dataclass(frozen=True)
class PristineMacro:
    definition: str  # the `#define ...` line as GCC's -dM prints it
    files: frozenset[str]  # every header that defines it ("<built-in>"/"<command-line>" included)


@dataclass(frozen=True)
class GuardAnalysis:
    restore: str  # the guard's `#undef`/`#define` lines
    refusal: str | None = None  # why the candidate is refused, if it is
    failed: bool = False  # GCC could not preprocess the candidate (the compile will say why)
    touched: int = 0
    infra_error: str | None = None  # the preprocessing sandbox itself failed


def _normalise(path: str) -> str:
    return os.path.normpath(path)


def _universal_source() -> str:
    return "".join(f"#if __has_include(<{h}>)\n#include <{h}>\n#endif\n" for h in UNIVERSAL_HEADERS)


def _definers(dd_output: str) -> dict[str, set[str]]:
    """name -> headers that #define it, from `-E -dD` of trusted input (linemarkers are GCC's)."""
    current = "<built-in>"
    definers: dict[str, set[str]] = {}
    for line in dd_output.splitlines():
        if line.startswith("# "):
            m = _LINEMARKER.match(line)
            if m is not None:
                current = _normalise(m.group(1)) if m.group(1).startswith("/") else m.group(1)
        elif line.startswith("#define "):
            name = re.split(r"[\s(]", line[8:], maxsplit=1)[0]
            definers.setdefault(name, set()).add(current)
    return definers


class PristineTables:
    """Pristine macro tables per (compiler, std, flags), in memory and on disk."""

    def __init__(self, cache_root: Path, limits: BuildLimits, sandboxed: bool) -> None:
        self.cache_root = cache_root
        self.limits = limits
        self.sandboxed = sandboxed
        self._lock = threading.Lock()
        self._tables: dict[str, dict[str, PristineMacro]] = {}

    def get(self, std: str, flags: Sequence[str]) -> dict[str, PristineMacro]:
        key = hashlib.sha256("\0".join([compiler_version(), std, *flags, *UNIVERSAL_HEADERS]).encode()).hexdigest()
        with self._lock:
            table = self._tables.get(key)
            if table is None:
                table = self._load(key) or self._build(key, std, flags)
                self._tables[key] = table
            return table

    def _path(self, key: str) -> Path:
        return self.cache_root / "pristine" / f"{key[:24]}.json"

    def _load(self, key: str) -> dict[str, PristineMacro] | None:
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            raw = json.loads(self._path(key).read_text())
            return {name: PristineMacro(d, frozenset(f)) for name, (d, f) in raw.items()}
        return None

    def _build(self, key: str, std: str, flags: Sequence[str]) -> dict[str, PristineMacro]:
        with workdir("pristine") as tmp:
            work = Path(tmp)
            if os.geteuid() == 0:
                os.chown(work, NOBODY_UID, NOBODY_UID)
            (work / "universal.h").write_text(_universal_source())
            base = [*compile_base_command(std, flags, self.limits.max_errors), "-x", "c++", "universal.h", "-E"]
            script = f"{shlex.join([*base, '-dD', '-o', 'dd.ii'])} && {shlex.join([*base, '-dM', '-o', 'dm.txt'])}"
            spec = SandboxSpec(
                argv=["/bin/sh", "-c", script], workdir=work, limits=compile_limits(self.limits), minimal_dev=True
            )
            out = run_sandboxed(spec, sandboxed=self.sandboxed)
            if out.returncode != 0:
                detail = out.sandbox_error or out.stderr.decode(errors="replace").strip()[-400:]
                raise RuntimeError(f"could not preprocess the standard headers for the macro guard: {detail}")
            definers = _definers((work / "dd.ii").read_text(errors="replace"))
            table: dict[str, PristineMacro] = {}
            for line in (work / "dm.txt").read_text(errors="replace").splitlines():
                m = _DIRECTIVE.match(line)
                if m is not None:
                    name = m.group(2)
                    table[name] = PristineMacro(line, frozenset(definers.get(name, {"<built-in>"})))
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp_path = path.with_suffix(f".{os.getpid()}.tmp")
        tmp_path.write_text(json.dumps({n: [m.definition, sorted(m.files)] for n, m in table.items()}))
        tmp_path.replace(path)
        return table


def preprocess_command(
    std: str, flags: Sequence[str], max_errors: int, pch_header: Path | None, linemarkers: bool
) -> list[str]:
    """`linemarkers`: the code may hold a GNU linemarker (source_shape.may_hold_linemarker): ask for
    GCC's -Wpedantic warning about it. -Wpedantic changes the predefined macros, so the PCH is not
    used then; code that cannot hold one keeps it."""
    cmd = [*compile_base_command(std, flags, max_errors), "-fno-diagnostics-show-caret"]
    if linemarkers:
        cmd.append("-Wpedantic")
    if pch_header is not None:
        cmd += ["-include", str(pch_header), "-fpch-preprocess", "-fpch-deps"]
    return [*cmd, "-E", "-dD", "-MD", "-MF", DEPS_NAME, "-MT", "candidate", "-x", "c++", "-", "-o", VIEW_NAME]


def _candidate_start(view: str) -> int:
    """Where the view passes our `#line 1 "solution.cpp"` (GCC's first linemarker for it)."""
    marker = f'\n# 1 "{CANDIDATE_FILE}"'
    at = view.find(marker)
    return len(view) if at < 0 else at + len(marker)


def _utf8(latin1: str) -> str:
    """A name read from the latin-1 view, back as the UTF-8 text GCC wrote."""
    return latin1.encode("latin-1").decode("utf-8", errors="replace")


def _deps(text: str) -> set[str]:
    words = text.replace("\\\n", " ").split()
    return {_normalise(w) for w in words if not w.endswith(":") and w != "\\"}


def _pragma_refusal(view: str, start: int) -> str | None:
    for m in _PRAGMA.finditer(view, start):
        body = _utf8(m.group(1))
        if body.split()[:1] == ["redefine_extname"]:
            return "#pragma redefine_extname (it renames the C functions the test calls)"
        if body.split()[:1] == ["weak"]:
            return "#pragma weak (it makes aliases, of library functions too, as the refused alias attribute would)"
        if body.startswith("GCC diagnostic") and any(w in body for w in _GUARDED_WARNINGS):
            return f"a diagnostic pragma aimed at the verifier's own checks ({body.strip()[:80]})"
    return None


def analyse(view: str, deps_text: str, stderr: str, pristine: dict[str, PristineMacro]) -> GuardAnalysis:
    """The guard for a candidate, from GCC's -E -dD view of it (decoded as latin-1: one character
    a byte, whatever the code holds), its deps and its warnings."""
    if LINEMARKER_WARNING in stderr:
        return GuardAnalysis("", refusal='a GNU linemarker (# <line> "file" <flags>)')
    start = _candidate_start(view)
    refusal = _pragma_refusal(view, start)
    if refusal is not None:
        return GuardAnalysis("", refusal=refusal)
    if may_name_mangled_symbol(view[start:]):
        return GuardAnalysis("", refusal=MANGLED_NAME)
    touched = {_utf8(m.group(2)) for m in _DIRECTIVE.finditer(view, start)}
    reserved = sorted(touched & reserved_macro_names())
    if reserved:
        return GuardAnalysis("", refusal=f"redefines {reserved[0]!r}, which the verifier reserves")
    opened = _deps(deps_text) | {"<built-in>", "<command-line>"}
    lines: list[str] = []
    for name in sorted(touched):
        lines.append(f"#undef {name}\n")
        known = pristine.get(name)
        if known is not None and known.files & opened:
            lines.append(known.definition + "\n")
    return GuardAnalysis("".join(lines), touched=len(touched))


class MacroGuard:
    """Computes the guard's restore block for one candidate (slow path only; see the module doc)."""

    def __init__(self, cache_root: Path, limits: BuildLimits, sandboxed: bool) -> None:
        self.limits = limits
        self.sandboxed = sandboxed
        self.pristine = PristineTables(cache_root, limits, sandboxed)

    def analyse(
        self, workdir: Path, code: str, std: str, flags: Sequence[str], pch_header: Path | None
    ) -> GuardAnalysis:
        if may_name_file(code):
            return GuardAnalysis("", refusal=RENAMED_FILE)
        pristine = self.pristine.get(std, flags)
        linemarkers = may_hold_linemarker(code)
        cmd = preprocess_command(std, flags, self.limits.max_errors, pch_header, linemarkers)
        with unlinked_source(workdir, candidate_prefix(code)) as fd:
            limits = dataclasses.replace(compile_limits(self.limits), file_size_bytes=VIEW_CAP_BYTES + 1)
            spec = SandboxSpec(
                argv=cmd,
                workdir=workdir,
                limits=limits,
                ro_binds=(pch_header.parent,) if pch_header is not None else (),
                minimal_dev=True,
                stdin_fd=fd,
            )
            out = run_sandboxed(spec, sandboxed=self.sandboxed)
        view_path, deps_path = workdir / VIEW_NAME, workdir / DEPS_NAME
        try:
            if out.sandbox_error:
                raise SandboxFailedError(out.sandbox_error)
            # g++ reports a cc1plus killed at the file-size limit as a plain failure: ask the file.
            if view_path.exists() and view_path.stat().st_size >= VIEW_CAP_BYTES:
                return GuardAnalysis("", refusal=TOO_LARGE)
            if out.returncode != 0 or out.timed_out:
                return GuardAnalysis("", failed=True)
            view = view_path.read_bytes().decode("latin-1")
            deps = deps_path.read_text(errors="replace")
        finally:
            for path in (view_path, deps_path):
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
        return analyse(view, deps, out.stderr.decode(errors="replace"), pristine)


class SandboxFailedError(RuntimeError):
    """The preprocessing sandbox itself failed: an infrastructure failure."""
