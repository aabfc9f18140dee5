"""The seccomp filter bubblewrap installs before it execs a candidate's program (the kernel's view).

Process-level rules only, so that the program still starts (the dynamic loader maps code):
no process other than a thread of this one (fork/vfork, clone without CLONE_THREAD; clone3 answers
ENOSYS so glibc falls back to clone), no ptrace or cross-process memory access, no personality
change (READ_IMPLIES_EXEC would make every later mapping executable), no io_uring, userfaultfd,
bpf, perf events, keyrings, mounts or namespace changes. A foreign architecture or the x32 ABI
kills the process. The verifier's runner adds the memory rules (no PROT_EXEC mappings, no exec)
once the loader is done; see runtime/runner.cpp.

The program is classic BPF as `struct sock_filter` words, the form `bwrap --seccomp FD` reads.
"""

from __future__ import annotations

import platform
import struct
from collections.abc import Iterable
from functools import lru_cache

# linux/audit.h, linux/seccomp.h, linux/filter.h
AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
SECCOMP_RET_KILL_PROCESS = 0x80000000
SECCOMP_RET_ERRNO = 0x00050000
SECCOMP_RET_ALLOW = 0x7FFF0000
EPERM, ENOSYS = 1, 38
CLONE_THREAD = 0x00010000
_LD_ABS_W, _JEQ, _JGE, _JSET, _RET = 0x20, 0x15, 0x35, 0x45, 0x06
_NR_OFFSET, _ARCH_OFFSET, _ARGS_OFFSET = 0, 4, 16
X32_SYSCALL_BIT = 0x40000000

# System call numbers (checked against the kernel headers by tests/verifier/test_seccomp.py).
SYSCALLS: dict[str, dict[str, int]] = {
    "x86_64": {
        "fork": 57, "vfork": 58, "clone": 56, "clone3": 435, "ptrace": 101, "process_vm_readv": 310,
        "process_vm_writev": 311, "personality": 135, "userfaultfd": 323, "perf_event_open": 298,
        "bpf": 321, "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427,
        "kcmp": 312, "mount": 165, "umount2": 166, "pivot_root": 155, "chroot": 161, "unshare": 272,
        "setns": 308, "keyctl": 250, "add_key": 248, "request_key": 249,
    },
    "aarch64": {
        "clone": 220, "clone3": 435, "ptrace": 117, "process_vm_readv": 270, "process_vm_writev": 271,
        "personality": 92, "userfaultfd": 282, "perf_event_open": 241, "bpf": 280,
        "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427, "kcmp": 272,
        "mount": 40, "umount2": 39, "pivot_root": 41, "chroot": 51, "unshare": 97, "setns": 268,
        "keyctl": 219, "add_key": 217, "request_key": 218,
    },
}  # fmt: skip
DENIED = (
    "fork", "vfork", "ptrace", "process_vm_readv", "process_vm_writev", "personality", "userfaultfd",
    "perf_event_open", "bpf", "io_uring_setup", "io_uring_enter", "io_uring_register", "kcmp", "mount",
    "umount2", "pivot_root", "chroot", "unshare", "setns", "keyctl", "add_key", "request_key",
)  # fmt: skip


class SeccompUnsupportedError(RuntimeError):
    """No filter is known for this machine's architecture: refuse to run untrusted code."""


def _insn(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
    return struct.pack("<HBBI", code, jt, jf, k & 0xFFFFFFFF)


def _deny(nr: int, action: int) -> Iterable[bytes]:
    yield _insn(_JEQ, nr, 0, 1)
    yield _insn(_RET, action)


def _filter(arch: str | None, clone_rule: list[bytes], denied: tuple[str, ...]) -> bytes:
    """The common frame: the architecture check (a foreign one or x32 kills), `clone_rule`, clone3 -> ENOSYS (its
    flags lie in memory, out of a filter's reach; glibc falls back to clone), `denied` -> EPERM, else allow."""
    arch = arch or platform.machine()
    if arch not in SYSCALLS:
        raise SeccompUnsupportedError(f"no seccomp filter for architecture {arch!r}: refusing to run untrusted code")
    nrs = SYSCALLS[arch]
    out = [
        _insn(_LD_ABS_W, _ARCH_OFFSET),
        _insn(_JEQ, AUDIT_ARCH[arch], 1, 0),
        _insn(_RET, SECCOMP_RET_KILL_PROCESS),
        _insn(_LD_ABS_W, _NR_OFFSET),
    ]
    if arch == "x86_64":
        out += [_insn(_JGE, X32_SYSCALL_BIT, 0, 1), _insn(_RET, SECCOMP_RET_KILL_PROCESS)]
    out += [_insn(_JEQ, nrs["clone"], 0, len(clone_rule)), *clone_rule]
    out += _deny(nrs["clone3"], SECCOMP_RET_ERRNO | ENOSYS)
    for name in denied:
        if name in nrs:
            out += _deny(nrs[name], SECCOMP_RET_ERRNO | EPERM)
    out.append(_insn(_RET, SECCOMP_RET_ALLOW))
    return b"".join(out)


@lru_cache(maxsize=4)
def process_filter(arch: str | None = None) -> bytes:
    """The BPF program (see the module docstring) for `arch` (default: this machine's)."""
    # clone: allowed only with CLONE_THREAD in its flags (argument 0; the low word holds the bit).
    only_threads = [
        _insn(_LD_ABS_W, _ARGS_OFFSET),
        _insn(_JSET, CLONE_THREAD, 1, 0),
        _insn(_RET, SECCOMP_RET_ERRNO | EPERM),
        _insn(_RET, SECCOMP_RET_ALLOW),
    ]
    return _filter(arch, only_threads, DENIED)


# clone() flags that make a new namespace (linux/sched.h): NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET.
CLONE_NEW_NAMESPACES = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000
# What a sanitizer build must still never do. It needs what the process filter refuses (LeakSanitizer forks a
# tracer with clone and ptraces the program's threads; ASan may change its personality), so it gets this
# narrower filter: no namespaces (a nested user namespace would give the program root over its own mount and
# network namespaces, the way to the kernel's attack surface), no mounts, keyrings, bpf, io_uring, userfaultfd.
SANITIZER_DENIED = (
    "unshare", "setns", "mount", "umount2", "pivot_root", "chroot", "keyctl", "add_key", "request_key", "bpf",
    "io_uring_setup", "io_uring_enter", "io_uring_register", "userfaultfd", "perf_event_open",
)  # fmt: skip


@lru_cache(maxsize=4)
def sanitizer_filter(arch: str | None = None) -> bytes:
    """The BPF program for sanitizer builds' runs (see SANITIZER_DENIED) for `arch` (default: this machine's)."""
    # clone: any flags but a new namespace.
    no_namespaces = [
        _insn(_LD_ABS_W, _ARGS_OFFSET),
        _insn(_JSET, CLONE_NEW_NAMESPACES, 0, 1),
        _insn(_RET, SECCOMP_RET_ERRNO | EPERM),
        _insn(_RET, SECCOMP_RET_ALLOW),
    ]
    return _filter(arch, no_namespaces, SANITIZER_DENIED)
