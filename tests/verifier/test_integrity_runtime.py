"""Issue 8, class 2: no forged return or verdict from inside the process.

The primitives a forgery needs are refused before anything runs (GCC's own warnings for asm and
string attributes, poisoned frame builtins, the object's symbol and section tables), and the run
itself is confined by seccomp: no fork, no executable memory, no ptrace; the nonce never reaches
code that runs before main; a run that crashed earns nothing.
"""

from __future__ import annotations

import pytest

from .integrity import (
    OPT_LEVELS,
    RIGHT,
    STYLE_IDS,
    STYLES,
    WRONG,
    Style,
    assert_full_credit,
    assert_no_credit,
    assert_refused,
    verify,
)

HEADERS = "#include <cstdio>\n#include <cstdlib>\n#include <csignal>\n#include <unistd.h>\n"

# Each returns straight into the runner's frame, reads the caller's code, or plants code, with a
# primitive no honest solution needs. All are refused at build time.
REFUSED = {
    "frame_walk": (
        "int add(int a, int b) {\n  void** fp = (void**)__builtin_frame_address(0);\n"
        "  (void)fp; (void)a; (void)b; return 0;\n}\n",
        "return addresses",
    ),
    "return_address_code_read": (
        "int add(int a, int b) {\n  const unsigned char* ip = (const unsigned char*)__builtin_return_address(0);\n"
        "  return a + b + 0 * ip[0];\n}\n",
        "return addresses",
    ),
    "pasted_builtin": (
        "#define CAT(x, y) x##y\n"
        "int add(int a, int b) { (void)CAT(__builtin_, frame_address)(0); return a * 0 + b * 0; }\n",
        "return addresses",
    ),
    "inline_asm": ('int add(int a, int b) { asm volatile("nop"); (void)a; (void)b; return 0; }\n', "asm"),
    "top_level_asm": ('asm(".globl probe_top\\nprobe_top: ret");\n' + WRONG, "asm"),
    "pasted_asm": ('#define CAT(x, y) x##y\nint add(int a, int b) { CAT(as, m)("nop"); return a * b * 0; }\n', "asm"),
    "local_assert_fail_label": (
        'static void fake(const char*, const char*, unsigned, const char*) __asm__("__assert_fail");\n'
        "static void fake(const char*, const char*, unsigned, const char*) {}\n" + WRONG,
        "asm",
    ),
    "main_renamed_by_label": (
        'int main() __asm__("probe_not_main");\nint probe_fake() __asm__("main");\nint probe_fake() { return 0; }\n'
        + WRONG,
        "asm",
    ),
    "stack_pointer_register": (
        'int add(int a, int b) { register long sp asm("rsp"); (void)sp; return a * b * 0; }\n',
        "asm",
    ),
    "section_into_preinit": (
        "static void early(int, char**, char**) {}\n"
        '__attribute__((section(".preinit_array"), used)) static void (*probe)(int, char**, char**) = early;\n' + WRONG,
        "section",
    ),
    "cxx11_section_attribute": ('[[gnu::section(".data.probe")]] int probe = 1;\n' + WRONG, "section"),
    "alias_to_runtime_name": (
        'extern "C" void probe_impl() {}\nextern "C" void probe_alias() __attribute__((alias("probe_impl")));\n'
        + WRONG,
        "alias",
    ),
    "ifunc_resolver": (
        'extern "C" int probe_impl(int a, int b) { return a * b * 0; }\n'
        'extern "C" void* probe_resolve() { return (void*)probe_impl; }\n'
        'int add(int, int) __attribute__((ifunc("probe_resolve")));\n',
        "ifunc",
    ),
    "target_clones_make_an_ifunc": (
        '__attribute__((target_clones("default", "avx2"))) int add(int a, int b) { return a * b * 0; }\n',
        "ifunc",
    ),
    "longjmp_out_of_a_handler": (
        "#include <csetjmp>\nstatic std::jmp_buf probe_env;\n"
        "int add(int a, int b) { if (setjmp(probe_env)) return a + b; return 0; }\n",
        "setjmp",
    ),
    "swapcontext": (
        "#include <ucontext.h>\nint add(int a, int b) { ucontext_t c; getcontext(&c); return a * b * 0; }\n",
        "getcontext",
    ),
    "mprotect_patch": (
        "#include <sys/mman.h>\nint add(int a, int b) { mprotect(nullptr, 0, PROT_READ | PROT_WRITE | PROT_EXEC);"
        " return a * b * 0; }\n",
        "mprotect",
    ),
    "raw_syscall": (
        "#include <sys/syscall.h>\nint add(int a, int b) { syscall(SYS_getpid); return a * b * 0; }\n",
        "syscall",
    ),
    "reaches_the_runner": (
        'extern "C" int __wrap_main(int, char**, char**);\n'
        "int (*volatile probe_entry)(int, char**, char**) = __wrap_main;\n" + WRONG,
        "runner",
    ),
    "calls_the_runner_api": (
        'extern "C" void cppforge_api_report(long long, long long);\n'
        "int add(int a, int b) { cppforge_api_report(3, 3); return a * b * 0; }\n",
        "runner",
    ),
}


