"""clang-tidy findings for the shaped reward, on the source gcc_view.tidy_source builds.

That source is GCC's preprocessed view of the candidate code (see gcc_view.py): no comments, so no
NOLINT; no linemarkers or `#ifdef __clang__`, so clang sees the code g++ compiled. Line numbers in
the findings are the view's (`view.cpp`), not the candidate's. A run that did not finish (deadline,
output cap) is reported incomplete, never as a clean one.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from .compile import ToolchainError
from .sandbox import NOBODY_UID, SandboxLimits, SandboxSpec, run_sandboxed
from .workdirs import workdir

# trailing-return-type fires on every function: noise, not a finding.
TIDY_CHECKS = "-*,modernize-*,bugprone-*,-modernize-use-trailing-return-type"
SOURCE_NAME = "view.cpp"
_FINDING = re.compile(r"^[^:\n]+:\d+:\d+: (?:warning|error): .*\[(?P<check>[\w.,-]+)\]$", re.MULTILINE)
# clang 14 knows the 2023 standard only by its working name.
_CLANG_STD = {"c++23": "c++2b", "gnu++23": "gnu++2b"}


@dataclass
class TidyReport:
    findings: list[str] = field(default_factory=list)
    available: bool = True
    complete: bool = True  # False: clang-tidy hit its deadline or output cap; findings may be missing


def neutralise_nolint(source: str) -> str:
    """Defence in depth: GCC's view holds no comments, hence no NOLINT; a string may still spell it."""
    return source.replace("NOLINT", "N0LINT")


def run_clang_tidy(source: str, std: str = "c++17", timeout_s: float = 30.0) -> TidyReport:
    """Findings of `clang-tidy -checks=modernize-*,bugprone-*` on `source`, in the sandbox."""
    if shutil.which("clang-tidy") is None or shutil.which("bwrap") is None:
        return TidyReport(available=False)
    with workdir("tidy") as tmp:
        work = Path(tmp)
        if os.geteuid() == 0:
            os.chown(work, NOBODY_UID, NOBODY_UID)
        (work / SOURCE_NAME).write_bytes(neutralise_nolint(source).encode(errors="surrogateescape"))
        limits = SandboxLimits(
            wall_s=timeout_s, cpu_s=int(timeout_s) + 1, memory_bytes=2 << 30, max_processes=16,
            file_size_bytes=64 << 20, kill_on_output_overflow=False, output_cap_bytes=256 * 1024,
        )  # fmt: skip
        clang_std = _CLANG_STD.get(std, std)
        argv = ["clang-tidy", f"-checks={TIDY_CHECKS}", "--quiet", SOURCE_NAME, "--", f"-std={clang_std}"]
        out = run_sandboxed(SandboxSpec(argv=argv, workdir=work, limits=limits, minimal_dev=True, mount_proc=False))
    if out.sandbox_error:
        raise ToolchainError(f"the sandboxed clang-tidy run failed: {out.sandbox_error}")
    text = out.stdout.decode(errors="replace")
    findings = [m.group(0).replace(f"{work}/", "") for m in _FINDING.finditer(text)]
    complete = not (out.timed_out or out.stdout_truncated or out.signal is not None)
    return TidyReport(findings=findings, complete=complete)
