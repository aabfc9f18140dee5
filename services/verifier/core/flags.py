"""The allowlist for caller-supplied compiler flags and language standards.

Anything that could make g++ read or write outside the sandbox's temp dir, load code, or swap
the toolchain (-o, -B, @file, -fplugin, -wrapper, --sysroot, -include, -I/abs, -specs ...) is
refused with a ValueError naming the flag; the HTTP layer turns that into a 422. So are more
than MAX_FLAGS flags or one longer than MAX_FLAG_CHARS (the build script is one argument of
`sh -c`, and the kernel caps one argument at 128 KiB), and so is a bare
`-I` (g++ would take the next argument as its directory), and so is turning off the diagnostics
the verifier reads to detect refused constructs (`-Wcpp`, `-Wpedantic`, `-Wpragmas`, `-Wnamespaces`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

ALLOWED_STDS = frozenset(
    f"{dialect}++{year}" for dialect in ("c", "gnu") for year in ("11", "14", "17", "20", "23", "2a", "2b")
)

_ALLOWED_EXACT = frozenset(
    {
        "-O0", "-O1", "-O2", "-O3", "-Os", "-Og",
        "-g", "-g0", "-g1", "-g2", "-g3",
        "-pthread",
        "-fsanitize=address", "-fsanitize=undefined",
        "-fsanitize=address,undefined", "-fsanitize=undefined,address",
        "-fno-omit-frame-pointer", "-fno-sanitize-recover=all",
    }
)  # fmt: skip
# Libraries a program may link, named exactly (no -L, no path): HumanEval-X's CPP/162 calls OpenSSL's MD5,
# and its own harness links -lcrypto for it. They go after the objects on the link line, never to the compile.
LINK_LIBRARIES = frozenset({"-lcrypto", "-lssl"})
MAX_FLAGS = 64
# What a request may send: room is left for the flags the verifier adds itself (the shaped reward's
# sanitizer build adds four), so a valid request never runs out of room later.
MAX_REQUEST_FLAGS = MAX_FLAGS - 8
MAX_FLAG_CHARS = 1024
_DEFINE = re.compile(r"^-D[A-Za-z_][A-Za-z0-9_]*(=[^\x00\n]*)?$")
_WARNING_OFF = re.compile(r"^-Wno-[a-z0-9][a-z0-9=-]*$")
# A directory is required (a bare -I swallows the next argument) and may not look like a flag.
_INCLUDE_DIR = re.compile(r"^-I(?![/-])(?!.*(?:^|/)\.\.(?:/|$))[A-Za-z0-9_./-]+$")
# Diagnostics the verifier relies on: neither off (-Wno-X) nor demoted from errors (-Wno-error=X).
KEPT_WARNINGS = frozenset({"cpp", "pedantic", "pragmas", "namespaces"})
_SANITIZE = "-fsanitize="


def validate_std(std: str) -> str:
    if std not in ALLOWED_STDS:
        allowed = ", ".join(sorted(ALLOWED_STDS))
        raise ValueError(f"std {std!r} is not allowed; use one of: {allowed}")
    return std


def validate_flags(flags: Iterable[str]) -> tuple[str, ...]:
    """Return the flags unchanged when every one is allowed; else raise naming the first refused."""
    checked: list[str] = []
    for flag in flags:
        if not isinstance(flag, str):
            raise ValueError(f"flag {flag!r} is not a string")
        if len(checked) == MAX_FLAGS:
            raise ValueError(f"too many flags: at most {MAX_FLAGS}")
        if len(flag) > MAX_FLAG_CHARS:
            raise ValueError(f"flag {flag[:40]!r}... is {len(flag)} characters long; the limit is {MAX_FLAG_CHARS}")
        if flag.startswith("-std="):
            raise ValueError(f"flag {flag!r} is refused: pass the language standard as `std`, not a flag")
        if flag == "-I":
            raise ValueError(f"flag {flag!r} is refused: give the directory in the same argument, e.g. -Iinclude")
        if _turns_off_kept_warning(flag):
            raise ValueError(
                f"flag {flag!r} is refused: the verifier relies on the -Wcpp (#warning), -Wpedantic, "
                "-Wpragmas and -Wnamespaces diagnostics to detect refused constructs, so they cannot be turned off"
            )
        allowed = flag in _ALLOWED_EXACT or flag in LINK_LIBRARIES
        if not (allowed or _DEFINE.match(flag) or _WARNING_OFF.match(flag) or _INCLUDE_DIR.match(flag)):
            raise ValueError(
                f"flag {flag!r} is not allowed; allowed: -O0..-O3/-Os/-Og, -g, -D<NAME>[=V], -Wno-<warning>, "
                "-pthread, -fsanitize=address,undefined, -I<relative dir inside the temp dir>, -lcrypto, -lssl"
            )
        checked.append(flag)
    return tuple(checked)


def _turns_off_kept_warning(flag: str) -> bool:
    for prefix in ("-Wno-error=", "-Wno-"):
        if flag.startswith(prefix):
            return flag[len(prefix) :] in KEPT_WARNINGS
    return False


def is_sanitizer_build(flags: Iterable[str]) -> bool:
    """Built with -fsanitize=...: such builds only feed the shaped reward's sanitizer finding."""
    return any(f.startswith(_SANITIZE) for f in flags)


def link_flags(flags: Iterable[str]) -> list[str]:
    """The subset of compile flags the link step also needs."""
    return [f for f in flags if f == "-pthread" or f.startswith(_SANITIZE)]


def library_flags(flags: Iterable[str]) -> list[str]:
    """The `-l` libraries, for the end of the link line (after the objects that use them)."""
    return [f for f in flags if f in LINK_LIBRARIES]


def compile_flags(flags: Iterable[str]) -> list[str]:
    """The flags without the libraries (g++ -c would warn that it does not link)."""
    return [f for f in flags if f not in LINK_LIBRARIES]