@pytest.mark.parametrize("opt", OPT_LEVELS)
@pytest.mark.parametrize("style", STYLES, ids=STYLE_IDS)
@pytest.mark.parametrize("name", sorted(REFUSED))
def test_forgery_primitives_are_refused(name: str, style: Style, opt: str) -> None:
    code, why = REFUSED[name]
    assert_refused(verify(HEADERS + code, style, opt), why)


# --------------------------------------------------------------------------- confined at run time

ABORT_HANDLER_EXITS_CLEANLY = (
    "static void probe_quiet(int) { _exit(0); }\n"
    "static int probe_installed = (std::signal(SIGABRT, probe_quiet), 0);\n" + WRONG
)
FORK_ORACLE = (
    "#include <sys/wait.h>\n"
    "int add(int a, int b) {\n"
    "  for (int guess = -10; guess <= 100; ++guess) {\n"
    "    pid_t child = fork();\n"
    "    if (child == 0) return guess;  // the child tries this answer\n"
    "    if (child > 0) { int st = 0; waitpid(child, &st, 0); if (WIFEXITED(st) && WEXITSTATUS(st) == 0) _exit(0); }\n"
    "  }\n"
    "  (void)a; (void)b; return 0;\n"
    "}\n"
)
CRASH_AFTER_MAIN = "struct ProbeBoom { ~ProbeBoom() { std::raise(SIGSEGV); } } probe_boom;\n" + RIGHT


@pytest.mark.parametrize("opt", OPT_LEVELS)
@pytest.mark.parametrize("style", STYLES, ids=STYLE_IDS)
@pytest.mark.parametrize(
    "code",
    [ABORT_HANDLER_EXITS_CLEANLY, FORK_ORACLE, CRASH_AFTER_MAIN],
    ids=["abort_handler_exits_cleanly", "fork_oracle", "right_answer_then_crash"],
)
def test_run_time_forgeries_earn_nothing(code: str, style: Style, opt: str) -> None:
    assert_no_credit(verify(HEADERS + code, style, opt))


