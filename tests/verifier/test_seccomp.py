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
