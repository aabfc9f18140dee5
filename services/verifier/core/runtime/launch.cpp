// The sandbox's first process (see sandbox.py): what `sh -c 'echo $$ > cgroup.procs'`, `prlimit` and
// `setpriv --reuid --regid --clear-groups` did, in that order, in one process, then exec the rest.
//
//   cppforge-launch [-j FILE]... [-l RESOURCE=VALUE]... [-u UID:GID] -- COMMAND ARGS...
//
// -j: write this process's pid into FILE (a cgroup's cgroup.procs), before anything can fork;
// -l: set the resource's soft and hard limit to VALUE (resource numbers as in <sys/resource.h>);
// -u: drop every group, then set real, effective and saved gid and uid.
// Any failure exits before the command runs: 97 for a cgroup, 98 for a limit, 99 for the uid/gid.
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

static void fail(int code, const char* what, const char* arg) {
    fprintf(stderr, "cppforge-launch: %s %s: %s\n", what, arg, strerror(errno));
    exit(code);
}

static bool parse_u64(const char* text, unsigned long long* out) {
    if (*text < '0' || *text > '9') return false;
    char* end = nullptr;
    errno = 0;
    *out = strtoull(text, &end, 10);
    return errno == 0 && *end == '\0';
}

static void join(const char* file) {
    int fd = open(file, O_WRONLY | O_CLOEXEC);  // never created: it must be the group's own file
    if (fd < 0) fail(97, "cannot open", file);
    char text[24];
    int n = snprintf(text, sizeof text, "%d\n", static_cast<int>(getpid()));
    if (write(fd, text, static_cast<size_t>(n)) != n || close(fd) != 0) fail(97, "cannot join", file);
}

static void limit(const char* spec) {
    const char* eq = strchr(spec, '=');
    char resource_text[16];
    unsigned long long resource = 0, value = 0;
    size_t n = eq == nullptr ? 0 : static_cast<size_t>(eq - spec);
    if (n == 0 || n >= sizeof resource_text) {
        errno = EINVAL;
        fail(98, "bad limit", spec);
    }
    memcpy(resource_text, spec, n);
    resource_text[n] = '\0';
    if (!parse_u64(resource_text, &resource) || !parse_u64(eq + 1, &value)) {
        errno = EINVAL;
        fail(98, "bad limit", spec);
    }
    struct rlimit lim = {static_cast<rlim_t>(value), static_cast<rlim_t>(value)};
    if (setrlimit(static_cast<__rlimit_resource_t>(resource), &lim) != 0) fail(98, "cannot set limit", spec);
}

static void drop(const char* spec) {
    unsigned long long uid = 0, gid = 0;
    const char* colon = strchr(spec, ':');
    char uid_text[24];
    size_t n = colon == nullptr ? 0 : static_cast<size_t>(colon - spec);
    if (n == 0 || n >= sizeof uid_text) {
        errno = EINVAL;
        fail(99, "bad uid:gid", spec);
    }
    memcpy(uid_text, spec, n);
    uid_text[n] = '\0';
    if (!parse_u64(uid_text, &uid) || !parse_u64(colon + 1, &gid) || uid == 0 || gid == 0) {
        errno = EINVAL;
        fail(99, "bad uid:gid", spec);
    }
    // Groups first (needs privilege), then the gid, then the uid: saved ids too, so none comes back.
    if (setgroups(0, nullptr) != 0) fail(99, "cannot clear groups", spec);
    if (setresgid(static_cast<gid_t>(gid), static_cast<gid_t>(gid), static_cast<gid_t>(gid)) != 0)
        fail(99, "cannot set gid", spec);
    if (setresuid(static_cast<uid_t>(uid), static_cast<uid_t>(uid), static_cast<uid_t>(uid)) != 0)
        fail(99, "cannot set uid", spec);
    uid_t r, e, s;
    if (getresuid(&r, &e, &s) != 0 || r != uid || e != uid || s != uid || getgroups(0, nullptr) != 0)
        fail(99, "the drop did not hold", spec);
}

int main(int argc, char** argv) {
    int i = 1;
    // Joins and limits happen in the order given; the drop always comes last.
    const char* drop_spec = nullptr;
    for (; i < argc && strcmp(argv[i], "--") != 0; i += 2) {
        if (i + 1 >= argc) {
            errno = EINVAL;
            fail(2, "missing value for", argv[i]);
        }
        if (strcmp(argv[i], "-j") == 0) {
            join(argv[i + 1]);
        } else if (strcmp(argv[i], "-l") == 0) {
            limit(argv[i + 1]);
        } else if (strcmp(argv[i], "-u") == 0) {
            drop_spec = argv[i + 1];
        } else {
            errno = EINVAL;
            fail(2, "unknown option", argv[i]);
        }
    }
    if (i + 1 >= argc) {
        errno = EINVAL;
        fail(2, "no command after", "--");
    }
    if (drop_spec != nullptr) drop(drop_spec);
    execvp(argv[i + 1], argv + i + 1);
    fail(127, "cannot run", argv[i + 1]);
}