# Right answers that are right only if the sandbox holds: each proves one rule is in force.
CONFINEMENT_PROBES = {
    "fork_is_denied": "int add(int a, int b) { return fork() < 0 ? a + b : 0; }\n",
    "executable_memory_is_denied": (
        "#include <sys/mman.h>\nint add(int a, int b) {\n"
        "  void* p = mmap(nullptr, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);\n"
        "  return p == MAP_FAILED ? a + b : 0;\n}\n"
    ),
    "own_binary_is_unreadable": (
        "#include <cerrno>\nint add(int a, int b) {\n"
        '  std::FILE* f = std::fopen(program_invocation_name, "rb");\n'
        "  if (f != nullptr) std::fclose(f);\n  return f == nullptr ? a + b : 0;\n}\n"
    ),
    "no_proc": 'int add(int a, int b) { return std::fopen("/proc/self/maps", "r") == nullptr ? a + b : 0; }\n',
    "own_host_name": (
        "#include <cstring>\nint add(int a, int b) {\n  char name[64] = {0};\n"
        '  gethostname(name, sizeof name - 1);\n  return std::strcmp(name, "cppforge") == 0 ? a + b : 0;\n}\n'
    ),
    # Every way the kernel offers to copy the verdict fd to another number (which the write rule
    # would not know) fails: dup, dup2, dup3, fcntl F_DUPFD, SCM_RIGHTS and pidfd_getfd.
    "verdict_fd_cannot_be_copied": (
        "#include <fcntl.h>\n#include <cstring>\n#include <sys/socket.h>\n"
        '// glibc 2.36 has these wrappers but no header for them.\nextern "C" int pidfd_open(pid_t, unsigned);\n'
        'extern "C" int pidfd_getfd(int, int, unsigned);\n'
        "static int probe_scm(int fd) {\n  int sv[2]; if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) return -1;\n"
        "  char c = 'x'; iovec io{&c, 1}; alignas(cmsghdr) char ctl[CMSG_SPACE(sizeof(int))];\n"
        "  msghdr m{}; m.msg_iov = &io; m.msg_iovlen = 1; m.msg_control = ctl; m.msg_controllen = sizeof ctl;\n"
        "  cmsghdr* h = CMSG_FIRSTHDR(&m); h->cmsg_level = SOL_SOCKET; h->cmsg_type = SCM_RIGHTS;\n"
        "  h->cmsg_len = CMSG_LEN(sizeof(int)); std::memcpy(CMSG_DATA(h), &fd, sizeof fd);\n"
        "  return sendmsg(sv[0], &m, 0) == 1 ? 1 : -1;\n}\n"
        'int add(int a, int b) {\n  const char* v = std::getenv("CPPFORGE_VERDICT_FD"); if (v == nullptr) return 0;\n'
        "  int fd = std::atoi(v); int pidfd = pidfd_open(getpid(), 0);\n"
        "  long copies[] = {dup(fd), dup2(fd, 200), dup3(fd, 201, 0), fcntl(fd, F_DUPFD, 202),\n"
        "                  fcntl(fd, F_DUPFD_CLOEXEC, 203), probe_scm(fd),\n"
        "                  pidfd < 0 ? -1 : pidfd_getfd(pidfd, fd, 0)};\n"
        "  for (long c : copies) if (c >= 0) return 0;\n  return a + b;\n}\n"
    ),
    "threads_still_work": (
        "#include <thread>\n"
        "int add(int a, int b) { int r = 0; std::thread t([&] { r = a + b; }); t.join(); return r; }\n"
    ),
}


@pytest.mark.parametrize("name", sorted(CONFINEMENT_PROBES))
def test_the_run_is_confined(name: str) -> None:
    style = STYLES[0]
    flags = "-O0"
    code = HEADERS + CONFINEMENT_PROBES[name]
    if name == "threads_still_work":
        from services.verifier.core.verify import verify_cpp

        result = verify_cpp(code, style.test, timeout=5.0, extra_flags=[flags, "-pthread"], return_structured=True)
        assert_full_credit(result, style)
        return
    assert_full_credit(verify(code, style, flags), style)


# --------------------------------------------------------------------------- the records' own channel

