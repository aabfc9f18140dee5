// cppforge's verifier-owned runtime: the entry point, the verdict records and the run's seccomp filter.
//
// The program is linked with `-Wl,--wrap=main`: the C runtime's call to `main` lands in __wrap_main
// below, which calls the test's (or the candidate's) `main` as __real_main and records, with a
// per-run nonce, that it returned and with what status. Test code reports through the functions in
// the "API" section, which the verifier's guard block reaches only under per-run names (the linker
// aliases them with --defsym; an object that references these real names is refused before linking).
//
// Records go to their own file descriptor (CPPFORGE_VERDICT_FD, the write end of a pipe the verifier
// reads), never to stdout, and the kernel decides who may write there: the seccomp filter the runner
// installs lets exactly one instruction write to that fd (the `syscall` in cppforge_verdict_syscall
// below, checked by the instruction pointer) and forbids closing it or duplicating another fd onto it.
// So a candidate that knows the nonce, redirects stdout, rewrites the GOT or reads all of memory still
// cannot write a record. The nonce (CPPFORGE_NONCE_FD, read from .preinit_array before any code of
// the program or of a library constructor runs; kept as a mask and a masked copy, apart) stays as a
// second lock. Assertion failures are written and the process ended with raw system calls.
//
// The filter, installed right after the nonce is read (unless CPPFORGE_SECCOMP=off, which the
// verifier sets for sanitizer builds, which never earn test credit): no new executable memory and no
// change to the protection of code (mmap/mprotect/pkey_mprotect with PROT_EXEC, shmat with SHM_EXEC),
// no exec, no personality change, no new process other than a thread, no ptrace, no cross-process
// memory access, and no return from a signal handler: rt_sigreturn kills the process, so no handler's
// saved context can be edited to jump into the runner.
#include <cerrno>
#include <cstdarg>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <initializer_list>

#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/shm.h>
#include <sys/syscall.h>
#include <unistd.h>

extern "C" int __real_main(int, char**, char**);

namespace {

// ------------------------------------------------------------------------------- raw system calls

long raw_syscall(long nr, long a, long b, long c) {
#if defined(__x86_64__)
  long ret;
  asm volatile("syscall" : "=a"(ret) : "a"(nr), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
  return ret;
#elif defined(__aarch64__)
  register long x8 asm("x8") = nr;
  register long x0 asm("x0") = a;
  register long x1 asm("x1") = b;
  register long x2 asm("x2") = c;
  asm volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2) : "memory");
  return x0;
#else
  long ret = ::syscall(nr, a, b, c);
  return ret < 0 ? -errno : ret;
#endif
}

void write_all(int fd, const char* data, size_t len) {
  while (len > 0) {
    long n = raw_syscall(SYS_write, fd, reinterpret_cast<long>(data), static_cast<long>(len));
    if (n == -EINTR) continue;
    if (n <= 0) return;
    data += n;
    len -= static_cast<size_t>(n);
  }
}

[[noreturn]] void exit_now(int status) {
  for (;;) raw_syscall(SYS_exit_group, status, 0, 0);
}

}  // namespace

// The only instruction the filter lets write to the verdict fd: write(fd, buf, len), its address
// just past the system call is cppforge_verdict_after. Local symbols: nothing outside can name them.
#if defined(__x86_64__)
asm(".text\n"
    ".p2align 4\n"
    ".type cppforge_verdict_syscall, @function\n"
    "cppforge_verdict_syscall:\n"
    "  mov $1, %eax\n"  // SYS_write
    "  syscall\n"
    "cppforge_verdict_after:\n"
    "  ret\n"
    ".size cppforge_verdict_syscall, .-cppforge_verdict_syscall\n");
#elif defined(__aarch64__)
asm(".text\n"
    ".p2align 2\n"
    ".type cppforge_verdict_syscall, %function\n"
    "cppforge_verdict_syscall:\n"
    "  mov x8, #64\n"  // SYS_write
    "  svc #0\n"
    "cppforge_verdict_after:\n"
    "  ret\n"
    ".size cppforge_verdict_syscall, .-cppforge_verdict_syscall\n");
