"""Adapter artifacts: a PEFT adapter's two files, copied into the registry with a manifest.

`adapters/<name>/` holds adapter_config.json, adapter_model.safetensors and manifest.json (name,
base model id and content hash, training_method, config, metrics, created_at, parent, the files'
sha256, status, evals). The index is the authority on status and the latest eval; the manifest
mirrors them (both are written under the index lock) so an artifact dir describes itself.
Loading checks the files' sha256 against the manifest and the index: a changed byte is an error.
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import json
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import (
    ArtifactCorruptError,
    ArtifactNotFoundError,
    DuplicateArtifactError,
    InvalidArtifactError,
    StatusError,
)
from .evals import EvalRecord, utc_now
from .hashing import model_content_hash, sha256_file
from .index import (
    ADAPTERS_DIR,
    MANIFEST_FILE,
    artifact_dir,
    check_name,
    check_new_name,
    default_root,
    finite_json,
    locked,
    read_index,
    read_manifest,
    shared,
    write_json_atomic,
    write_manifest,
)
from .integrity import check_consistent

CONFIG_FILE = "adapter_config.json"
WEIGHTS_FILE = "adapter_model.safetensors"
TRAINING_METHODS = ("gspo", "grpo", "sft", "distill", "dcd")


class Status(str, enum.Enum):
    DRAFT = "draft"
    ACTIVE = "active"
    RETIRED = "retired"


@dataclass(frozen=True)
class Artifact:
    name: str
    path: Path  # adapters/<name>: a PEFT adapter dir, loadable as is
    status: Status
    base_model: str  # the id it was registered with: a path or an HF id
    base_model_sha256: str
    training_method: str
    config: dict[str, Any]
    metrics: dict[str, Any]
    created_at: str
    parent: str | None
    adapter_sha256: str  # of adapter_model.safetensors
    eval: EvalRecord | None  # the latest harness eval

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "path": str(self.path), "status": self.status.value, "base_model": self.base_model,
            "base_model_sha256": self.base_model_sha256, "training_method": self.training_method,
            "config": self.config, "metrics": self.metrics, "created_at": self.created_at, "parent": self.parent,
            "adapter_sha256": self.adapter_sha256, "eval": self.eval.to_dict() if self.eval else None,
        }  # fmt: skip


@dataclass(frozen=True)
class Entry:
    """One row of the index (what `registry list` shows without opening an artifact)."""

    name: str
    status: Status
    created_at: str
    training_method: str
    base_model: str
    base_model_sha256: str
    adapter_sha256: str
    parent: str | None
    eval: EvalRecord | None

    @classmethod
    def from_index(cls, name: str, d: dict[str, Any]) -> Entry:
        """The index row `d`; ArtifactCorruptError naming the row and the field for a damaged one."""
        try:
            ev = d.get("eval")
            return cls(
                name=name, status=Status(d["status"]), created_at=_text(d, "created_at"),
                training_method=_text(d, "training_method"), base_model=_text(d, "base_model"),
                base_model_sha256=_text(d, "base_model_sha256"), adapter_sha256=_text(d, "adapter_sha256"),
                parent=d.get("parent"), eval=EvalRecord.from_dict(ev) if ev is not None else None,
            )  # fmt: skip
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ArtifactCorruptError(f"the registry index's entry {name!r} is damaged: {_why(exc)}") from None


def _text(d: dict[str, Any], key: str) -> str:
    value = d[key]
    if not isinstance(value, str):
        raise TypeError(f"{key} is {type(value).__name__}, not a string")
    return value


def _why(exc: Exception) -> str:
    return f"no {exc.args[0]!r}" if isinstance(exc, KeyError) else str(exc)


def _check_adapter_dir(adapter_dir: Path) -> None:
    """A PEFT adapter saved with safetensors, judged by safetensors itself; anything else refused, clearly."""
    if not adapter_dir.is_dir():
        raise InvalidArtifactError(f"adapter dir {adapter_dir} does not exist or is not a directory")
    if not (adapter_dir / CONFIG_FILE).is_file():
        raise InvalidArtifactError(f"no {CONFIG_FILE} in {adapter_dir}: not a saved PEFT adapter")
    weights = adapter_dir / WEIGHTS_FILE
    if not weights.is_file():
        if (adapter_dir / "adapter_model.bin").is_file():
            raise InvalidArtifactError(
                f"{adapter_dir} holds adapter_model.bin only (a pickle): the registry takes safetensors; "
                "save it with save_pretrained(..., safe_serialization=True)"
            )
        raise InvalidArtifactError(f"no {WEIGHTS_FILE} in {adapter_dir}: not a saved PEFT adapter")
    try:
        config = json.loads((adapter_dir / CONFIG_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InvalidArtifactError(f"{adapter_dir / CONFIG_FILE} is not JSON: {exc}") from None
    if not isinstance(config, dict):
        raise InvalidArtifactError(f"{adapter_dir / CONFIG_FILE} is not a JSON object")
    from safetensors import safe_open

    try:
        with safe_open(str(weights), framework="numpy") as fh:
            tensors = len(list(fh.keys()))
    except Exception as exc:  # safetensors raises its own SafetensorError (not exported as a stable name)
        raise InvalidArtifactError(f"{weights} is not a safetensors file: {exc}") from None
    if tensors == 0:
        raise InvalidArtifactError(f"{weights} holds no tensors")


def _json_field(value: Any, what: str) -> Any:
    try:
        return finite_json(value)
    except TypeError as exc:
        raise InvalidArtifactError(f"{what} must be JSON data: {exc}") from None


def save_adapter_artifact(
    adapter_dir: str | Path,
    *,
    name: str,
    base_model: str | Path,
    training_method: str,
    config: dict[str, Any],
    metrics: dict[str, Any],
    parent: str | None = None,
    root: Path | None = None,
) -> Artifact:
    """Copy the PEFT adapter at `adapter_dir` into the registry as draft `name` (a name already taken: refused)."""
    root = root or default_root()
    check_new_name(name)
    if training_method not in TRAINING_METHODS:
        raise InvalidArtifactError(
            f"training_method must be one of {', '.join(TRAINING_METHODS)}, not {training_method!r}"
        )
    source = Path(adapter_dir).expanduser()
    _check_adapter_dir(source)
    config, metrics = _json_field(config, "config"), _json_field(metrics, "metrics")
    local = Path(base_model).expanduser()
    base_id = str(local.resolve()) if local.exists() else str(base_model)  # a path, absolute; else an HF id
    base_sha = model_content_hash(base_model, cache_dir=root)
    if name in read_index(root):  # cheap early answer; the check that counts is under the lock
        raise DuplicateArtifactError(f"an adapter named {name!r} is already registered")
    # Copy (and hash what was copied) outside the lock; the lock only covers renaming it into place.
    staging = root / ADAPTERS_DIR / f".staging-{name}-{secrets.token_hex(4)}"
    staging.mkdir(parents=True)
    try:
        for file in (CONFIG_FILE, WEIGHTS_FILE):
            shutil.copyfile(source / file, staging / file)
        manifest: dict[str, Any] = {
            "name": name, "base_model": base_id, "base_model_sha256": base_sha, "training_method": training_method,
            "config": config, "metrics": metrics, "created_at": utc_now(), "parent": parent,
            "adapter_sha256": sha256_file(staging / WEIGHTS_FILE),
            "adapter_config_sha256": sha256_file(staging / CONFIG_FILE),
            "status": Status.DRAFT.value, "evals": [],
        }  # fmt: skip
        write_json_atomic(staging / MANIFEST_FILE, manifest)
        with locked(root) as index:
            final = artifact_dir(root, name)
            if name in index:
                raise DuplicateArtifactError(f"an adapter named {name!r} is already registered")
            if final.exists():
                raise DuplicateArtifactError(
                    f"{final} exists but is not in the index (a registration that crashed?): "
                    f"remove it to reuse {name!r}"
                )
            staging.rename(final)
            index[name] = {
                "status": Status.DRAFT.value, "created_at": manifest["created_at"],
                "training_method": training_method, "base_model": base_id, "base_model_sha256": base_sha,
                "adapter_sha256": manifest["adapter_sha256"], "parent": parent, "eval": None,
            }  # fmt: skip
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return load_adapter_artifact(name, root=root)


def _entry(index: dict[str, dict[str, Any]], name: str) -> dict[str, Any]:
    check_name(name)
    if name not in index:
        raise ArtifactNotFoundError(name)
    return index[name]


def _read(name: str, root: Path, *, check: bool) -> tuple[Artifact, dict[str, Any]]:
    """The artifact and its manifest, read together under the readers' lock; with `check`, the index row
    cross-checked against the manifest (integrity.py). The files are not hashed here."""
    with shared(root):
        row = _entry(read_index(root), name)
        entry = Entry.from_index(name, row)  # a damaged row is named as such first
        manifest = read_manifest(root, name)
        if check:
            check_consistent(name, manifest, row)
    try:
        artifact = Artifact(
            name=name, path=artifact_dir(root, name), status=entry.status, base_model=_text(manifest, "base_model"),
            base_model_sha256=_text(manifest, "base_model_sha256"),
            training_method=_text(manifest, "training_method"), config=dict(manifest.get("config") or {}),
            metrics=dict(manifest.get("metrics") or {}), created_at=_text(manifest, "created_at"),
            parent=manifest.get("parent"), adapter_sha256=_text(manifest, "adapter_sha256"), eval=entry.eval,
        )  # fmt: skip
    except (KeyError, TypeError, ValueError) as exc:
        raise ArtifactCorruptError(f"the manifest of {name!r} is damaged: {_why(exc)}") from None
    return artifact, manifest


def load_adapter_artifact(name: str, *, root: Path | None = None, verify: bool = True) -> Artifact:
    """The artifact `name` (manifest + path, status and latest eval from the index); with `verify` (the
    default) the index row checked against the manifest and the files' sha256 against both."""
    artifact, manifest = _read(name, root or default_root(), check=verify)
    if verify:
        _check_files(name, artifact.path, manifest)
    return artifact


