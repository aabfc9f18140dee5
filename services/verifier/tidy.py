"""clang-tidy findings and warning-suppression counting for the shaped reward.

Gaming guard: a candidate must not raise its shaped reward by silencing findings. `NOLINT`
markers are neutralised before clang-tidy runs (so suppressed findings still count), and each
`(void)x;`, `static_cast<void>(x);`, `[[maybe_unused]]` or `#pragma ... diagnostic ignored`
counts as one warning, the price of the warning it hides.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from .cpp_lexer import lex
from .sandbox import NOBODY_UID, SandboxLimits, SandboxSpec, run_sandboxed

# trailing-return-type fires on every function: noise, not a finding.
TIDY_CHECKS = "-*,modernize-*,bugprone-*,-modernize-use-trailing-return-type"
_FINDING = re.compile(r"^[^:\n]+:\d+:\d+: (?:warning|error): .*\[(?P<check>[\w.,-]+)\]$", re.MULTILINE)
_SUPPRESSIONS = re.compile(
    r"\(\s*void\s*\)\s*[A-Za-z_]\w*\s*;"
    r"|static_cast\s*<\s*void\s*>\s*\(\s*[A-Za-z_]\w*\s*\)\s*;"
    r"|\[\[\s*(?:gnu::unused|maybe_unused)\s*\]\]"
    r"|__attribute__\s*\(\(\s*unused\s*\)\)"
)
_PRAGMA_IGNORED = re.compile(r"^[ \t]*#[ \t]*pragma[ \t]+(?:GCC|clang)[ \t]+diagnostic[ \t]+ignored", re.MULTILINE)


@dataclass
class TidyReport:
    findings: list[str] = field(default_factory=list)
    available: bool = True


def count_suppressions(code: str) -> int:
    """How many warning-silencing constructs the code uses (comments and strings excluded)."""
    cleaned, _ = lex(code)
    return len(_SUPPRESSIONS.findall(cleaned)) + len(_PRAGMA_IGNORED.findall(cleaned))


def neutralise_nolint(code: str) -> str:
    return code.replace("NOLINT", "N0LINT")


def run_clang_tidy(code: str, std: str = "c++17", timeout_s: float = 30.0) -> TidyReport:
    """Findings of `clang-tidy -checks=modernize-*,bugprone-*` on the candidate, in the sandbox."""
    if shutil.which("clang-tidy") is None or shutil.which("bwrap") is None:
        return TidyReport(available=False)
    with tempfile.TemporaryDirectory(prefix="cppforge_verify_tidy_") as tmp:
        work = Path(tmp)
        if os.geteuid() == 0:
            os.chown(work, NOBODY_UID, NOBODY_UID)
        (work / "solution.cpp").write_text(neutralise_nolint(code), encoding="utf-8")
        limits = SandboxLimits(
            wall_s=timeout_s, cpu_s=int(timeout_s) + 1, memory_bytes=2 << 30, max_processes=16,
            file_size_bytes=64 << 20, kill_on_output_overflow=False, output_cap_bytes=256 * 1024,
        )  # fmt: skip
        argv = ["clang-tidy", f"-checks={TIDY_CHECKS}", "--quiet", "solution.cpp", "--", f"-std={std}"]
        out = run_sandboxed(SandboxSpec(argv=argv, workdir=work, limits=limits, minimal_dev=True, mount_proc=False))
    text = out.stdout.decode(errors="replace")
    return TidyReport(findings=[m.group(0).replace(f"{work}/", "") for m in _FINDING.finditer(text)])
