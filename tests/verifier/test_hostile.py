"""Hostile programs through `verify_cpp`: each must end in bounded time with an exact outcome.

Every test pins error_class / compile_ok / run_ok and the property the attack aims at (a host
write, a leak, a survivor, a hang). The conftest's autouse fixture additionally checks that no
temp dir and no process of the run (or of the verifier's cgroups) is left behind.
"""

from __future__ import annotations

import dataclasses
import os
import re
import secrets
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.verifier.core.sandbox import NOBODY_UID
from services.verifier.core.verify import VerifierConfig, VerifyResult, verify_cpp

OUTPUT_CAP = 64 * 1024
# Generous bounds: these tests check that nothing hangs, never how fast anything is.
SLACK_S = 3.0
COMPILE_BOUND_S = 15.0


def summary(r: VerifyResult) -> str:
    """The fields worth seeing when an assertion fails (long texts cut; a str, so pytest shows it all)."""
    fields = {
        "error_class": r.error_class,
        "compile_ok": r.compile_ok,
        "run_ok": r.run_ok,
        "ran": r.ran,
        "returncode": r.returncode,
        "signal": r.signal,
        "compile_s": round(r.compile_s, 2),
        "run_s": round(r.run_s, 2),
        "stdout": r.stdout[:600],
        "stderr": r.stderr[:600],
        "compile_output": r.compile_output[:600],
        "infra_error": r.infra_error,
    }
    return repr(fields)


def run(code: str, timeout: float = 5.0, **kwargs: object) -> VerifyResult:
    result = verify_cpp(code, timeout=timeout, return_structured=True, **kwargs)
    assert result.infra_error is None, summary(result)
    assert result.compile_s < COMPILE_BOUND_S, summary(result)
    assert result.run_s < timeout + SLACK_S, summary(result)
    return result


def all_text(r: VerifyResult) -> str:
    return "\n".join([r.stdout, r.stderr, r.compile_output, *(d.message for d in r.diagnostics), *r.warning_lines])


def assert_trivial_program_still_passes() -> None:
    r = run('#include <cstdio>\nint main() { std::puts("alive"); return 0; }\n')
    assert (r.error_class, r.compile_ok, r.run_ok) == ("none", True, True), summary(r)
    assert r.stdout.strip() == "alive", summary(r)