@contextlib.contextmanager
def verified_copy(name: str, *, root: Path | None = None) -> Iterator[Artifact]:
    """The artifact, its `path` a private copy of its two files whose sha256 were checked after copying
    (removed at the end of the block). Load from it, not from the registry dir: what is loaded is then
    byte for byte what was hashed, whatever is written into the registry dir meanwhile."""
    artifact, manifest = _read(name, root or default_root(), check=True)
    with tempfile.TemporaryDirectory(prefix="cppforge-adapter-") as tmp:
        copy = Path(tmp) / name  # same dir name: tools that name an adapter by its dir see the registry name
        copy.mkdir()
        for file in (CONFIG_FILE, WEIGHTS_FILE):
            source = artifact.path / file
            if not source.is_file():
                raise ArtifactCorruptError(f"artifact {name!r}: {file} is missing or not a regular file")
            shutil.copyfile(source, copy / file)
        _check_files(name, copy, manifest)
        yield dataclasses.replace(artifact, path=copy)


def _check_files(name: str, path: Path, manifest: dict[str, Any]) -> None:
    for file, key in ((WEIGHTS_FILE, "adapter_sha256"), (CONFIG_FILE, "adapter_config_sha256")):
        if not (path / file).is_file():  # (a FIFO would block the hash)
            raise ArtifactCorruptError(f"artifact {name!r}: {file} is missing or not a regular file")
        try:
            actual = sha256_file(path / file)
        except OSError as exc:
            raise ArtifactCorruptError(f"artifact {name!r}: cannot read {file}: {exc.strerror}") from None
        if actual != manifest.get(key):
            raise ArtifactCorruptError(
                f"artifact {name!r} is corrupt or was tampered with: {file} has sha256 {actual[:12]}..., "
                f"its manifest says {str(manifest.get(key))[:12]}..."
            )


