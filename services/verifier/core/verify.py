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
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ...common.settings import VerifierSettings, get_verifier_settings
from . import harness, instances, workdirs
from .compile import (
    OBJECT_NAME,
    PROGRAM_NAME,
    BuildLimits,
    BuildOutcome,
    LinkPlan,
    build,
    refused_outcome,
    unlinked_source,
)
from .diagnostics import Diagnostic, ErrorClass, looks_like_memory_failure, warning_lines
from .flags import is_sanitizer_build, validate_flags, validate_std
from .macro_guard import MANGLED_NAME, GuardAnalysis, MacroGuard, SandboxFailedError
from .pch import PCH_HEADER, PchCache, default_pch_root, remap_pch_locations
from .sandbox import (
    NOBODY_UID,
    SandboxLimits,
    SandboxSpec,
    SandboxUnavailableError,
    bwrap_path,
    run_sandboxed,
)
from .seccomp import process_filter, sanitizer_filter
from .source_shape import leading_block, may_hold_directives, may_name_mangled_symbol, tampers_then_includes
from .think import strip_think_blocks
from .verdict import read_verdict, score_tests

TEMP_PREFIX = workdirs.TEMP_PREFIX  # the prefix of every temp dir of the verifier's
MAX_TIMEOUT_S = 120.0
SCRATCH_DIR = "scratch"
VERIFIER_VERSION = "0.2.2"  # part of every cache key: bump when verdicts may change


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
    error_class: ErrorClass | None = None  # reported on the wire with return_structured
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
        if values.get("error_class") is not None:
            values["error_class"] = ErrorClass(values["error_class"])
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
    pch_max_bytes: int | None = None  # None: the CPPFORGE_PCH_MAX_MB setting
    use_instances: bool = True  # prebuilt instantiations beside each PCH (instances.py)
    pch_background: bool = True  # a due PCH is built by a background thread, not by the request
    pch_eager_when_idle: bool = True  # ...already on a header set's first sighting when that thread is idle

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
            pch_max_bytes=s.pch_max_mb << 20,
            use_instances=s.use_instances,
            pch_background=s.pch_background,
            pch_eager_when_idle=s.pch_eager_when_idle,
        )

    @property
    def build_limits(self) -> BuildLimits:
        return BuildLimits(
            timeout_s=self.compile_timeout_s,
            memory_bytes=self.compile_memory_bytes,
            output_cap_bytes=self.output_cap_bytes,
            max_errors=self.max_errors,
        )


TAMPERED_HEADERS = (
    "a header included after a macro or pragma of the candidate's (past its leading #include block, "
    "macros and pragmas may come after the last #include, not before it)"
)
_pch_caches: dict[tuple[Path, bool, int, int | None, bool, bool, bool], PchCache] = {}
_macro_guards: dict[tuple[Path, bool], MacroGuard] = {}
_pch_lock = threading.Lock()


def macro_guard(config: VerifierConfig, sandboxed: bool) -> MacroGuard:
    """The process-wide macro guard (and its pristine macro tables) for this configuration."""
    key = (config.cache_root, sandboxed)
    with _pch_lock:
        guard = _macro_guards.get(key)
        if guard is None:
            guard = MacroGuard(config.cache_root, config.build_limits, sandboxed)
            _macro_guards[key] = guard
        return guard


def pch_cache(config: VerifierConfig, sandboxed: bool) -> PchCache | None:
    """The process-wide PCH cache for this configuration (None when PCH is off)."""
    if not config.use_pch or config.pch_root is None:
        return None
    key = (
        config.pch_root, sandboxed, config.pch_min_uses, config.pch_max_bytes, config.pch_background,
        config.pch_eager_when_idle, config.use_instances,
    )  # fmt: skip
    with _pch_lock:
        cache = _pch_caches.get(key)
        if cache is None:
            cache = PchCache(
                config.pch_root,
                config.build_limits,
                sandboxed,
                min_uses=config.pch_min_uses,
                max_bytes=config.pch_max_bytes,
                instances=config.use_instances,
                background=config.pch_background,
                eager_when_idle=config.pch_eager_when_idle,
            )
            _pch_caches[key] = cache
        return cache


