"""`verify_cpp`: strip think blocks, build in the sandbox, run behind the runner, score the tests.

The whole pipeline of the Verifier contract in DESIGN.md; see compile.py, sandbox.py and
harness.py for the parts. Infrastructure failures come back as `error_class="sandbox_error"`
(or raise), never as a plain failure that a reward could turn into 0.0.
"""

from __future__ import annotations

import contextlib
import math
import os
import secrets
import tempfile
import threading
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..common.settings import VerifierSettings, get_verifier_settings
from . import harness
from .compile import PROGRAM_NAME, BuildLimits, BuildOutcome, build
from .diagnostics import Diagnostic, ErrorClass, looks_like_memory_failure, warning_lines
from .flags import validate_flags, validate_std
from .pch import PchCache, default_pch_root, remap_pch_locations
from .sandbox import (
    NOBODY_UID,
    SandboxLimits,
    SandboxSpec,
    SandboxUnavailableError,
    bwrap_path,
    run_sandboxed,
)
from .think import strip_think_blocks

TEMP_PREFIX = "cppforge_verify_"
MAX_TIMEOUT_S = 120.0
SCRATCH_DIR = "scratch"
VERIFIER_VERSION = "0.1.0"


@dataclass
class VerifyResult:
    compile_ok: bool
    warnings: int
    warning_lines: list[str]
    run_ok: bool
    stdout: str
    stderr: str
    returncode: int | None
    tests_passed: int
    tests_total: int
    ran: bool = False  # the program was linked and executed
    main_returned: bool = False  # the runner saw the user's main return (nonce'd record)
    signal: int | None = None  # the signal that ended the run, if any
    error_class: str | None = None  # with return_structured: an ErrorClass value
    diagnostics: list[Diagnostic] = field(default_factory=list)
    compile_output: str = ""  # the compiler's own messages
    compile_s: float = 0.0
    run_s: float = 0.0
    cached: bool = False
    stdout_truncated: bool = False
    stderr_truncated: bool = False
    infra_error: str | None = None  # set iff verification itself failed (sandbox, toolchain)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> VerifyResult:
        known = {f for f in cls.__dataclass_fields__}
        values = {k: v for k, v in data.items() if k in known}
        values["diagnostics"] = [Diagnostic(**d) for d in data.get("diagnostics", [])]
        return cls(**values)


@dataclass(frozen=True)
class VerifierConfig:
    compile_timeout_s: float
    compile_memory_bytes: int
    run_memory_bytes: int
    run_max_processes: int
    output_cap_bytes: int
    max_errors: int
    scratch_bytes: int
    cache_root: Path
    allow_unsandboxed: bool
    use_pch: bool = True
    pch_root: Path | None = None
    pch_min_uses: int = 2

    @classmethod
    def from_settings(cls, s: VerifierSettings | None = None) -> VerifierConfig:
        s = s or get_verifier_settings()
        return cls(
            compile_timeout_s=s.compile_timeout_s,
            compile_memory_bytes=s.compile_memory_mb << 20,
            run_memory_bytes=s.run_memory_mb << 20,
            run_max_processes=s.run_max_processes,
            output_cap_bytes=s.output_cap_bytes,
            max_errors=s.max_errors,
            scratch_bytes=s.scratch_mb << 20,
            cache_root=s.home,
            allow_unsandboxed=s.allow_unsandboxed,
            use_pch=s.use_pch,
            pch_root=s.pch_dir or default_pch_root(s.home),
            pch_min_uses=s.pch_min_uses,
        )

    @property
    def build_limits(self) -> BuildLimits:
        return BuildLimits(self.compile_timeout_s, self.compile_memory_bytes, self.output_cap_bytes, self.max_errors)


_pch_caches: dict[tuple[Path, bool, int], PchCache] = {}
_pch_lock = threading.Lock()


def pch_cache(config: VerifierConfig, sandboxed: bool) -> PchCache | None:
    """The process-wide PCH cache for this configuration (None when PCH is off)."""
    if not config.use_pch or config.pch_root is None:
        return None
    key = (config.pch_root, sandboxed, config.pch_min_uses)
    with _pch_lock:
        cache = _pch_caches.get(key)
        if cache is None:
            cache = PchCache(config.pch_root, config.build_limits, sandboxed, min_uses=config.pch_min_uses)
            _pch_caches[key] = cache
        return cache


