"""Where a `path` adapter load may come from: inside one of CPPFORGE_ADAPTER_DIRS, symlinks resolved.

A LoRA directory is code-adjacent (PEFT reads its config and weights): loading one from any path the
server can read would let a caller probe the server's files. The trainer's weight syncs land under
its jobs dir, inside $CPPFORGE_HOME, the default.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from .errors import AdapterPathNotAllowedError


def allowed_adapter_path(path: str, roots: Sequence[Path]) -> Path:
    """The real path of `path` (symlinks resolved) when it lies in one of `roots` (already real paths),
    else AdapterPathNotAllowedError naming them. Load from the returned path: a symlink swapped after
    the check then changes nothing."""
    real = Path(os.path.realpath(os.path.expanduser(path)))
    if any(real.is_relative_to(root) for root in roots):
        return real
    allowed = os.pathsep.join(str(r) for r in roots)
    raise AdapterPathNotAllowedError(
        f"adapter path {path} resolves to {real}, outside the adapter dirs ({allowed}); the operator can "
        "allow more with CPPFORGE_ADAPTER_DIRS"
    )
