"""Where a `path` adapter load may come from: inside one of CPPFORGE_ADAPTER_DIRS, symlinks resolved.

A LoRA directory is code-adjacent (PEFT reads its config and weights): loading one from any path the
server can read would let a caller probe the server's files; a relative path is refused too (it would
resolve against the server's working directory). The trainer's weight syncs land under
its jobs dir, inside $CPPFORGE_HOME, the default. The check covers what is inside the directory too:
a symlink anywhere under it (recursively) must resolve inside the adapter dirs as well (symlinks
that stay inside, as in a Hugging Face cache's blobs, load; one pointing out is refused).

Probing is also what the answer could tell: whether a path exists, is a file, a directory the service
may not read, a symlink and to where. So every failed `path` load gets one answer, `unloadable`: the
same status, code and message whatever is (or is not) on disk, echoing only the path as given; the
real reason (`AdapterPathError`'s message) goes to the server's log.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from .errors import AdapterInvalidError


class AdapterPathError(Exception):
    """Why a `path` may not be loaded, for the server's log only (it may name resolved paths)."""


def allowed_adapter_path(path: str, roots: Sequence[Path]) -> Path:
    """The real path of `path` (symlinks resolved) when it lies in one of `roots` (already real paths),
    else AdapterPathError. Load from the returned path: a symlink swapped after the check then
    changes nothing. OSError or ValueError (a NUL byte) may come from the file system calls. A relative
    `path` is refused: it would name whatever lies under the server's working directory."""
    given = os.path.expanduser(path)
    if not os.path.isabs(given):
        raise AdapterPathError(f"{path} is not an absolute path")
    real = Path(os.path.realpath(given))
    if not any(real.is_relative_to(root) for root in roots):
        raise AdapterPathError(f"{path} resolves to {real}, outside the adapter dirs")
    _refuse_links_out(real, roots)
    return real


def unloadable(path: str, roots: Sequence[Path], *, kept: str | None = None) -> AdapterInvalidError:
    """The one answer to every failed `path` load (400 `adapter_invalid`); `kept`: the name that keeps
    its previous weights (a failed replacement), which depends on the request, not on the disk."""
    allowed = os.pathsep.join(str(r) for r in roots)
    suffix = f"; adapter {kept!r} keeps its previous weights" if kept else ""
    return AdapterInvalidError(
        f"no loadable LoRA adapter at {path}: it must be the absolute path of a directory under the adapter dirs "
        f"({allowed}) holding adapter_config.json and its weights, readable by the service{suffix}",
        "path",
    )


def _refuse_links_out(directory: Path, roots: Sequence[Path]) -> None:
    """AdapterPathError when an entry under `directory` (recursive, links not followed) is a symlink
    resolving outside `roots`: PEFT would read the file it points to."""
    if not directory.is_dir():
        return  # a file or nothing: the load fails on it
    for top, dirs, files in os.walk(directory):  # followlinks=False: a linked dir is checked as a link
        for name in dirs + files:
            entry = Path(top) / name
            if not entry.is_symlink():
                continue
            target = Path(os.path.realpath(entry))
            if not any(target.is_relative_to(root) for root in roots):
                raise AdapterPathError(
                    f"{directory} holds {entry.relative_to(directory)}, a symlink to {target}, outside the adapter dirs"
                )