def sandbox_mode(config: VerifierConfig) -> bool:
    """True to run sandboxed; raises when bwrap is missing and unsandboxed runs were not allowed."""
    if bwrap_path() is not None:
        return True
    if config.allow_unsandboxed:
        return False
    raise SandboxUnavailableError(
        "bubblewrap (bwrap) is not installed, so untrusted code cannot be sandboxed; install it "
        "(apt-get install bubblewrap) or set CPPFORGE_ALLOW_UNSANDBOXED=1 to run without a sandbox"
    )


def _check_inputs(
    code: object, test_code: object, timeout: float, std: str, extra_flags: Sequence[str]
) -> tuple[str, ...]:
    if not isinstance(code, str):
        raise ValueError("code must be a string")
    if test_code is not None and not isinstance(test_code, str):
        raise ValueError("test_code must be a string or None")
    if not isinstance(timeout, (int, float)) or not math.isfinite(timeout) or not 0 < timeout <= MAX_TIMEOUT_S:
        raise ValueError(f"timeout must be a number of seconds in (0, {MAX_TIMEOUT_S:g}]")
    validate_std(std)
    if isinstance(extra_flags, str):
        raise ValueError("extra_flags must be a list of flags, not one string")
    return validate_flags(extra_flags)


def verify_cpp(
    code: str,
    test_code: str | None = None,
    timeout: float = 10.0,
    std: str = "c++17",
    extra_flags: Sequence[str] = (),
    return_structured: bool = False,
    strip_think: bool = True,
    *,
    config: VerifierConfig | None = None,
) -> VerifyResult:
    """Compile and run untrusted C++ (`code`, then trusted `test_code`, in one TU) in the sandbox.

    Raises ValueError for bad arguments (a refused flag is named) and SandboxUnavailableError
    when nothing can sandbox the run; everything the candidate does comes back in the result.
    """
    flags = _check_inputs(code, test_code, timeout, std, extra_flags)
    config = config or VerifierConfig.from_settings()
    sandboxed = sandbox_mode(config)
    if strip_think:
        code = strip_think_blocks(code)
    if not code.strip():
        return _empty_source_result(return_structured)
    with tempfile.TemporaryDirectory(prefix=TEMP_PREFIX) as tmp:
        workdir = Path(tmp)
        _open_to_sandbox_user(workdir)
        nonce = harness.new_nonce()
        tu = harness.build_translation_unit(code, test_code, nonce)
        link = harness.has_main(code, test_code)
        pch = pch_cache(config, sandboxed)
        pch_header = pch.header_for(code, std, flags) if pch is not None else None
        with _unlinked_source(workdir, tu) as tu_fd:
            remap = (lambda text: remap_pch_locations(text, code)) if pch_header is not None else None
            built = build(
                workdir, tu_fd, std, flags, link, config.build_limits, sandboxed, config.cache_root, pch_header, remap
            )
        result = _result_from_build(built, return_structured)
        if not built.compile_ok or not link:
            return result
        has_tests = test_code is not None and bool(test_code.strip())
        return _run(workdir, nonce, result, timeout, flags, has_tests, config, sandboxed, return_structured, test_code)


def _open_to_sandbox_user(workdir: Path) -> None:
    """When root, the sandbox runs as nobody: let it write the work dir (only that dir)."""
    if os.geteuid() == 0:
        os.chown(workdir, NOBODY_UID, NOBODY_UID)
    (workdir / SCRATCH_DIR).mkdir()


@contextlib.contextmanager
def _unlinked_source(workdir: Path, tu: str) -> Iterator[int]:
    """An fd on the TU whose file name is already gone: g++ reads it, nothing can #include it."""
    path = workdir / ".tu"
    path.write_text(tu, encoding="utf-8")
    fd = os.open(path, os.O_RDONLY)
    path.unlink()
    try:
        yield fd
    finally:
        os.close(fd)


def _empty_source_result(structured: bool) -> VerifyResult:
    diag = Diagnostic("solution.cpp", None, None, "error", "empty source: nothing to compile")
    return VerifyResult(
        compile_ok=False, warnings=0, warning_lines=[], run_ok=False, stdout="", stderr="empty source",
        returncode=None, tests_passed=0, tests_total=0, error_class=ErrorClass.SYNTAX.value,
        diagnostics=[diag] if structured else [], compile_output="empty source",
    )  # fmt: skip


