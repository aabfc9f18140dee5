"""Content hashes: of a file, and of a base model (config.json + its weight files).

A base model's hash names exactly the weights an adapter was trained on, whatever its path: the
registry, the eval and the inference service compare it. Hashing a multi-GB checkpoint takes a
while, so each file's sha256 is cached by its stat stamp (path, size, mtime_ns, ctime_ns, inode), in
memory and in a JSON file under the registry, and a checkpoint is read once however many processes ask.
The stamp has ctime and the inode because mtime alone can be set back (`touch -d`, `os.utime`) after
the bytes changed; ctime cannot be set, and a file replaced by a rename gets a new inode.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path
from typing import Any

from .errors import InvalidArtifactError

CACHE_FILE = "model_hashes.json"
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth")
_CHUNK = 1 << 20

_memo: dict[str, dict[str, Any]] = {}
_memo_lock = threading.Lock()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def resolve_base_dir(base_model: str | Path) -> Path:
    """A base model's local directory: the path itself, or an HF id's snapshot in the local HF cache (no network)."""
    path = Path(base_model).expanduser()
    if path.is_dir():
        return path.resolve()
    if path.exists():
        raise InvalidArtifactError(f"base model {base_model} is a file, not a model directory")
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(repo_id=str(base_model), local_files_only=True))
    except Exception:  # not an id, or not in the local cache: either way there is nothing here to hash
        raise InvalidArtifactError(
            f"base model {base_model}: not a local directory nor a model in the local Hugging Face cache"
        ) from None


def model_files(model_dir: Path) -> list[Path]:
    """What defines the base's weights: config.json and every weight file at the top of the dir."""
    config = model_dir / "config.json"
    if not config.is_file():
        raise InvalidArtifactError(f"no config.json in {model_dir}: not a saved Hugging Face model directory")
    weights = sorted(p for p in model_dir.iterdir() if p.is_file() and p.name.endswith(WEIGHT_SUFFIXES))
    if not weights:
        raise InvalidArtifactError(f"no weight files ({', '.join(WEIGHT_SUFFIXES)}) in {model_dir}")
    return [config, *weights]


def model_content_hash(model_dir: str | Path, *, cache_dir: Path | None = None) -> str:
    """sha256 over (file name, file sha256) of config.json and the weight files, in name order."""
    files = model_files(resolve_base_dir(model_dir))
    cache = _load_cache(cache_dir)
    changed = False
    digest = hashlib.sha256()
    for path in files:
        sha, fresh = _file_sha(path, cache)
        changed |= fresh
        digest.update(f"{path.name}\t{sha}\n".encode())
    if changed and cache_dir is not None:
        _save_cache(cache_dir, cache)
    return digest.hexdigest()


def file_stamp(path: Path) -> dict[str, int]:
    """What changes whenever the file's bytes may have: size, mtime, ctime (not settable) and inode."""
    st = path.stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "ctime_ns": st.st_ctime_ns, "ino": st.st_ino}


def model_stamp(model_dir: str | Path) -> dict[str, dict[str, int]]:
    """file name -> stamp of the files `model_content_hash` covers: equal stamps, equal hash."""
    return {path.name: file_stamp(path) for path in model_files(resolve_base_dir(model_dir))}


def _file_sha(path: Path, cache: dict[str, dict[str, Any]]) -> tuple[str, bool]:
    """The file's sha256 and whether it had to be computed (not in the cache under its current stamp)."""
    key = str(path.resolve())
    stamp = file_stamp(path)
    with _memo_lock:
        hit = _memo.get(key) or cache.get(key)
    if hit is not None and all(hit.get(field) == value for field, value in stamp.items()):
        on_disk = cache.get(key) == hit
        cache[key] = hit
        return str(hit["sha256"]), not on_disk
    entry = {**stamp, "sha256": sha256_file(path)}
    with _memo_lock:
        _memo[key] = entry
    cache[key] = entry
    return str(entry["sha256"]), True


def _load_cache(cache_dir: Path | None) -> dict[str, dict[str, Any]]:
    if cache_dir is None:
        return {}
    try:
        loaded = json.loads((cache_dir / CACHE_FILE).read_text())
    except (OSError, ValueError):
        return {}  # none yet, or damaged: a cache miss costs a re-hash, nothing more
    return loaded if isinstance(loaded, dict) else {}


def _save_cache(cache_dir: Path, cache: dict[str, dict[str, Any]]) -> None:
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = cache_dir / f".{CACHE_FILE}.{os.getpid()}.{threading.get_ident()}.tmp"
        tmp.write_text(json.dumps(cache, indent=0, sort_keys=True))
        os.replace(tmp, cache_dir / CACHE_FILE)  # concurrent writers: the last one wins, each whole
    except OSError:
        pass  # a read-only registry still hashes, just without remembering