#endif
extern "C" long cppforge_verdict_syscall(long fd, const char* buf, long len);
extern "C" const char cppforge_verdict_after[];

namespace {

int g_verdict_fd = -1;

void write_verdict(const char* data, size_t len) {
#if defined(__x86_64__) || defined(__aarch64__)
  while (g_verdict_fd >= 0 && len > 0) {
    long n = cppforge_verdict_syscall(g_verdict_fd, data, static_cast<long>(len));
    if (n == -EINTR) continue;
    if (n <= 0) return;
    data += n;
    len -= static_cast<size_t>(n);
  }
#else
  if (g_verdict_fd >= 0) write_all(g_verdict_fd, data, len);
#endif
}

// A small fixed buffer that never allocates and never calls into libc.
struct Line {
  char data[1024];
  size_t len = 0;
  void put(const char* s) {
    while (s != nullptr && *s != '\0' && len < sizeof(data)) data[len++] = *s++;
  }
  void put(char c) {
    if (len < sizeof(data)) data[len++] = c;
  }
  void put(long long v) {
    char digits[24];
    size_t n = 0;
    unsigned long long u = v < 0 ? 0ULL - static_cast<unsigned long long>(v) : static_cast<unsigned long long>(v);
    do {
      digits[n++] = static_cast<char>('0' + u % 10);
      u /= 10;
    } while (u != 0);
    if (v < 0) put('-');
    while (n > 0) put(digits[--n]);
  }
  ~Line() {
    volatile char* p = data;
    for (size_t i = 0; i < sizeof(data); ++i) p[i] = 0;
  }
};

// ------------------------------------------------------------------------------- the nonce

constexpr size_t kNonceLen = 32;
// The nonce arrives as a random mask followed by nonce XOR mask; the two halves live apart.
unsigned char g_mask[kNonceLen];
size_t g_have = 0;
const char* g_program = "prog";
unsigned char g_masked[kNonceLen];

// A record the verifier trusts: "\n@<nonce> <kind> <a>[/<b>]\n" on the verdict fd, in one call.
void emit_record(const char* kind, long long a, const long long* b) {
  if (g_have != kNonceLen) return;
  Line line;
  line.put('\n');
  line.put('@');
  for (size_t i = 0; i < kNonceLen; ++i) line.put(static_cast<char>(g_mask[i] ^ g_masked[i]));
  line.put(' ');
  line.put(kind);
  line.put(' ');
  line.put(a);
  if (b != nullptr) {
    line.put('/');
    line.put(*b);
  }
  line.put('\n');
  write_verdict(line.data, line.len);
}

// ------------------------------------------------------------------------------- seccomp

#if defined(__x86_64__)
constexpr uint32_t kArch = AUDIT_ARCH_X86_64;
#elif defined(__aarch64__)
constexpr uint32_t kArch = AUDIT_ARCH_AARCH64;
#else
constexpr uint32_t kArch = 0;
#endif

constexpr uint32_t kDeny = SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA);

