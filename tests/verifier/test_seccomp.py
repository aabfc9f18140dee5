"""The seccomp filter bubblewrap installs before exec (seccomp.py): right numbers, really enforced."""

from __future__ import annotations

import re
import struct
from pathlib import Path

import pytest

from services.verifier.core.sandbox import SandboxLimits, SandboxSpec, run_sandboxed
from services.verifier.core.seccomp import DENIED, SYSCALLS, SeccompUnsupportedError, process_filter

HEADERS = {
    "x86_64": Path("/usr/include/x86_64-linux-gnu/asm/unistd_64.h"),
    "aarch64": Path("/usr/include/asm-generic/unistd.h"),
}


@pytest.mark.parametrize("arch", sorted(SYSCALLS))
def test_syscall_numbers_match_the_kernel_headers(arch: str) -> None:
    header = HEADERS[arch]
    if not header.exists():
        pytest.fail(f"{header} is missing: install linux-libc-dev (a dependency of g++)")
    numbers = {m.group(1): int(m.group(2)) for m in re.finditer(r"#define __NR_(\w+) (\d+)", header.read_text())}
    for name, nr in SYSCALLS[arch].items():
        assert numbers.get(name) == nr, (arch, name)
    assert set(SYSCALLS[arch]) >= {"clone", "clone3"} and set(DENIED) & set(SYSCALLS[arch])


def test_program_is_whole_sock_filter_words_ending_in_allow() -> None:
    program = process_filter("x86_64")
    assert len(program) % 8 == 0
    code, _, _, k = struct.unpack("<HBBI", program[-8:])
    assert (code, k) == (0x06, 0x7FFF0000)  # BPF_RET | BPF_K, SECCOMP_RET_ALLOW


def test_unknown_architecture_fails_closed() -> None:
    with pytest.raises(SeccompUnsupportedError):
        process_filter("mips")


def run_sh(script: str, workdir: Path, seccomp: bool) -> bytes:
    limits = SandboxLimits(wall_s=10.0, cpu_s=10, memory_bytes=256 << 20, max_processes=16, file_size_bytes=1 << 20)
    spec = SandboxSpec(
        argv=["/bin/sh", "-c", script],
        workdir=workdir,
        limits=limits,
        seccomp_program=process_filter() if seccomp else None,
    )
    out = run_sandboxed(spec)
    assert out.sandbox_error is None, out
    return out.stdout + out.stderr


def test_filter_stops_new_processes_but_not_the_program(workdir: Path) -> None:
    script = "echo start; (echo in-child); echo end"
    assert b"in-child" in run_sh(script, workdir, seccomp=False)
    confined = run_sh(script, workdir, seccomp=True)
    assert b"start" in confined and b"in-child" not in confined


# A sanitizer build (-fsanitize=address, allowed to any caller) runs under sanitizer_filter: a nested user
# namespace would give the program root over its own mount and network namespaces (found by review: unshare
# answered 0 and the program became uid 0 in the verifier's container).
NAMESPACE_ESCAPES = r"""
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>
static char stack[65536];
static int child(void*) { return 0; }
int main() {
    int bad = 0;
    if (unshare(CLONE_NEWUSER) == 0) { puts("unshare user"); bad++; }
    if (unshare(CLONE_NEWNET) == 0) { puts("unshare net"); bad++; }
    int pid = clone(child, stack + sizeof stack, CLONE_NEWUSER | SIGCHLD, nullptr);
    if (pid > 0) { puts("clone newuser"); bad++; waitpid(pid, nullptr, 0); }
    if (mount("none", "/tmp", "tmpfs", 0, nullptr) == 0) { puts("mount"); bad++; }
    pid_t plain = fork();  // a plain child stays allowed (LeakSanitizer's tracer is one)
    if (plain == 0) _exit(0);
    if (plain < 0) { puts("fork refused"); bad++; } else waitpid(plain, nullptr, 0);
    return bad;
}
"""
LEAK = "#include <stdlib.h>\nint main() { void* p = malloc(64); p = 0; return 0; }\n"


def test_sanitizer_runs_cannot_make_namespaces_but_still_sanitize() -> None:
    from services.verifier.core.verify import verify_cpp

    result = verify_cpp(NAMESPACE_ESCAPES, extra_flags=["-fsanitize=address"], return_structured=True)
    assert result.compile_ok and result.infra_error is None, (result.compile_output, result.infra_error)
    assert result.run_ok and result.returncode == 0, (result.stdout, result.stderr)
    leak = verify_cpp(LEAK, extra_flags=["-fsanitize=address"], return_structured=True)
    assert not leak.run_ok and "LeakSanitizer" in leak.stderr, leak.stderr  # the tracer still works
