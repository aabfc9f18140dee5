"""The allowlist for caller-supplied compiler flags and language standards.

Anything that could make g++ read or write outside the sandbox's temp dir, load code, or swap
the toolchain (-o, -B, @file, -fplugin, -wrapper, --sysroot, -include, -I/abs, -specs ...) is
refused with a ValueError naming the flag; the HTTP layer turns that into a 422.
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
_DEFINE = re.compile(r"^-D[A-Za-z_][A-Za-z0-9_]*(=[^\x00\n]*)?$")
_WARNING_OFF = re.compile(r"^-Wno-[a-z0-9][a-z0-9=-]*$")
_INCLUDE_DIR = re.compile(r"^-I(?!/)(?!.*(?:^|/)\.\.(?:/|$))[A-Za-z0-9_./-]*$")
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
        if flag.startswith("-std="):
            raise ValueError(f"flag {flag!r} is refused: pass the language standard as `std`, not a flag")
        if not (flag in _ALLOWED_EXACT or _DEFINE.match(flag) or _WARNING_OFF.match(flag) or _INCLUDE_DIR.match(flag)):
            raise ValueError(
                f"flag {flag!r} is not allowed; allowed: -O0..-O3/-Os/-Og, -g, -D<NAME>[=V], -Wno-<warning>, "
                "-pthread, -fsanitize=address,undefined, -I<relative dir inside the temp dir>"
            )
        checked.append(flag)
    return tuple(checked)


def link_flags(flags: Iterable[str]) -> list[str]:
    """The subset of compile flags the link step also needs."""
    return [f for f in flags if f == "-pthread" or f.startswith(_SANITIZE)]