struct Filter {
  sock_filter code[512];
  unsigned short len = 0;
  bool overflow = false;
  void add(sock_filter f) {
    if (len < sizeof(code) / sizeof(code[0])) code[len++] = f;
    else overflow = true;
  }
  void load_nr() { add(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr))); }
  // Deny `nr` outright with `action`.
  void deny(long nr, uint32_t action = kDeny) {
    add(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, static_cast<uint32_t>(nr), 0, 1));
    add(BPF_STMT(BPF_RET | BPF_K, action));
  }
  // Deny `nr` when (low word of) argument `arg` has any bit of `mask` set (or clear, if !when_set).
  // Deny `nr` when any of its arguments `args` (argument numbers) equals `fd` (its low word: fds
  // are small). One rule per system call: like every rule that loads an argument, it returns.
  void deny_fd(long nr, std::initializer_list<unsigned> args, uint32_t fd) {
    const auto n = static_cast<unsigned char>(args.size());
    add(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, static_cast<uint32_t>(nr), 0, static_cast<unsigned char>(2 * n + 2)));
    unsigned char left = n;
    for (unsigned arg : args) {
      --left;
      add(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, static_cast<uint32_t>(offsetof(seccomp_data, args) + 8 * arg)));
      add(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, fd, static_cast<unsigned char>(2 * left + 1), 0));
    }
    add(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
    add(BPF_STMT(BPF_RET | BPF_K, kDeny));
  }
  // `nr` may write to `fd` (argument 0) only from the instruction just before `ip`.
  void only_from(long nr, uint32_t fd, uint64_t ip) {
    add(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, static_cast<uint32_t>(nr), 0, 8));
    add(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, static_cast<uint32_t>(offsetof(seccomp_data, args))));
    add(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, fd, 0, 5));  // another fd: allow
    add(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, static_cast<uint32_t>(offsetof(seccomp_data, instruction_pointer))));
    add(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, static_cast<uint32_t>(ip), 0, 2));
    add(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, static_cast<uint32_t>(offsetof(seccomp_data, instruction_pointer) + 4)));
    add(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, static_cast<uint32_t>(ip >> 32), 1, 0));
    add(BPF_STMT(BPF_RET | BPF_K, kDeny));
    add(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
  }
  void deny_arg(long nr, unsigned arg, uint32_t mask, bool when_set = true) {
    add(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, static_cast<uint32_t>(nr), 0, 4));
    add(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, static_cast<uint32_t>(offsetof(seccomp_data, args) + 8 * arg)));
    const unsigned char to_deny = when_set ? 0 : 1, to_allow = when_set ? 1 : 0;
    add(BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, mask, to_deny, to_allow));
    add(BPF_STMT(BPF_RET | BPF_K, kDeny));
    add(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
  }
};

bool install_seccomp() {
  if (kArch == 0) return false;
  Filter f;
  f.add(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)));
  f.add(BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, kArch, 1, 0));
  f.add(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS));
  f.load_nr();
#if defined(__x86_64__)
  // x32 system calls reach the same kernel entry points under other numbers.
  f.add(BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000u, 0, 1));
  f.add(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS));
  f.deny(SYS_fork);
  f.deny(SYS_vfork);
