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

char g_nonce[72];

// Runs from .preinit_array, before libc has set `environ`: read the fd number from envp.
void read_nonce(int, char**, char** envp) {
  static const char kKey[] = "CPPFORGE_NONCE_FD=";
  char* entry = nullptr;
  for (char** e = envp; e != nullptr && *e != nullptr; ++e) {
    if (std::strncmp(*e, kKey, sizeof(kKey) - 1) == 0) entry = *e;
  }
  if (entry == nullptr) return;
  int fd = std::atoi(entry + sizeof(kKey) - 1);
  size_t got = 0;
  while (got < sizeof(g_nonce) - 1) {
    ssize_t n = read(fd, g_nonce + got, sizeof(g_nonce) - 1 - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  g_nonce[got] = '\0';
  close(fd);
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
  char record[128];
  int len = std::snprintf(record, sizeof(record), "\n@%s RETURN %d\n", g_nonce, status);
  if (len > 0 && g_nonce[0] != '\0') write_all(1, record, static_cast<size_t>(len));
  return status;
}