def wait_for_pch_builds(timeout: float) -> bool:
    """Wait until no process-wide PCH cache has a background build queued or running (tests, benches)."""
    with _pch_lock:
        caches = list(_pch_caches.values())
    deadline = time.monotonic() + timeout
    return all(cache.builder.wait_idle(max(0.0, deadline - time.monotonic())) for cache in caches)


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
    code: object, test_code: object, *, timeout: float, std: str, extra_flags: Sequence[str]
) -> tuple[str, ...]:
    if not isinstance(code, str):
        raise ValueError("code must be a string")
    if test_code is not None and not isinstance(test_code, str):
        raise ValueError("test_code must be a string or None")
    for name, text in (("code", code), ("test_code", test_code)):
        if text is not None and not _encodable(text):
            raise ValueError(f"{name} is not valid Unicode text (it holds a lone surrogate)")
    if not isinstance(timeout, (int, float)) or not math.isfinite(timeout) or not 0 < timeout <= MAX_TIMEOUT_S:
        raise ValueError(f"timeout must be a number of seconds in (0, {MAX_TIMEOUT_S:g}]")
    validate_std(std)
    if isinstance(extra_flags, str):
        raise ValueError("extra_flags must be a list of flags, not one string")
    return validate_flags(extra_flags)


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


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
    flags = _check_inputs(code, test_code, timeout=timeout, std=std, extra_flags=extra_flags)
    config = config or VerifierConfig.from_settings()
    sandboxed = sandbox_mode(config)
    if strip_think:
        code = strip_think_blocks(code)
    if not code.strip():
        return _empty_source_result(return_structured)
    has_tests = test_code is not None and bool(test_code.strip())
    pch = pch_cache(config, sandboxed)
    # The PCH entry is held (never evicted) until the build that reads it is done.
    held = pch.use(code, std, flags) if pch is not None else contextlib.nullcontext(None)
    workdirs.sweep_stale()  # dirs of verifier processes that died mid-verification (rate-limited)
    with workdirs.workdir() as tmp, held as pch_header:
        workdir = Path(tmp)
        _open_to_sandbox_user(workdir)
        guard = _analyse_directives(
            workdir, code, std=std, flags=flags, pch_header=pch_header, config=config, sandboxed=sandboxed
        )
        if guard.infra_error is not None:
            return _infra_result(guard.infra_error, return_structured)
        if guard.refusal is not None:
            return _result_from_build(refused_outcome("", 0.0, [], [guard.refusal]), return_structured)
        token = harness.new_token()
        tu = harness.build_translation_unit(code, test_code, token, guard.restore)
        sanitized = is_sanitizer_build(flags)
        link = LinkPlan(harness.runner_aliases(token), harden=not sanitized)
        remap = (lambda text: remap_pch_locations(text, code)) if pch_header is not None else None

        def build_with(prebuilt: Path | None) -> BuildOutcome:
            # The instances' PCH is the entry's leading block plus their `extern template` lines.
            with unlinked_source(workdir, tu) as tu_fd:
                return build(
                    workdir,
                    tu_fd,
                    std=std,
                    flags=flags,
                    link=link,
                    limits=config.build_limits,
                    sandboxed=sandboxed,
                    cache_root=config.cache_root,
                    pch_header=pch_header if prebuilt is None else prebuilt / PCH_HEADER,
                    instances=prebuilt,
                    remap=remap,
                    test_functions=harness.test_defined_functions(test_code),
                    test_names=harness.test_identifiers(test_code),
                )

        prebuilt = _instances_for(pch_header, code, test_code, flags, config)
        built = build_with(prebuilt)
        if prebuilt is not None and instances.needs_plain_build(built):
            # Refused, unlinkable, or code in a library namespace: the verdict is the plain build's.
            instances.STATS["retried"] += 1
            _clear_build_products(workdir)
            built = build_with(None)
        if guard.failed and built.compile_ok:
            built = refused_outcome(
                built.output, built.compile_s, built.diagnostics, ["GCC could not preprocess it alone"]
            )
        result = _result_from_build(built, return_structured)
        if not built.compile_ok or not built.linked:
            return result
        return _run(
            workdir, result, timeout=timeout, flags=flags, has_tests=has_tests, config=config, sandboxed=sandboxed,
            structured=return_structured, test_code=test_code,
        )  # fmt: skip