#endif
  // Executable memory: neither new nor changed.
  // (A rule that loads an argument always returns, so the accumulator still holds nr after a miss.)
  f.deny_arg(SYS_mmap, 2, PROT_EXEC);
  f.deny_arg(SYS_mprotect, 2, PROT_EXEC);
  f.deny_arg(SYS_pkey_mprotect, 2, PROT_EXEC);
  f.deny_arg(SYS_shmat, 2, SHM_EXEC);
  // A new process only as a thread of this one.
  f.deny_arg(SYS_clone, 0, CLONE_THREAD, /*when_set=*/false);
  f.deny(SYS_clone3, SECCOMP_RET_ERRNO | (ENOSYS & SECCOMP_RET_DATA));  // glibc falls back to clone
  // The verdict fd: written only by cppforge_verdict_syscall, never closed, never replaced, never
  // copied (a copy would be another number, which the write rule would not know). The kernel copies
  // an fd only through dup/dup2/dup3, fcntl's F_DUPFD, SCM_RIGHTS (sendmsg), pidfd_getfd and
  // io_uring (denied below), and /proc/self/fd (no /proc in the sandbox).
  if (g_verdict_fd >= 0) {
    const uint32_t v = static_cast<uint32_t>(g_verdict_fd);
    f.only_from(SYS_write, v, reinterpret_cast<uint64_t>(cppforge_verdict_after));
    f.deny_fd(SYS_writev, {0}, v);
    f.deny_fd(SYS_pwrite64, {0}, v);
    f.deny_fd(SYS_pwritev, {0}, v);
    f.deny_fd(SYS_pwritev2, {0}, v);
    f.deny_fd(SYS_sendfile, {0}, v);
    f.deny_fd(SYS_copy_file_range, {2}, v);
    f.deny_fd(SYS_splice, {2}, v);
    f.deny_fd(SYS_tee, {1}, v);
    f.deny_fd(SYS_vmsplice, {0}, v);
    f.deny_fd(SYS_close, {0}, v);
    f.deny_fd(SYS_dup, {0}, v);
    f.deny_fd(SYS_dup3, {0, 1}, v);
    f.deny_fd(SYS_fcntl, {0}, v);
    f.deny_fd(SYS_ioctl, {0}, v);
#if defined(__x86_64__)
    f.deny_fd(SYS_dup2, {0, 1}, v);
#endif
  }
  // Returning from a signal handler ends the process: the saved context a handler could edit (to
  // jump into the runner) is only ever applied by rt_sigreturn. SIG_IGN and SIG_DFL keep working.
  f.deny(SYS_rt_sigreturn, SECCOMP_RET_KILL_PROCESS);
  const long denied[] = {
      SYS_execve, SYS_execveat, SYS_personality, SYS_remap_file_pages, SYS_ptrace, SYS_process_vm_readv,
      SYS_process_vm_writev, SYS_userfaultfd, SYS_perf_event_open, SYS_bpf, SYS_io_uring_setup,
      SYS_io_uring_enter, SYS_io_uring_register, SYS_kcmp, SYS_mount, SYS_umount2, SYS_pivot_root,
      SYS_chroot, SYS_unshare, SYS_setns, SYS_keyctl, SYS_add_key, SYS_request_key, SYS_close_range,
      SYS_io_setup, SYS_io_submit, SYS_sendmsg, SYS_sendmmsg, SYS_pidfd_open, SYS_pidfd_getfd,
#if defined(__x86_64__)
      SYS_modify_ldt,
#endif
  };
  for (long nr : denied) f.deny(nr);
  f.add(BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
  if (f.overflow) return false;
  sock_fprog prog{f.len, f.code};
  // No candidate code has run yet (nothing of its object runs before .preinit_array): libc is safe here.
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return false;
  return syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) == 0;
}

// ------------------------------------------------------------------------------- start-up

const char* env_value(char** envp, const char* key, size_t key_len, char** entry_out) {
  for (char** e = envp; e != nullptr && *e != nullptr; ++e) {
    if (std::strncmp(*e, key, key_len) == 0) {
      if (entry_out != nullptr) *entry_out = *e;
      return *e + key_len;
    }
  }
  return nullptr;
}

// Runs from .preinit_array, before libc has set `environ`: read everything from envp.
void preinit(int argc, char** argv, char** envp) {
  if (argc > 0 && argv != nullptr && argv[0] != nullptr) {
    const char* slash = std::strrchr(argv[0], '/');
    g_program = slash != nullptr ? slash + 1 : argv[0];
  }
  static const char kFd[] = "CPPFORGE_NONCE_FD=";
  char* entry = nullptr;
  const char* fd_text = env_value(envp, kFd, sizeof(kFd) - 1, &entry);
  if (fd_text != nullptr) {
    int fd = 0;
    for (const char* p = fd_text; *p >= '0' && *p <= '9'; ++p) fd = fd * 10 + (*p - '0');
    unsigned char buf[2 * kNonceLen];
    size_t got = 0;
    while (got < sizeof(buf)) {
      long n = raw_syscall(SYS_read, fd, reinterpret_cast<long>(buf + got), static_cast<long>(sizeof(buf) - got));
      if (n == -EINTR) continue;
      if (n <= 0) break;
      got += static_cast<size_t>(n);
    }
    raw_syscall(SYS_close, fd, 0, 0);
    if (got == sizeof(buf)) {
      std::memcpy(g_mask, buf, kNonceLen);
      std::memcpy(g_masked, buf + kNonceLen, kNonceLen);
      g_have = kNonceLen;
    }
    volatile unsigned char* wipe = buf;
    for (size_t i = 0; i < sizeof(buf); ++i) wipe[i] = 0;
    entry[0] = '_';  // the variable no longer names anything the program could look for
  }
  static const char kVerdict[] = "CPPFORGE_VERDICT_FD=";
  const char* verdict_text = env_value(envp, kVerdict, sizeof(kVerdict) - 1, nullptr);
  if (verdict_text != nullptr && *verdict_text >= '0' && *verdict_text <= '9') {
    int fd = 0;
    for (const char* p = verdict_text; *p >= '0' && *p <= '9' && fd < 100000; ++p) fd = fd * 10 + (*p - '0');
    g_verdict_fd = fd;
  }
  static const char kSeccomp[] = "CPPFORGE_SECCOMP=";
  const char* mode = env_value(envp, kSeccomp, sizeof(kSeccomp) - 1, nullptr);
  bool wanted = mode == nullptr || std::strcmp(mode, "off") != 0;
  if (wanted && !install_seccomp()) {
    // No filter, no run: say so in a record the verifier reads as its own failure.
    emit_record("INFRA", 1, nullptr);
    exit_now(125);
  }
}

