"""Prebuilt instantiations of the library classes candidates use most, declared `extern template`.

A candidate's TU spends much of its compile instantiating and generating code for the same library
classes (`std::vector<int>` in two of three HumanEval-X programs). Beside a PCH entry (pch.py) this
module builds, from exactly the entry's leading block and with the compile's own flags, one object
per class of `INSTANCES` holding its explicit instantiation (`template class std::vector<int>;`),
archived as `inst/instances.a`, and a second PCH, `inst/pch.h`: the leading block followed by the
matching explicit instantiation declarations (`extern template class std::vector<int>;`). A compile
that uses it instead of the entry's own PCH no longer generates code for those members: the link
takes them from the archive, the very code the TU would have made (same headers, same g++, same
code-generating flags; only the debug information differs, and the program is stripped).

Exactness (docs/verifier.md, "Prebuilt instantiations"): explicit instantiation declarations change
what a TU means only for code that (a) specialises a library template (`template<>`, so code in which
the word `template` can appear is never given them), (b) sets macros or pragmas past its leading
block (never given them either: `may_hold_directives`), or (c) adds declarations to a library
namespace (GCC names each namespace opened: such a build, and every refused or unlinkable one, is
built again without them, see verify.py). Sanitizer builds never get them.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shlex
import tempfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .compile import INSTANCES_ARCHIVE as ARCHIVE_NAME
from .compile import BuildLimits, BuildOutcome, compile_base_command, compile_limits
from .diagnostics import ErrorClass
from .flags import is_sanitizer_build
from .sandbox import NOBODY_UID, SandboxOutcome, SandboxSpec, run_sandboxed

log = logging.getLogger(__name__)
BUILD_PREFIX = "cppforge_verify_pch_inst_"  # pch.py skips (and ages out) its BUILD_PREFIX dirs
INSTANCES_DIR = "inst"
PCH_HEADER = "pch.h"  # the same name as the entry's own, so include notes read `pch.h:N` either way


@dataclass(frozen=True)
class Instance:
    """A class template specialisation and the include guards of the headers that must have been read
    (libstdc++'s own macros: GCC's preprocessor says whether the entry's headers declared it)."""

    spelling: str
    guards: tuple[str, ...]


_VECTOR = ("_STL_VECTOR_H",)
_VECTOR_STRING = ("_STL_VECTOR_H", "_BASIC_STRING_H")
# Chosen from symbol counts over data/*.jsonl's objects: vector<int> in two programs of three,
# then strings, nested vectors, long long and the ordered/unordered maps and sets.
INSTANCES: tuple[Instance, ...] = (
    Instance("std::vector<int>", _VECTOR),
    Instance("std::vector<long long>", _VECTOR),
    Instance("std::vector<long>", _VECTOR),
    Instance("std::vector<float>", _VECTOR),
    Instance("std::vector<double>", _VECTOR),
    Instance("std::vector<char>", _VECTOR),
    Instance("std::vector<bool>", _VECTOR),
    Instance("std::vector<std::vector<int>>", _VECTOR),
    Instance("std::vector<std::string>", _VECTOR_STRING),
    Instance("std::map<int, int>", ("_STL_MAP_H",)),
    Instance("std::map<char, int>", ("_STL_MAP_H",)),
    Instance("std::map<std::string, int>", ("_STL_MAP_H", "_BASIC_STRING_H")),
    Instance("std::set<int>", ("_STL_SET_H",)),
    Instance("std::unordered_map<int, int>", ("_UNORDERED_MAP_H",)),
)

# Builds given the instances, and those built again without them (needs_plain_build).
STATS: Counter[str] = Counter()
_TEMPLATE_WORD = re.compile(r"template")
_SPLICE = re.compile(r"(?:\\|\?\?/)[\s\x00]*")


def may_name_template(text: str) -> bool:
    """False only when the word `template` cannot appear in `text`, spliced lines joined (a match in a
    comment or a longer identifier only costs the speed-up)."""
    return bool(_TEMPLATE_WORD.search(text) or _TEMPLATE_WORD.search(_SPLICE.sub("", text)))


# `using namespace std;` and the like: the one use of the word that opens nothing.
_USING_NAMESPACE = re.compile(r"\busing\s+namespace\s+[A-Za-z_][\w:]*\s*;")


def may_open_namespace(text: str) -> bool:
    """False only when `text` (spliced lines joined) holds the word `namespace` in no other form than a
    using-directive. GCC's -Wnamespaces does not see a namespace named through a system header's macro
    (`namespace _GLIBCXX_STD_C { ... }` is std), so the text itself is checked, conservatively."""
    return any("namespace" in _USING_NAMESPACE.sub("", t) for t in (text, _SPLICE.sub("", text)))


def eligible(rest: str, test_code: str | None, flags: Sequence[str], may_hold_directives: bool) -> bool:
    """May a build of this code use the entry's instances? `rest`: the code past its leading block.
    Only unoptimised builds without macros from the command line: at -O1 and above GCC would inline the
    members it now only declares, and what it inlines decides its middle-end warnings (-Wuse-after-free)
    and what code with undefined behaviour does."""
    if is_sanitizer_build(flags) or may_hold_directives or not _unoptimised(flags):
        return False
    if may_name_template(rest) or may_open_namespace(rest):
        return False
    return not (test_code is not None and may_name_template(test_code))


def _unoptimised(flags: Sequence[str]) -> bool:
    """-O0 in effect (the last -O flag wins) and no -D: a macro from the command line reaches every line."""
    levels = [f for f in flags if f.startswith("-O")]
    return (not levels or levels[-1] == "-O0") and not any(f.startswith("-D") for f in flags)


def needs_plain_build(built: BuildOutcome) -> bool:
    """A build with the instances whose verdict must come from a build without them: refused (the
    refusal may differ), not linked, or a failed compile of code that entered a library namespace."""
    return built.error_class in (ErrorClass.REFUSED, ErrorClass.LINK) or built.opened_library_namespace


def items_of(entry: Path) -> str:
    return (entry / PCH_HEADER).read_text()


def worth_building(items: str) -> bool:
    """Not for `bits/stdc++.h`: its PCH restores every library class already, and the declarations made
    its compiles slower, not faster (measured: 265 -> 275 ms and 274 -> 308 ms of CPU per compile)."""
    return "bits/stdc++.h" not in items and "#pragma" not in items  # (an optimize pragma: see eligible)


def _guarded(instance: Instance, line: str) -> str:
    condition = " && ".join(f"defined({g})" for g in instance.guards)
    return f"#if {condition}\n{line}\n#endif\n"


def declarations(built: Sequence[Instance]) -> str:
    """The text of instances.h: an explicit instantiation declaration of each class built."""
    return "".join(_guarded(i, f"extern template class {i.spelling};") for i in built)


def definition(instance: Instance) -> str:
    """One archive member's source (after the entry's PCH): the explicit instantiation, or an
    #error when the entry's headers did not declare the class."""
    condition = " && ".join(f"defined({g})" for g in instance.guards)
    return f"#if !({condition})\n#error not declared by these headers\n#endif\ntemplate class {instance.spelling};\n"


def ready(entry: Path) -> Path | None:
    """The entry's instances dir when it is complete (its PCH is renamed in last)."""
    inst = entry / INSTANCES_DIR
    return inst if (inst / (PCH_HEADER + ".gch")).exists() else None


def build_instances(entry: Path, std: str, flags: Sequence[str], limits: BuildLimits, sandboxed: bool) -> int:
    """Build `<entry>/inst/` next to a published PCH entry: one object per class of INSTANCES its headers
    declare (compiled against the entry's own PCH, so with exactly the same declarations), their
    archive, and a second PCH of the leading block followed by the matching `extern template`
    declarations (so the class definitions they instantiate are restored, not redone, per compile).
    Returns the number of classes built; 0 publishes nothing and compiles go on without."""
    if not worth_building(items_of(entry)) or is_sanitizer_build(flags) or ready(entry) is not None:
        return 0
    base = compile_base_command(std, flags, limits.max_errors)
    items = items_of(entry)
    with tempfile.TemporaryDirectory(prefix=BUILD_PREFIX, dir=entry.parent, ignore_cleanup_errors=True) as tmp:
        os.chmod(tmp, 0o755)  # the sandbox's user must reach the work dir inside
        work = Path(tmp) / INSTANCES_DIR
        work.mkdir()
        if os.geteuid() == 0:
            os.chown(work, NOBODY_UID, NOBODY_UID)
        lines = []
        for n, instance in enumerate(INSTANCES):
            (work / f"i{n}.cpp").write_text(definition(instance))
            # -g0 last: the program is stripped and no check reads these objects; the code is the same.
            cmd = [*base, "-g0", "-include", str(entry / PCH_HEADER), "-x", "c++", f"i{n}.cpp", "-c", "-o", f"i{n}.o"]
            lines.append(f"{shlex.join(cmd)} 2>/dev/null && echo {n}")
        out = _sandboxed(lines, work, entry, limits, sandboxed)
        done = sorted({int(t) for t in out.stdout.decode(errors="replace").split() if t.isdigit()})
        built = [INSTANCES[n] for n in done if n < len(INSTANCES) and (work / f"i{n}.o").exists()]
        if not built:
            if out.sandbox_error:
                log.warning("building instances for %s failed: %s", entry.name, out.sandbox_error)
            return 0
        (work / PCH_HEADER).write_text(items + declarations(built))
        header = [*base, "-x", "c++-header", PCH_HEADER, "-o", PCH_HEADER + ".gch.tmp"]
        script = [
            shlex.join(["ar", "rcsD", ARCHIVE_NAME, *(f"i{n}.o" for n in done)]),
            shlex.join(header),
            f"rm -f {' '.join(f'i{n}.o i{n}.cpp' for n in range(len(INSTANCES)))}",
        ]
        finished = _sandboxed(["set -e", *script], work, entry, limits, sandboxed)
        if finished.returncode != 0 or not (work / (PCH_HEADER + ".gch.tmp")).exists():
            detail = finished.sandbox_error or finished.stderr.decode(errors="replace")[-300:]
            log.warning("building instances for %s failed: %s", entry.name, detail)
            return 0
        os.replace(work / (PCH_HEADER + ".gch.tmp"), work / (PCH_HEADER + ".gch"))
        publish_as_owner(work)
        with contextlib.suppress(OSError):
            os.rename(work, entry / INSTANCES_DIR)  # atomic publish; a concurrent builder may win, fine
        return len(built) if ready(entry) is not None else 0


def publish_as_owner(work: Path) -> None:
    """Before publishing: the build ran as nobody, who must not be able to swap code that every later
    program links (or a PCH every later compile reads): owned by us, read-only to everyone else."""
    for path in (*work.iterdir(), work):
        if os.geteuid() == 0:
            os.chown(path, 0, 0, follow_symlinks=False)
        os.chmod(path, 0o755 if path.is_dir() else 0o644)


def _sandboxed(lines: Sequence[str], work: Path, entry: Path, limits: BuildLimits, sandboxed: bool) -> SandboxOutcome:
    spec = SandboxSpec(
        argv=["/bin/sh", "-c", "\n".join(lines)],
        workdir=work,
        limits=compile_limits(limits),
        ro_binds=(entry,),
        minimal_dev=True,
    )
    return run_sandboxed(spec, sandboxed=sandboxed)