def list_artifacts(*, root: Path | None = None) -> list[Entry]:
    """Every registered adapter, oldest first (from the index alone: no file is opened or hashed)."""
    index = read_index(root or default_root())
    return sorted((Entry.from_index(n, d) for n, d in index.items()), key=lambda e: (e.created_at, e.name))


def active_for_base(base_model_sha256: str, *, root: Path | None = None) -> str | None:
    """The name of the active adapter for the base with this content hash, if any."""
    for entry in list_artifacts(root=root):
        if entry.status == Status.ACTIVE and entry.base_model_sha256 == base_model_sha256:
            return entry.name
    return None


def set_status(
    root: Path, index: dict[str, dict[str, Any]], name: str, status: Status, *, promotion: dict[str, Any] | None = None
) -> None:
    """Inside `locked(root)`: change `name`'s status in the index and mirror it into its manifest (with the
    promotion record when it becomes active: what integrity.py asks an active row's manifest to hold)."""
    entry = _entry(index, name)
    entry["status"] = status.value
    entry[f"{status.value}_at"] = utc_now()
    manifest = read_manifest(root, name)
    manifest["status"] = status.value
    manifest[f"{status.value}_at"] = entry[f"{status.value}_at"]
    if promotion is not None:
        manifest["promotion"] = entry["promotion"] = promotion
    write_manifest(root, name, manifest)  # before the index (written when the lock's block ends)


def retire(name: str, *, root: Path | None = None) -> None:
    """draft or active -> retired (retired is final: a name always means the same weights, never revived)."""
    root = root or default_root()
    with locked(root) as index:
        current = Status(_entry(index, name)["status"])
        if current == Status.RETIRED:
            raise StatusError(f"{name} is already retired")
        set_status(root, index, name, Status.RETIRED)