__attribute__((section(".preinit_array"), used))
void (*const cppforge_preinit)(int, char**, char**) = preinit;

// ------------------------------------------------------------------------------- printf markers

// Reads the next argument of one printf conversion. Returns false for conversions it does not know.
bool skip_or_take(char conv, int length, va_list* ap, long long* value) {
  switch (conv) {
    case 'd':
    case 'i':
      *value = length >= 2 ? va_arg(*ap, long long) : length == 1 ? va_arg(*ap, long) : va_arg(*ap, int);
      return true;
    case 'u':
    case 'o':
    case 'x':
    case 'X':
      *value = length >= 2   ? static_cast<long long>(va_arg(*ap, unsigned long long))
               : length == 1 ? static_cast<long long>(va_arg(*ap, unsigned long))
                             : static_cast<long long>(va_arg(*ap, unsigned int));
      return true;
    case 'c':
      *value = va_arg(*ap, int);
      return true;
    case 's':
    case 'p':
    case 'n':
      (void)va_arg(*ap, void*);
      return true;
    case 'e':
    case 'E':
    case 'f':
    case 'F':
    case 'g':
    case 'G':
    case 'a':
    case 'A':
      if (length == 3) (void)va_arg(*ap, long double);
      else (void)va_arg(*ap, double);
      return true;
    default:
      return false;
  }
}

// One conversion at fmt[i] == '%': consumes its arguments; `value` gets an integer conversion's value.
// Returns the index past the conversion, or 0 for a conversion it cannot follow.
size_t conversion(const char* fmt, size_t i, va_list* ap, long long* value, bool* integer) {
  ++i;
  if (fmt[i] == '%') {
    *integer = false;
    return i + 1;
  }
  while (fmt[i] != '\0' && std::strchr("-+ #0'I", fmt[i]) != nullptr) ++i;
  if (fmt[i] == '*') {
    (void)va_arg(*ap, int);
    ++i;
  }
  while (fmt[i] >= '0' && fmt[i] <= '9') ++i;
  if (fmt[i] == '.') {
    ++i;
    if (fmt[i] == '*') {
      (void)va_arg(*ap, int);
      ++i;
    }
    while (fmt[i] >= '0' && fmt[i] <= '9') ++i;
  }
  int length = 0;  // 0 int, 1 long (and size_t, ptrdiff_t, intmax_t on LP64), 2 long long, 3 long double
  if (fmt[i] == 'h') {
    i += fmt[i + 1] == 'h' ? 2 : 1;
  } else if (fmt[i] == 'l') {
    length = fmt[i + 1] == 'l' ? 2 : 1;
    i += length;
  } else if (fmt[i] == 'L' || fmt[i] == 'q') {
    length = fmt[i] == 'L' ? 3 : 2;
    ++i;
  } else if (fmt[i] == 'j' || fmt[i] == 'z' || fmt[i] == 'Z' || fmt[i] == 't') {
    length = 1;
    ++i;
  }
  char conv = fmt[i];
  if (conv == '\0' || !skip_or_take(conv, length, ap, value)) return 0;
  *integer = std::strchr("diuoxX", conv) != nullptr;
  return i + 1;
}

