"""Writes deploy/seccomp/cppforge-bwrap.json: Docker's default seccomp profile plus only what bubblewrap needs.

The input is moby's default profile (public data; github.com/moby/profiles, seccomp/default.json, vendored in
moby/moby). Docker's default allows clone with namespace flags, unshare, mount, umount2 only to a container
holding CAP_SYS_ADMIN, and pivot_root never. bubblewrap (unprivileged, in a user namespace) needs exactly those
to build the sandbox: clone/unshare with CLONE_NEW* flags, mount and pivot_root for its new root, umount2 to
drop the old one, sethostname for its own UTS namespace's name. Nothing else changes: the rest of the default (and its errno for clone3, which makes glibc
fall back to clone) stays as it is.

    python3 scripts/make_seccomp_profile.py DEFAULT_JSON [OUT]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

BWRAP_SYSCALLS = ["clone", "unshare", "mount", "umount2", "pivot_root", "sethostname"]
OUT = Path(__file__).resolve().parent.parent / "deploy" / "seccomp" / "cppforge-bwrap.json"


def with_bwrap_rule(profile: dict[str, Any]) -> dict[str, Any]:
    rule = {
        "names": BWRAP_SYSCALLS,
        "action": "SCMP_ACT_ALLOW",
        "comment": "cppforge: bubblewrap's namespaces (clone/unshare with CLONE_NEW* flags), its new root "
        "(mount, pivot_root), dropping the old root (umount2) and naming its own UTS namespace (sethostname), "
        "without CAP_SYS_ADMIN",
    }
    out = dict(profile)
    out["syscalls"] = [*profile["syscalls"], rule]
    return out


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3):
        print(__doc__, file=sys.stderr)
        return 2
    profile = json.loads(Path(argv[1]).read_text())
    out = Path(argv[2]) if len(argv) == 3 else OUT
    out.write_text(json.dumps(with_bwrap_rule(profile), indent=1) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