def _instances_for(
    pch_header: Path | None, code: str, test_code: str | None, flags: tuple[str, ...], config: VerifierConfig
) -> Path | None:
    """The PCH entry whose prebuilt instantiations this build may use (instances.py), if any."""
    if not config.use_instances or pch_header is None:
        return None
    prebuilt = instances.ready(pch_header.parent)
    rest = code[leading_block(code).end :]
    if prebuilt is None or not instances.eligible(rest, test_code, flags, may_hold_directives(rest)):
        return None
    instances.STATS["used"] += 1
    return prebuilt


def _clear_build_products(workdir: Path) -> None:
    """Before a second build in the same dir: the program is left mode 0111, so remove it first."""
    for name in (PROGRAM_NAME, OBJECT_NAME):
        with contextlib.suppress(FileNotFoundError):
            (workdir / name).unlink()


def _analyse_directives(
    workdir: Path,
    code: str,
    *,
    std: str,
    flags: tuple[str, ...],
    pch_header: Path | None,
    config: VerifierConfig,
    sandboxed: bool,
) -> GuardAnalysis:
    """GCC's view of the candidate's directives, when it may hold any past its include block."""
    rest = code[leading_block(code).end :]
    if not may_hold_directives(rest):
        # No macro can build an identifier here: the text is what GCC reads.
        return GuardAnalysis("", refusal=MANGLED_NAME if may_name_mangled_symbol(rest) else None)
    if tampers_then_includes(rest):
        # The header would be compiled under the candidate's macros or pragmas, and with it the
        # library code the test's own comparisons run.
        return GuardAnalysis("", refusal=TAMPERED_HEADERS)
    try:
        return macro_guard(config, sandboxed).analyse(workdir, code, std, flags, pch_header)
    except SandboxFailedError as exc:
        return GuardAnalysis("", failed=True, infra_error=str(exc))


def _open_to_sandbox_user(workdir: Path) -> None:
    """When root, the sandbox runs as nobody: let it write the work dir (only that dir)."""
    if os.geteuid() == 0:
        os.chown(workdir, NOBODY_UID, NOBODY_UID)
    (workdir / SCRATCH_DIR).mkdir()


def _infra_result(error: str, structured: bool) -> VerifyResult:
    outcome = BuildOutcome(
        compile_ok=False, linked=False, output="", error_class=ErrorClass.SANDBOX_ERROR, sandbox_error=error
    )
    return _result_from_build(outcome, structured)


def _empty_source_result(structured: bool) -> VerifyResult:
    diag = Diagnostic("solution.cpp", None, None, "error", "empty source: nothing to compile")
    return VerifyResult(
        compile_ok=False, warnings=0, warning_lines=[], run_ok=False, stdout="", stderr="empty source",
        returncode=None, tests_passed=0, tests_total=0, error_class=ErrorClass.SYNTAX,
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
        error_class=built.error_class,
        diagnostics=list(built.diagnostics) if structured else [],
        compile_output=built.output,
        compile_s=built.compile_s,
        infra_error=built.sandbox_error,
    )


def run_limits(timeout: float, sanitized: bool, config: VerifierConfig) -> SandboxLimits:
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


