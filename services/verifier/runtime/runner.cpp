// cppforge's verifier-owned entry point.
//
// The program is linked with `-Wl,--wrap=main`: the C runtime's call to `main` lands in
// __wrap_main below, which calls the candidate's `main` as __real_main. Nothing in the
// candidate's source can rename or reach this (it is done by the linker, not a macro). It records, with a per-run
// nonce the candidate never sees in its source, that the user's main returned and with what
// status. exit()/_Exit()/quick_exit() before the tests, printing from static destructors or
// atexit handlers, and closing stdout therefore earn nothing: only a record that carries the
// nonce counts.
//
// The nonce arrives on a pipe (fd number in CPPFORGE_NONCE_FD) that is read and closed from
// .preinit_array, which runs before any constructor of the candidate's object (this object is
// linked first). The environment variable carries only the fd number, never the nonce.
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <unistd.h>

extern "C" int __real_main(int, char**, char**);

namespace {

constexpr size_t kNonceLen = 32;
// The nonce arrives as a random mask followed by nonce XOR mask; the two halves live apart and
// the nonce exists in clear only on the stack while the record is written.
unsigned char g_mask[kNonceLen];
size_t g_have = 0;
unsigned char g_masked[kNonceLen];

// Runs from .preinit_array, before libc has set `environ`: read the fd number from envp.
void read_nonce(int, char**, char** envp) {
  static const char kKey[] = "CPPFORGE_NONCE_FD=";
  char* entry = nullptr;
  for (char** e = envp; e != nullptr && *e != nullptr; ++e) {
    if (std::strncmp(*e, kKey, sizeof(kKey) - 1) == 0) entry = *e;
  }
  if (entry == nullptr) return;
  int fd = std::atoi(entry + sizeof(kKey) - 1);
  unsigned char buf[2 * kNonceLen];
  size_t got = 0;
  while (got < sizeof(buf)) {
    ssize_t n = read(fd, buf + got, sizeof(buf) - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  close(fd);
  if (got == sizeof(buf)) {
    std::memcpy(g_mask, buf, kNonceLen);
    std::memcpy(g_masked, buf + kNonceLen, kNonceLen);
    g_have = kNonceLen;
  }
  std::memset(buf, 0, sizeof(buf));
  entry[0] = '_';  // the variable no longer names anything the program could look for
}

__attribute__((section(".preinit_array"), used))
void (*const cppforge_preinit)(int, char**, char**) = read_nonce;

void write_all(int fd, const char* data, size_t len) {
  while (len > 0) {
    ssize_t n = write(fd, data, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    data += n;
    len -= static_cast<size_t>(n);
  }
}

}  // namespace

extern "C" int __wrap_main(int argc, char** argv, char** envp) {
  int status = __real_main(argc, argv, envp);
  // Keep the program's own output ahead of the record.
  std::cout.flush();
  std::cerr.flush();
  std::fflush(nullptr);
  if (g_have == kNonceLen) {
    char record[128];
    size_t len = 0;
    record[len++] = '\n';
    record[len++] = '@';
    for (size_t i = 0; i < kNonceLen; ++i) record[len++] = static_cast<char>(g_mask[i] ^ g_masked[i]);
    len += static_cast<size_t>(std::snprintf(record + len, sizeof(record) - len, " RETURN %d\n", status));
    write_all(1, record, len);
    std::memset(record, 0, sizeof(record));
  }
  return status;
}
