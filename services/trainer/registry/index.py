"""The registry on disk: `index.json` (name -> status, method, base, latest eval) and `adapters/<name>/`.

Writers (the trainer's jobs, `cppforge registry`, several at once) change the index only inside
`locked(root)`: an exclusive `fcntl.flock` on `index.lock` around read-modify-write, and every JSON
file is replaced whole (write a temp file, fsync, `os.replace`), so a reader without the lock sees
the old index or the new one, never half of one, and no writer's update is lost.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import math
import os
import re
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .errors import InvalidArtifactError, RegistryError

INDEX_FILE = "index.json"
LOCK_FILE = "index.lock"
ADAPTERS_DIR = "adapters"
MANIFEST_FILE = "manifest.json"
INDEX_VERSION = 1
# Far above real sizes (an index row ~1 KB, a manifest ~3 KB per recorded eval): a bigger file is damage.
MAX_INDEX_BYTES = 64 << 20
MAX_MANIFEST_BYTES = 16 << 20
# Within the inference service's adapter-name pattern (services/inference/protocol.py): a registry name is a
# model id. It starts with a letter or digit: no hidden dir (`.staging-*` are ours), no name that reads as
# a CLI option (`-x`), never `.` or `..`.
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def default_root() -> Path:
    from ...common.settings import get_settings

    return get_settings().registry_root


def check_name(name: str) -> str:
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise InvalidArtifactError(
            f"bad adapter name {name!r}: 1-64 characters of A-Z a-z 0-9 _ . -, starting with a letter or digit "
            "(it becomes a model id and a directory name)"
        )
    return name


def check_new_name(name: str) -> str:
    """A name for a new artifact: check_name's rules and no "." (PEFT refuses a module name with a dot, so the
    inference service could never serve it). Reads keep check_name: an older dotted artifact stays removable."""
    check_name(name)
    if "." in name:
        raise InvalidArtifactError(
            f"bad adapter name {name!r}: no '.' in a new adapter's name (PEFT cannot load an adapter under such a "
            "name, so the inference service could never serve it)"
        )
    return name


def artifact_dir(root: Path, name: str) -> Path:
    return root / ADAPTERS_DIR / check_name(name)


def write_json_atomic(path: Path, doc: Any) -> None:
    """Replace `path` whole: a reader (or a crash) sees the old content or the new, never a torn file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(doc, fh, indent=1, allow_nan=False)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def finite_json(value: Any) -> Any:
    """`value` with NaN and inf as None (JSON has neither) and tuples as lists; TypeError if not JSON data."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, str | int | bool):
        return value
    if isinstance(value, dict):
        return {str(k): finite_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite_json(v) for v in value]
    raise TypeError(f"not JSON data: {type(value).__name__}")


def read_json_file(path: Path, *, what: str, limit: int) -> Any:
    """The JSON document at `path` (FileNotFoundError passes through); RegistryError, naming `what`, for one
    that is unreadable, not JSON, or bigger than `limit` bytes (a registry file is never that big: refused
    before it is read, rather than filling memory)."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):  # a FIFO would block the open, a device never end
            raise RegistryError(f"{what} ({path}) is not a regular file")
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            if size > limit:
                raise RegistryError(f"{what} ({path}) is {size} bytes, more than a registry file may be ({limit})")
            return json.loads(fh.read(limit + 1))
    except FileNotFoundError:
        raise
    except (OSError, ValueError) as exc:
        raise RegistryError(f"cannot read {what} ({path}): {exc}") from None


def read_index(root: Path) -> dict[str, dict[str, Any]]:
    """name -> entry; an empty registry when there is no index yet. No lock needed: the file is replaced whole."""
    path = root / INDEX_FILE
    try:
        doc = read_json_file(path, what="the registry index", limit=MAX_INDEX_BYTES)
    except FileNotFoundError:
        return {}
    adapters = doc.get("adapters") if isinstance(doc, dict) else None
    if not isinstance(adapters, dict) or not all(isinstance(entry, dict) for entry in adapters.values()):
        raise RegistryError(f"the registry index {path} has no `adapters` object of entries")
    return adapters


@contextmanager
def locked(root: Path) -> Iterator[dict[str, dict[str, Any]]]:
    """The index for read-modify-write under the exclusive lock; written back (atomically) when the block
    ends without an exception. Blocking: another writer's block finishes first."""
    root.mkdir(parents=True, exist_ok=True)
    (root / ADAPTERS_DIR).mkdir(exist_ok=True)
    with open(root / LOCK_FILE, "a+") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        try:
            index = read_index(root)
            yield index
            write_json_atomic(root / INDEX_FILE, {"version": INDEX_VERSION, "adapters": index})
        finally:
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)


@contextmanager
def shared(root: Path) -> Iterator[None]:
    """A reader's moment in which no writer is between its manifest write and its index write (a shared
    flock on the writers' lock file): what it reads of the index and a manifest belongs together."""
    with contextlib.ExitStack() as stack:
        try:
            lock = stack.enter_context(open(root / LOCK_FILE, "rb"))
        except OSError:  # no writer ever ran here (nothing to wait for), or a registry we may not lock
            lock = None
        if lock is not None:
            fcntl.flock(lock.fileno(), fcntl.LOCK_SH)  # released when the file closes
        yield


def read_manifest(root: Path, name: str) -> dict[str, Any]:
    path = artifact_dir(root, name) / MANIFEST_FILE
    try:
        doc = read_json_file(path, what=f"the manifest of {name!r}", limit=MAX_MANIFEST_BYTES)
    except FileNotFoundError:
        raise RegistryError(f"the manifest of {name!r} ({path}) is missing") from None
    if not isinstance(doc, dict):
        raise RegistryError(f"the manifest of {name!r} ({path}) is not a JSON object")
    return doc


def write_manifest(root: Path, name: str, manifest: dict[str, Any]) -> None:
    write_json_atomic(artifact_dir(root, name) / MANIFEST_FILE, manifest)