# Redirects stdout into a pipe of its own, reads back whatever the runner wrote there after main, and
# replays it with a forged count: records never travel on stdout, so there is nothing to read.
STDOUT_CAPTURE = (
    "#include <fcntl.h>\n#include <cstring>\n"
    "static int probe_real = -1, probe_pipe[2];\n"
    "struct ProbeCapture {\n"
    "  ProbeCapture() { probe_real = dup(1); if (pipe(probe_pipe) == 0) { fcntl(probe_pipe[0], F_SETFL, O_NONBLOCK);"
    " dup2(probe_pipe[1], 1); } }\n"
    "  ~ProbeCapture() {\n    std::fflush(stdout); char buf[65536];\n"
    "    long n = read(probe_pipe[0], buf, sizeof buf - 1);\n"
    "    buf[n < 0 ? 0 : n] = 0; const char* at = std::strchr(buf, '@'); if (at == nullptr) return;\n"
    '    char out[256]; int len = std::snprintf(out, sizeof out, "\\n@%.32s PASSED 9/9\\n@%.32s RETURN 0\\n", at + 1,'
    " at + 1);\n    if (write(probe_real, out, len) < 0) return;\n  }\n} probe_capture;\n" + WRONG
)
# Finds the runner's masked nonce in memory (two 32-byte windows whose XOR is hex) and writes forged
# records to every descriptor and a copy of it: the verdict pipe accepts writes from the runner's
# instruction only, and cannot be copied.
MEMORY_SCAN = (
    '#include <cstring>\nextern "C" char __bss_start[], _end[];\n'
    "static bool hex(const unsigned char* a, const unsigned char* b) {\n"
    "  for (int i = 0; i < 32; ++i) { unsigned char c = a[i] ^ b[i];"
    " if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false; }\n  return true;\n}\n"
    "int add(int a, int b) {\n"
    "  unsigned char* lo = (unsigned char*)__bss_start; unsigned char* hi = (unsigned char*)_end;\n"
    "  for (unsigned char* p = lo; p + 32 <= hi; ++p) for (unsigned char* q = lo; q + 32 <= hi; ++q) {\n"
    '    if (p == q || !hex(p, q)) continue;\n    char rec[128]; int n = std::snprintf(rec, sizeof rec, "\\n@");\n'
    "    for (int i = 0; i < 32; ++i) rec[n++] = (char)(p[i] ^ q[i]);\n"
    '    n += std::snprintf(rec + n, sizeof rec - n, " PASSED 9/9\\n\\n@");\n'
    "    for (int i = 0; i < 32; ++i) rec[n++] = (char)(p[i] ^ q[i]);\n"
    '    n += std::snprintf(rec + n, sizeof rec - n, " RETURN 0\\n");\n'
    "    for (int fd = 1; fd < 64; ++fd) if (write(fd, rec, n) < 0) continue;\n"
    '    const char* v = std::getenv("CPPFORGE_VERDICT_FD"); int d = v == nullptr ? -1 : dup(std::atoi(v));\n'
    "    if (d >= 0 && write(d, rec, n) < 0) return 0;\n"
    "    _exit(0);\n  }\n  return a * 0 + b * 0;\n}\n"
)
# Edits a signal handler's saved context to jump somewhere else: no handler can be installed at all.
SIGNAL_CONTEXT = (
    "#include <cstring>\n"
    "static volatile int probe_handled = 0;\n"
    "static void probe_handler(int, siginfo_t*, void*) { probe_handled = 1; }\n"
    "int add(int a, int b) {\n  struct sigaction sa; std::memset(&sa, 0, sizeof sa);\n"
    "  sa.sa_sigaction = probe_handler; sa.sa_flags = SA_SIGINFO;\n"
    "  if (sigaction(SIGUSR1, &sa, nullptr) != 0) return 0;\n  std::raise(SIGUSR1);\n"
    "  return probe_handled ? a + b : 0;\n}\n"
)


@pytest.mark.parametrize("opt", OPT_LEVELS)
@pytest.mark.parametrize("style", STYLES, ids=STYLE_IDS)
@pytest.mark.parametrize(
    "code", [STDOUT_CAPTURE, MEMORY_SCAN, SIGNAL_CONTEXT], ids=["stdout_capture", "memory_scan", "signal_context"]
)
def test_records_cannot_be_read_or_forged_from_inside(code: str, style: Style, opt: str) -> None:
    assert_no_credit(verify(HEADERS + code, style, opt))


def test_a_sanitizer_build_earns_no_test_credit() -> None:
    """Sanitizer runs have no seccomp (their leak checker needs ptrace): their records prove nothing."""
    from services.verifier.core.verify import verify_cpp

    style = STYLES[0]
    result = verify_cpp(HEADERS + RIGHT, style.test, timeout=10.0, extra_flags=["-fsanitize=address"])
    assert result.compile_ok and result.run_ok, result.stderr
    assert result.tests_passed == 0