def processes_named(name: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            comm = Path(f"/proc/{entry}/comm").read_text().strip()
            state = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if comm == name and state not in ("Z", "X"):
            found.append(int(entry))
    return found


# --- resource bombs -------------------------------------------------------------------------


FORK_BOMB = """
#include <unistd.h>
int main() { while (1) fork(); }
"""


def test_fork_bomb_ends_at_the_deadline_and_the_machine_is_fine() -> None:
    started = time.monotonic()
    r = run(FORK_BOMB, timeout=2.0)
    # The pids cgroup caps the tree, fork() fails, and every process keeps spinning until the
    # wall-clock deadline kills the whole tree.
    assert (r.error_class, r.compile_ok, r.run_ok, r.ran) == ("runtime_timeout", True, False, True), summary(r)
    assert time.monotonic() - started < 2.0 + SLACK_S + COMPILE_BOUND_S
    assert_trivial_program_still_passes()


MEMORY_BOMB = """
#include <cstring>
#include <cstdio>
int main() {
  for (unsigned long i = 0;; ++i) {
    char* p = new char[16 << 20];
    std::memset(p, static_cast<int>(i), 16 << 20);
  }
}
"""


def test_memory_bomb_is_classed_memory() -> None:
    r = run(MEMORY_BOMB, timeout=10.0)
    assert (r.error_class, r.compile_ok, r.run_ok, r.ran) == ("memory", True, False, True), summary(r)
    # The cap (512 MiB by default) is hit long before the deadline.
    assert r.run_s < 8.0, summary(r)


INFINITE_LOOP = """
int main() {
  volatile unsigned long x = 0;
  for (;;) x = x + 1;
}
"""


def test_infinite_loop_times_out() -> None:
    r = run(INFINITE_LOOP, timeout=2.0)
    assert (r.error_class, r.compile_ok, r.run_ok, r.ran) == ("runtime_timeout", True, False, True), summary(r)
    assert r.run_s >= 1.5, summary(r)  # it really ran until (about) the deadline


def flood_program(stream: str) -> str:
    return f"""
#include <cstdio>
#include <string>
int main() {{
  std::string chunk(1 << 20, 'x');
  for (int i = 0; i < 100; ++i) std::fwrite(chunk.data(), 1, chunk.size(), {stream});
  return 0;
}}
"""


def test_stdout_flood_is_output_limit_and_capped() -> None:
    r = run(flood_program("stdout"), timeout=10.0)
    assert (r.error_class, r.compile_ok, r.run_ok, r.ran) == ("output_limit", True, False, True), summary(r)
    assert r.run_s < 5.0, summary(r)  # killed at the cap, not at the deadline
    assert r.stdout_truncated is True
    assert 0 < len(r.stdout.encode()) <= OUTPUT_CAP
    assert set(r.stdout) == {"x"}


def test_stderr_flood_is_output_limit_and_capped() -> None:
    r = run(flood_program("stderr"), timeout=10.0)
    assert (r.error_class, r.compile_ok, r.run_ok, r.ran) == ("output_limit", True, False, True), summary(r)
    assert r.run_s < 5.0, summary(r)
    assert r.stderr_truncated is True
    assert 0 < len(r.stderr.encode()) <= OUTPUT_CAP


def disk_fill_program(name: str, ignore_sigxfsz: bool = False) -> str:
    ignore = "std::signal(SIGXFSZ, SIG_IGN);" if ignore_sigxfsz else ""
    return f"""
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <string>
#include <unistd.h>
static void fill(const std::string& dir, const char* suffix) {{
  std::string path = dir + "/{name}" + suffix;
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) {{ std::printf("open %s failed: %s\\n", path.c_str(), std::strerror(errno)); return; }}
  static char block[1 << 20];
  std::memset(block, 'd', sizeof block);
  long long total = 0;
  for (;;) {{
    ssize_t n = write(fd, block, sizeof block);
    if (n <= 0) break;
    total += n;
  }}
  std::printf("wrote %lld bytes to %s then: %s\\n", total, path.c_str(), std::strerror(errno));
  std::fflush(stdout);
  close(fd);
}}
int main() {{
  {ignore}
  fill(".", "_cwd");
  const char* tmp = std::getenv("TMPDIR");
  fill(tmp ? tmp : "/tmp", "_tmpdir");
  return 0;
}}
"""


def assert_not_on_host(name: str) -> None:
    for where in ("/tmp", "/dev/shm", "/var/tmp", os.getcwd(), str(Path.home())):
        for suffix in ("_cwd", "_tmpdir"):
            assert not (Path(where) / (name + suffix)).exists(), where


def test_disk_fill_dies_of_sigxfsz_and_nothing_persists() -> None:
    name = f"cppforge_hostile_fill_{secrets.token_hex(6)}"
    r = run(disk_fill_program(name), timeout=5.0)
    # RLIMIT_FSIZE equals the scratch size: the write past it raises SIGXFSZ (25).
    assert (r.error_class, r.compile_ok, r.run_ok, r.ran) == ("runtime_crash", True, False, True), summary(r)
    assert r.signal == signal.SIGXFSZ, summary(r)
    assert r.returncode is None, summary(r)
    assert r.run_s < 4.0, summary(r)
    assert_not_on_host(name)


def test_disk_fill_ignoring_sigxfsz_hits_the_caps_and_nothing_persists() -> None:
    name = f"cppforge_hostile_fill_{secrets.token_hex(6)}"
    r = run(disk_fill_program(name, ignore_sigxfsz=True), timeout=5.0)
    assert (r.error_class, r.compile_ok, r.run_ok, r.ran) == ("none", True, True, True), summary(r)
    # The file-size rlimit stops the first file at 16 MiB, the full 16 MiB tmpfs the second.
    assert re.search(r"wrote 16777216 bytes to \./\S+_cwd then: File too large", r.stdout), summary(r)
    match = re.search(r"wrote (\d+) bytes to \S+_tmpdir then: No space left on device", r.stdout)
    assert match and int(match.group(1)) < 1 << 20, summary(r)
    assert r.run_s < 4.0, summary(r)
    assert_not_on_host(name)


def write_probe_program(targets: list[str]) -> str:
    paths = ", ".join(f'"{t}"' for t in targets)
    return f"""
#include <cerrno>
#include <cstdio>
#include <cstring>
int main() {{
  const char* paths[] = {{{paths}}};
  for (const char* p : paths) {{
    FILE* f = std::fopen(p, "w");
    if (!f) {{ std::printf("%s: open failed: %s\\n", p, std::strerror(errno)); continue; }}
    bool ok = std::fputs("pwned", f) >= 0;
    ok = (std::fclose(f) == 0) && ok;
    std::printf("%s: write %s\\n", p, ok ? "succeeded" : "failed");
  }}
  return 0;
}}
"""


@pytest.fixture
def hostile_targets() -> Iterator[list[str]]:
    token = secrets.token_hex(8)
    targets = [f"/tmp/cppforge_hostile_{token}", f"/dev/shm/cppforge_hostile_{token}"]
    yield targets
    for target in targets:
        Path(target).unlink(missing_ok=True)


def test_writes_to_tmp_and_dev_shm_never_reach_the_host(hostile_targets: list[str]) -> None:
    r = run(write_probe_program(hostile_targets))
    assert (r.error_class, r.compile_ok, r.run_ok, r.ran) == ("none", True, True, True), summary(r)
    for target in hostile_targets:
        assert not Path(target).exists(), f"{target} was written on the host"
    tmp_target = hostile_targets[0]
    assert f"{tmp_target}: open failed: Read-only file system" in r.stdout, summary(r)


def test_dev_shm_is_read_only_inside_the_run(hostile_targets: list[str]) -> None:
    # docs/verifier.md: "read-only everything except a 16 MiB tmpfs scratch dir (cwd and TMPDIR)".
    r = run(write_probe_program(hostile_targets))
    assert (r.error_class, r.compile_ok, r.run_ok, r.ran) == ("none", True, True, True), summary(r)
    shm_target = hostile_targets[1]
    assert f"{shm_target}: open failed" in r.stdout, summary(r)
    assert "succeeded" not in r.stdout, summary(r)
    assert not Path(shm_target).exists()


NETWORK_PROBE = """
#include <arpa/inet.h>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
static void probe(const char* ip, int port) {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  if (s < 0) { std::printf("%s:%d connect failed: socket: %s\\n", ip, port, std::strerror(errno)); return; }
  timeval tv{1, 0};
  setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  inet_pton(AF_INET, ip, &addr.sin_addr);
  if (connect(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    std::printf("%s:%d connect failed: %s\\n", ip, port, std::strerror(errno));
  } else {
    const char ping[] = "PING\\r\\n";
    (void)!write(s, ping, sizeof ping - 1);
    char buf[64] = {0};
    ssize_t n = read(s, buf, sizeof buf - 1);
    std::printf("%s:%d CONNECTED reply=%s\\n", ip, port, n > 0 ? buf : "");
  }
  close(s);
}
int main() {
  probe("127.0.0.1", 6379);
  probe("1.1.1.1", 53);
  return 0;
}
"""


def test_network_is_unreachable() -> None:
    r = run(NETWORK_PROBE)
    assert (r.error_class, r.compile_ok, r.run_ok) == ("none", True, True), summary(r)
    assert "127.0.0.1:6379 connect failed" in r.stdout, summary(r)
    assert "1.1.1.1:53 connect failed" in r.stdout, summary(r)
    assert "CONNECTED" not in r.stdout and "PONG" not in r.stdout, summary(r)


# --- compile-time attacks -------------------------------------------------------------------


def _host_line(path: str) -> str | None:
    """A distinctive line of a host file, to prove its content never reached any output."""
    try:
        lines = [ln.strip() for ln in Path(path).read_text(errors="replace").splitlines()]
    except OSError:
        return None
    lines = [ln for ln in lines if len(ln) >= 8]
    return max(lines, key=len) if lines else None


@pytest.mark.parametrize("path", ["/etc/passwd", "/etc/hostname", "/root/.bashrc", "../../../../../../etc/passwd"])
def test_host_file_include_fails_without_leaking(path: str) -> None:
    r = run(f'#include "{path}"\nint main() {{ return 0; }}\n')
    assert (r.error_class, r.compile_ok, r.run_ok, r.ran) == ("syntax", False, False, False), summary(r)
    errors = [d for d in r.diagnostics if d.severity in ("error", "fatal error")]
    assert errors, summary(r)
    assert "No such file or directory" in errors[0].message, summary(r)
    text = all_text(r)
    assert "root:x:0:0" not in text
    host_path = path if path.startswith("/") else "/etc/passwd"
    line = _host_line(host_path)
    if line is not None:
        assert line not in text
    if host_path == "/etc/hostname":
        hostname = Path("/etc/hostname").read_text().strip()
        assert f"'{hostname}' does not name a type" not in text
        assert "does not name a type" not in text


def test_include_dev_zero_fails_quickly() -> None:
    r = run('#include "/dev/zero"\nint main() { return 0; }\n')
    assert (r.error_class, r.compile_ok, r.run_ok, r.ran) == ("syntax", False, False, False), summary(r)
    assert r.compile_s < 10.0, summary(r)
    assert "No such file or directory" in r.compile_output, summary(r)


def test_include_dev_stdin_fails() -> None:
    # No /dev/stdin (only /dev/null under /dev at compile time) and no /proc: a missing file.
    r = run('#include "/dev/stdin"\nint main() { return 0; }\n')
    assert (r.error_class, r.compile_ok, r.run_ok, r.ran) == ("syntax", False, False, False), summary(r)
    assert "/dev/stdin: No such file or directory" in r.compile_output, summary(r)


TEMPLATE_BOMB = """
template <unsigned long N> struct Bomb {
  static const unsigned long value = Bomb<N + 1>::value + Bomb<N + 2>::value;
};
int main() { return static_cast<int>(Bomb<0>::value); }
"""


def test_template_instantiation_bomb_is_a_quick_compile_error() -> None:
    r = run(TEMPLATE_BOMB)
    # docs/verifier.md classes by the first error: "undeclared names, syntax/preprocessor,
    # everything else type". Instantiation depth is neither syntax nor preprocessor.
    assert (r.error_class, r.compile_ok, r.run_ok, r.ran) == ("type", False, False, False), summary(r)
    assert "template instantiation depth exceeds maximum" in r.compile_output, summary(r)
    assert r.compile_s < 10.0, summary(r)


def _short_compile_config() -> VerifierConfig:
    return dataclasses.replace(VerifierConfig.from_settings(), compile_timeout_s=5.0)


CONSTEXPR_LOOP_BOMB = """
constexpr unsigned long long spin() {
  unsigned long long s = 0;
  for (unsigned long long i = 0; i < 1000000000ULL; ++i) s += i;
  return s;
}
constexpr unsigned long long kValue = spin();
int main() { return kValue == 0; }
"""


def test_constexpr_loop_bomb_hits_the_loop_limit() -> None:
    # One loop of 10^9 iterations: g++'s -fconstexpr-loop-limit (262144) refuses it at once.
    r = run(CONSTEXPR_LOOP_BOMB, config=_short_compile_config())
    assert (r.error_class, r.compile_ok, r.run_ok, r.ran) == ("type", False, False, False), summary(r)
    assert "'constexpr' loop iteration count exceeds limit" in r.compile_output, summary(r)
    assert r.compile_s < 5.0, summary(r)


CONSTEXPR_NESTED_BOMB = """
constexpr unsigned long long spin() {
  unsigned long long s = 0;
  for (unsigned long long i = 0; i < 40000ULL; ++i)
    for (unsigned long long j = 0; j < 25000ULL; ++j) s += i ^ j;
  return s;
}
constexpr unsigned long long kValue = spin();
int main() { return kValue == 0; }
"""


def test_constexpr_nested_bomb_hits_the_ops_limit() -> None:
    # 10^9 iterations with each loop under the loop limit: -fconstexpr-ops-limit (2^25) stops it
    # after a few seconds. A roomier compile deadline keeps a slow machine from turning this
    # into timeout_compile.
    config = dataclasses.replace(VerifierConfig.from_settings(), compile_timeout_s=30.0)
    r = run(CONSTEXPR_NESTED_BOMB, config=config)
    assert (r.error_class, r.compile_ok, r.run_ok, r.ran) == ("type", False, False, False), summary(r)
    assert "'constexpr' evaluation operation count exceeds limit" in r.compile_output, summary(r)


def constexpr_many_program(count: int) -> str:
    """`count` evaluations, each of about 1.2M iterations: every one stays under the ops limit."""
    values = "".join(f"constexpr unsigned long long k{i} = spin({i});\n" for i in range(count))
    total = " + ".join(f"k{i}" for i in range(count))
    return f"""
constexpr unsigned long long spin(unsigned long long seed) {{
  unsigned long long s = seed;
  for (unsigned long long i = 0; i < 600ULL; ++i)
    for (unsigned long long j = 0; j < 2000ULL; ++j) s += i ^ j;
  return s;
}}
{values}
int main() {{ return ({total}) == 0; }}
"""


def test_constexpr_under_every_limit_times_out_the_compile() -> None:
    # No single evaluation breaks a g++ limit; only the compile deadline stops the sum of them.
    r = run(constexpr_many_program(24), config=_short_compile_config())
    assert (r.error_class, r.compile_ok, r.run_ok, r.ran) == ("timeout_compile", False, False, False), summary(r)
    assert 4.5 <= r.compile_s < 5.0 + SLACK_S, summary(r)


HUGE_STATIC = """
static char big[4ULL << 30];
int main() { big[12345] = 1; return big[0]; }
"""


def test_four_gib_static_array_is_refused_at_link() -> None:
    # The 4 GiB .bss pushes the runtime's symbols out of reach of 32-bit PC-relative relocations.
    r = run(HUGE_STATIC)
    assert (r.error_class, r.compile_ok, r.run_ok, r.ran) == ("link", False, False, False), summary(r)
    assert re.search(r"relocation (overflow|truncated to fit)", r.compile_output), summary(r)
    assert r.compile_s < 10.0, summary(r)


def test_error_flood_is_capped() -> None:
    # Thousands of distinct errors, each naming a 20 000-character identifier: even the first
    # ten overflow the 64 KiB cap.
    ident = "v" * 20000
    lines = [f"int a{i} = {ident}_{i};" for i in range(3000)]
    r = run("\n".join(lines) + "\nint main() { return 0; }\n")
    assert (r.error_class, r.compile_ok, r.run_ok, r.ran) == ("undeclared", False, False, False), summary(r)
    assert 32 * 1024 < len(r.compile_output.encode()) <= OUTPUT_CAP + 1024, len(r.compile_output)
    assert len(r.stderr.encode()) <= OUTPUT_CAP + 1024, len(r.stderr)
    errors = [d for d in r.diagnostics if d.severity in ("error", "fatal error")]
    assert 1 <= len(errors) <= 11, len(errors)
    assert r.compile_s < 10.0, summary(r)


def test_error_flood_short_lines_stops_at_max_errors() -> None:
    lines = [f"int a{i} = undefined_{i};" for i in range(5000)]
    r = run("\n".join(lines) + "\nint main() { return 0; }\n")
    assert (r.error_class, r.compile_ok, r.run_ok, r.ran) == ("undeclared", False, False, False), summary(r)
    errors = [d for d in r.diagnostics if d.severity == "error"]
    assert len(errors) == 10, [d.message for d in errors]
    assert "undefined_10" not in r.compile_output
    assert "compilation terminated due to -fmax-errors=10" in r.compile_output, summary(r)


# --- escaping the run -----------------------------------------------------------------------


ORPHAN = """
#include <sys/prctl.h>
#include <unistd.h>
int main() {
  if (fork() == 0) {
    setsid();
    prctl(PR_SET_NAME, "cppforge_orphan", 0, 0, 0);
    sleep(60);
    return 0;
  }
  return 0;
}
"""


def test_orphan_child_does_not_outlive_the_run() -> None:
    started = time.monotonic()
    r = run(ORPHAN, timeout=10.0)
    elapsed = time.monotonic() - started
    assert (r.error_class, r.compile_ok, r.run_ok, r.ran) == ("none", True, True, True), summary(r)
    assert r.run_s < 5.0, summary(r)  # prompt: the orphan's 60 s sleep is not waited for
    assert elapsed < 20.0
    assert processes_named("cppforge_orphan") == []


ENVIRON_PROBE = """
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <unistd.h>
#include <string>
static void dump(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) { std::printf("== %s unreadable\\n", path.c_str()); return; }
  static char buf[16384];
  size_t n = std::fread(buf, 1, sizeof buf, f);
  std::fclose(f);
  for (size_t i = 0; i < n; ++i) if (buf[i] == '\\0') buf[i] = '\\n';
  std::printf("== %s\\n", path.c_str());
  std::fwrite(buf, 1, n, stdout);
  std::printf("\\n");
}
int main() {
  dump("/proc/self/environ");
  dump("/proc/1/environ");
  if (DIR* d = opendir("/proc")) {
    while (dirent* e = readdir(d)) {
      if (e->d_name[0] >= '0' && e->d_name[0] <= '9') dump(std::string("/proc/") + e->d_name + "/environ");
    }
    closedir(d);
  }
  const char* v = std::getenv("CPPFORGE_SECRET_PROBE");
  std::printf("getenv=%s\\n", v ? v : "(unset)");
  for (char** e = environ; *e != nullptr; ++e) std::printf("env %s\\n", *e);
  return 0;
}
"""


def test_environ_does_not_reveal_the_host_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CPPFORGE_SECRET_PROBE", "topsecret")
    r = run(ENVIRON_PROBE)
    assert (r.error_class, r.compile_ok, r.run_ok) == ("none", True, True), summary(r)
    assert "topsecret" not in r.stdout and "topsecret" not in r.stderr, summary(r)
    assert "getenv=(unset)" in r.stdout, summary(r)
    # No /proc to read other environments from; its own is the sandbox's clean one.
    assert "== /proc/self/environ unreadable" in r.stdout and "== /proc/1/environ unreadable" in r.stdout, summary(r)
    assert "env PATH=/usr/bin:/bin" in r.stdout, summary(r)


KILL_ALL = """
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
int main() {
  int rc = kill(-1, SIGKILL);
  std::printf("kill(-1) rc=%d errno=%s\\n", rc, rc == 0 ? "-" : std::strerror(errno));
  std::printf("still here\\n");
  return 0;
}
"""


def test_kill_minus_one_reaches_nothing_outside() -> None:
    # A host process of the sandbox's own uid (nobody): kill(-1) must not reach it either.
    bystander = subprocess.Popen(
        ["setpriv", f"--reuid={NOBODY_UID}", f"--regid={NOBODY_UID}", "--clear-groups", "sleep", "30"]
    )
    try:
        r = run(KILL_ALL)
        assert (r.error_class, r.compile_ok, r.run_ok) == ("none", True, True), summary(r)
        assert "still here" in r.stdout, summary(r)
        assert bystander.poll() is None, "kill(-1) from the sandbox killed a host process"
        os.kill(os.getpid(), 0)  # and this test process is obviously alive
    finally:
        bystander.kill()
        bystander.wait()


THREAD_BOMB = """
#include <cstdio>
#include <pthread.h>
static void* spin(void*) { for (;;) {} return nullptr; }
int main() {
  int created = 0;
  for (int i = 0; i < 20000; ++i) {
    pthread_t t;
    if (pthread_create(&t, nullptr, spin, nullptr) == 0) { pthread_detach(t); ++created; }
  }
  std::printf("created=%d\\n", created);
  return 0;
}
"""


def test_thread_bomb_is_bounded() -> None:
    r = run(THREAD_BOMB, timeout=5.0, extra_flags=["-pthread"])
    assert (r.error_class, r.compile_ok, r.run_ok) == ("none", True, True), summary(r)
    created = int(r.stdout.split("created=")[1].split()[0])
    assert 0 < created < 32, summary(r)  # the pids cgroup (run_max_processes=32) caps threads