def _run_spec(
    workdir: Path, *, timeout: float, sanitized: bool, config: VerifierConfig, nonce_fd: int, verdict: tuple[int, int]
) -> SandboxSpec:
    """The run's sandbox. `verdict`: (read end, write end) of the records' pipe. Sanitizer builds need
    /proc and ptrace for their leak checker: no seccomp there, and so no test credit either."""
    verdict_r, verdict_w = verdict
    env = {
        "CPPFORGE_NONCE_FD": str(nonce_fd),
        "CPPFORGE_VERDICT_FD": str(verdict_w),
        "CPPFORGE_SECCOMP": "off" if sanitized else "on",
        "ASAN_OPTIONS": "detect_leaks=1:exitcode=23",
        "UBSAN_OPTIONS": "print_stacktrace=1",
    }
    return SandboxSpec(
        argv=[str(workdir / PROGRAM_NAME)],
        workdir=workdir,
        limits=run_limits(timeout, sanitized, config),
        scratch_name=SCRATCH_DIR,
        scratch_bytes=config.scratch_bytes,
        pass_fds=(nonce_fd, verdict_w),
        env=env,
        mount_proc=sanitized,
        seccomp_program=sanitizer_filter() if sanitized else process_filter(),
        capture_fds={"verdict": verdict_r},
        close_after_start=(verdict_w,),
    )


def _run(
    workdir: Path,
    result: VerifyResult,
    *,
    timeout: float,
    flags: Sequence[str],
    has_tests: bool,
    config: VerifierConfig,
    sandboxed: bool,
    structured: bool,
    test_code: str | None = None,
) -> VerifyResult:
    nonce = harness.new_nonce()
    sanitized = is_sanitizer_build(flags)
    nonce_r, nonce_w = os.pipe()
    verdict_r, verdict_w = os.pipe()
    try:
        # Masked: the runner keeps mask and masked nonce apart and unmasks only to write a record.
        mask = secrets.token_bytes(len(nonce))
        masked = bytes(a ^ b for a, b in zip(nonce.encode(), mask, strict=True))
        os.write(nonce_w, mask + masked)
        os.close(nonce_w)
        spec = _run_spec(
            workdir,
            timeout=timeout,
            sanitized=sanitized,
            config=config,
            nonce_fd=nonce_r,
            verdict=(verdict_r, verdict_w),
        )
        out = run_sandboxed(spec, sandboxed=sandboxed)
    finally:
        os.close(nonce_r)
        os.close(verdict_r)
    verdict = read_verdict(out.captured.get("verdict", b"").decode(errors="replace"), nonce)
    stderr = out.stderr.decode(errors="replace")
    ended_normally = (
        out.sandbox_error is None
        and out.returncode is not None
        and out.signal is None
        and not out.timed_out
        and not out.output_overflow
    )
    exit_ok = ended_normally and out.returncode == 0
    passed, total = score_tests(
        verdict,
        ended_normally=ended_normally,
        exit_ok=exit_ok,
        has_tests=has_tests,
        marker_expected=harness.expects_marker(test_code),
    )
    if sanitized:
        passed = 0  # no seccomp in a sanitizer run: its records prove nothing (see _run_spec)
    # With tests, a clean run means the user's main returned: exit(0) before the tests is not one.
    completed = exit_ok and (verdict.returned or not has_tests)
    result.ran = True
    result.run_ok = completed
    result.main_returned = verdict.returned
    result.stdout = out.stdout.decode(errors="replace")
    result.stderr = stderr
    result.returncode = out.returncode
    result.signal = out.signal
    result.tests_passed, result.tests_total = passed, total
    result.run_s = out.wall_s
    result.stdout_truncated, result.stderr_truncated = out.stdout_truncated, out.stderr_truncated
    result.infra_error = out.sandbox_error or (
        "the verifier's runner could not install its seccomp filter" if verdict.infra and not sanitized else None
    )
    result.error_class = _run_error_class(out, stderr, completed, result.infra_error)
    return result


def _run_error_class(out: Any, stderr: str, clean_exit: bool, infra_error: str | None) -> ErrorClass:
    if infra_error:
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