def _result_from_build(built: BuildOutcome, structured: bool) -> VerifyResult:
    warns = warning_lines(built.diagnostics)
    return VerifyResult(
        compile_ok=built.compile_ok,
        warnings=len(warns),
        warning_lines=warns,
        run_ok=False,
        stdout="",
        stderr="" if built.compile_ok else built.output,
        returncode=None,
        tests_passed=0,
        tests_total=0,
        error_class=built.error_class.value,
        diagnostics=list(built.diagnostics) if structured else [],
        compile_output=built.output,
        compile_s=built.compile_s,
        infra_error=built.sandbox_error,
    )


def run_limits(timeout: float, flags: Sequence[str], config: VerifierConfig) -> SandboxLimits:
    sanitized = any(f.startswith("-fsanitize=") for f in flags)
    return SandboxLimits(
        wall_s=timeout,
        cpu_s=math.ceil(timeout) + 1,
        memory_bytes=config.run_memory_bytes,
        max_processes=config.run_max_processes,
        file_size_bytes=config.scratch_bytes,
        open_files=64,
        stack_bytes=64 << 20,
        # Sanitizers reserve terabytes of shadow address space; their memory is capped by the cgroup.
        address_space_bytes=None if sanitized else 2 * config.run_memory_bytes,
        output_cap_bytes=config.output_cap_bytes,
        kill_on_output_overflow=True,
    )


def _run(
    workdir: Path,
    nonce: str,
    result: VerifyResult,
    timeout: float,
    flags: Sequence[str],
    has_tests: bool,
    config: VerifierConfig,
    sandboxed: bool,
    structured: bool,
    test_code: str | None = None,
) -> VerifyResult:
    nonce_r, nonce_w = os.pipe()
    try:
        # Masked: the runner keeps mask and masked nonce apart and unmasks only to print, so a
        # scan of the process memory for a hex nonce finds nothing.
        mask = secrets.token_bytes(len(nonce))
        masked = bytes(a ^ b for a, b in zip(nonce.encode(), mask, strict=True))
        os.write(nonce_w, mask + masked)
        os.close(nonce_w)
        env = {
            "CPPFORGE_NONCE_FD": str(nonce_r),
            "ASAN_OPTIONS": "detect_leaks=1:exitcode=23",
            "UBSAN_OPTIONS": "print_stacktrace=1",
        }
        spec = SandboxSpec(
            argv=[str(workdir / PROGRAM_NAME)],
            workdir=workdir,
            limits=run_limits(timeout, flags, config),
            scratch_name=SCRATCH_DIR,
            scratch_bytes=config.scratch_bytes,
            pass_fds=(nonce_r,),
            env=env,
        )
        out = run_sandboxed(spec, sandboxed=sandboxed)
    finally:
        os.close(nonce_r)
    verdict = harness.read_verdict(out.stdout.decode(errors="replace"), nonce)
    stderr = out.stderr.decode(errors="replace")
    clean_exit = out.returncode == 0 and out.signal is None and not out.timed_out and not out.output_overflow
    passed, total = harness.score_tests(verdict, clean_exit, has_tests, harness.expects_marker(test_code))
    # With tests, a clean run means the user's main returned: exit(0) before the tests is not one.
    completed = clean_exit and (verdict.returned or not has_tests)
    result.ran = True
    result.run_ok = completed and out.sandbox_error is None
    result.main_returned = verdict.returned
    result.stdout = verdict.stdout
    result.stderr = stderr
    result.returncode = out.returncode
    result.signal = out.signal
    result.tests_passed, result.tests_total = passed, total
    result.run_s = out.wall_s
    result.stdout_truncated, result.stderr_truncated = out.stdout_truncated, out.stderr_truncated
    result.infra_error = out.sandbox_error
    result.error_class = _run_error_class(out, stderr, completed).value
    return result


def _run_error_class(out: Any, stderr: str, clean_exit: bool) -> ErrorClass:
    if out.sandbox_error:
        return ErrorClass.SANDBOX_ERROR
    if out.output_overflow:
        return ErrorClass.OUTPUT_LIMIT
    if out.timed_out or out.signal == 24:  # SIGXCPU: the CPU rlimit
        return ErrorClass.RUNTIME_TIMEOUT
    if clean_exit:
        return ErrorClass.NONE
    if out.memory_exceeded or looks_like_memory_failure(stderr):
        return ErrorClass.MEMORY
    return ErrorClass.RUNTIME_CRASH