// After "PASSED ": a number, as literal digits or (with `args`) one integer conversion.
size_t number(const char* fmt, size_t i, va_list* args, long long* out) {
  if (fmt[i] >= '0' && fmt[i] <= '9') {
    long long v = 0;
    while (fmt[i] >= '0' && fmt[i] <= '9' && v < 1000000000000000LL) v = v * 10 + (fmt[i++] - '0');
    *out = v;
    return i;
  }
  if (args == nullptr || fmt[i] != '%') return 0;
  bool integer = false;
  size_t next = conversion(fmt, i, args, out, &integer);
  return integer ? next : 0;
}

// Walks trusted text (a printf format when `args` is set, plain text otherwise) and reports every
// "PASSED <p>/<t>" it shows, from the argument values themselves: no text the candidate could shape
// (a %s, a locale, a hijacked vsnprintf) counts.
void report_markers(const char* text, va_list* args) {
  static const char kMarker[] = "PASSED ";
  for (size_t i = 0; text[i] != '\0';) {
    if (args != nullptr && text[i] == '%') {
      long long ignored = 0;
      bool integer = false;
      size_t next = conversion(text, i, args, &ignored, &integer);
      if (next == 0) return;
      i = next;
      continue;
    }
    if (std::strncmp(text + i, kMarker, sizeof(kMarker) - 1) != 0) {
      ++i;
      continue;
    }
    i += sizeof(kMarker) - 1;
    long long passed = 0, total = 0;
    size_t after = number(text, i, args, &passed);
    if (after == 0 || text[after] != '/') continue;
    size_t end = number(text, after + 1, args, &total);
    if (end == 0) continue;
    emit_record("PASSED", passed, &total);
    i = end;
  }
}

void report_printf_markers(const char* fmt, va_list original) {
  va_list args;  // a local copy, so that &args is a va_list* on every ABI
  va_copy(args, original);
  report_markers(fmt, &args);
  va_end(args);
}

}  // namespace

// ------------------------------------------------------------------------------- API (via per-run aliases)

extern "C" void cppforge_api_report(long long passed, long long total) {
  emit_record("PASSED", passed, &total);
}

extern "C" [[noreturn]] void cppforge_api_assert_fail(const char* expr, const char* file, unsigned line,
                                                      const char* function) {
  // glibc's wording, written straight to fd 2; then the process ends at once with the status a
  // SIGABRT would give, so no handler, atexit function or destructor of the candidate runs.
  Line text;
  text.put(g_program);
  text.put(": ");
  text.put(file);
  text.put(':');
  text.put(static_cast<long long>(line));
  text.put(": ");
  if (function != nullptr) {
    text.put(function);
    text.put(": ");
  }
  text.put("Assertion `");
  text.put(expr);
  text.put("' failed.\n");
  write_all(2, text.data, text.len);
  exit_now(134);
}

// The counts are read before anything of libc runs: printing is for the reader only.
extern "C" int cppforge_api_vprintf(const char* fmt, va_list ap) {
  report_printf_markers(fmt, ap);
  return std::vprintf(fmt, ap);
}

extern "C" int cppforge_api_vfprintf(std::FILE* stream, const char* fmt, va_list ap) {
  report_printf_markers(fmt, ap);
  return std::vfprintf(stream, fmt, ap);
}

extern "C" int cppforge_api_puts(const char* text) {
  report_markers(text, nullptr);
  return std::puts(text);
}

extern "C" int __wrap_main(int argc, char** argv, char** envp) {
  int status = __real_main(argc, argv, envp);
  emit_record("RETURN", status, nullptr);
  return status;
}
