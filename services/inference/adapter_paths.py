"""Where a `path` adapter load may come from: inside one of CPPFORGE_ADAPTER_DIRS, symlinks resolved.

A LoRA directory is code-adjacent (PEFT reads its config and weights): loading one from any path the
server can read would let a caller probe the server's files. The trainer's weight syncs land under
its jobs dir, inside $CPPFORGE_HOME, the default. The check covers what is inside the directory too:
a symlink anywhere under it (recursively) must resolve inside the adapter dirs as well (symlinks
that stay inside, as in a Hugging Face cache's blobs, load; one pointing out is refused).
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
    allowed = os.pathsep.join(str(r) for r in roots)
    if any(real.is_relative_to(root) for root in roots):
        _refuse_links_out(real, roots, allowed)
        return real
    raise AdapterPathNotAllowedError(
        f"adapter path {path} resolves to {real}, outside the adapter dirs ({allowed}); the operator can "
        "allow more with CPPFORGE_ADAPTER_DIRS"
    )


def _refuse_links_out(directory: Path, roots: Sequence[Path], allowed: str) -> None:
    """AdapterPathNotAllowedError when an entry under `directory` (recursive, links not followed) is a
    symlink resolving outside `roots`: PEFT would read the file it points to."""
    if not directory.is_dir():
        return  # a file or nothing: the load reports it
    for top, dirs, files in os.walk(directory):  # followlinks=False: a linked dir is checked as a link
        for name in dirs + files:
            entry = Path(top) / name
            if not entry.is_symlink():
                continue
            target = Path(os.path.realpath(entry))
            if not any(target.is_relative_to(root) for root in roots):
                raise AdapterPathNotAllowedError(
                    f"adapter path {directory} holds {entry.relative_to(directory)}, a symlink to {target}, outside "
                    f"the adapter dirs ({allowed}); the operator can allow more with CPPFORGE_ADAPTER_DIRS"
                )
