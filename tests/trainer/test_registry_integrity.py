"""Attacks on the registry's files: one-file hand edits that would promote or serve an adapter without the
numbers the harness measured, weights swapped under a reader, a reader racing a writer."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from services.trainer.registry import (
    ArtifactCorruptError,
    load_adapter_artifact,
    promote,
    record_eval,
    retire,
    save_adapter_artifact,
)
from services.trainer.registry.artifacts import verified_copy
from services.trainer.registry.index import locked
from tests.helpers.registry import eval_report, fake_adapter, fake_base_model

ROOT_DIR = Path(__file__).resolve().parents[2]


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "registry"


@pytest.fixture
def base(tmp_path: Path) -> Path:
    return fake_base_model(tmp_path / "base", seed=0)


def _draft(root: Path, base: Path, name: str, pass_at_1: float | None = None, seed: int = 0) -> str:
    adapter = fake_adapter(root.parent / "src" / name, seed=seed)
    save_adapter_artifact(
        adapter, name=name, base_model=base, training_method="gspo", config={}, metrics={}, root=root
    )  # fmt: skip
    if pass_at_1 is not None:
        record_eval(name, eval_report(pass_at_1), root=root)
    return name


def _edit(path: Path, change: Callable[[dict[str, Any]], object]) -> None:
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc))


def test_an_eval_typed_into_the_index_promotes_nothing(root: Path, base: Path) -> None:
    _draft(root, base, "weak", 0.02)  # below the gate
    index = root / "index.json"
    _edit(index, lambda d: d["adapters"]["weak"]["eval"]["pass_at_k"].update({"pass@1": 0.9}))
    with pytest.raises(ArtifactCorruptError, match="the index's eval of it is not among the evals its manifest"):
        promote("weak", root=root)
    # The record in the manifest typed up as well: the harness report stored with it still says 0.02.
    manifest = root / "adapters" / "weak" / "manifest.json"
    _edit(manifest, lambda d: d["evals"][-1]["pass_at_k"].update({"pass@1": 0.9}))
    with pytest.raises(ArtifactCorruptError, match="does not match the harness report stored with it"):
        promote("weak", root=root)
    assert load_adapter_artifact("weak", root=root, verify=False).status.value == "draft"


def test_a_status_typed_into_the_index_is_not_served(root: Path, base: Path) -> None:
    _draft(root, base, "never-promoted", 0.5)
    _edit(root / "index.json", lambda d: d["adapters"]["never-promoted"].update(status="active"))
    with pytest.raises(ArtifactCorruptError, match="the index says active, but its manifest holds no promotion"):
        load_adapter_artifact("never-promoted", root=root)  # what the inference service loads it through
    # A retired adapter revived in the index alone: its manifest says retired.
    _edit(root / "index.json", lambda d: d["adapters"]["never-promoted"].update(status="draft"))
    promote("never-promoted", root=root)
    assert load_adapter_artifact("never-promoted", root=root).status.value == "active"  # the real promotion
    retire("never-promoted", root=root)
    _edit(root / "index.json", lambda d: d["adapters"]["never-promoted"].update(status="active"))
    with pytest.raises(ArtifactCorruptError, match="the index says active"):
        load_adapter_artifact("never-promoted", root=root)


def test_the_promotion_is_recorded_in_the_manifest(root: Path, base: Path) -> None:
    _draft(root, base, "job-1", 0.3)
    promote("job-1", root=root)
    _draft(root, base, "job-2", 0.4, seed=1)
    promote("job-2", root=root)
    manifest = json.loads((root / "adapters" / "job-2" / "manifest.json").read_text())
    record = manifest["promotion"]
    assert (record["metric"], record["value"], record["gate"]) == ("pass@1", 0.4, 0.05)
    assert (record["retired"], record["retired_value"]) == ("job-1", 0.3)
    assert record["eval"]["pass_at_k"]["pass@1"] == 0.4


def test_verified_copy_holds_the_hashed_bytes(root: Path, base: Path) -> None:
    _draft(root, base, "job-c")
    weights = root / "adapters" / "job-c" / "adapter_model.safetensors"
    original = weights.read_bytes()
    with verified_copy("job-c", root=root) as art:
        copy = art.path
        assert copy.name == "job-c" and copy != weights.parent
        weights.write_bytes(original[:-1] + bytes([original[-1] ^ 1]))  # swapped while it is being loaded
        assert (copy / "adapter_model.safetensors").read_bytes() == original  # what loads is what was hashed
    assert not copy.exists()  # removed with its block
    with (
        pytest.raises(ArtifactCorruptError, match="'job-c' is corrupt or was tampered with"),
        verified_copy("job-c", root=root),
    ):
        pass
    weights.unlink()
    weights.mkdir()  # not a regular file (a FIFO would block the hash)
    with pytest.raises(ArtifactCorruptError, match="missing or not a regular file"):
        load_adapter_artifact("job-c", root=root)


def test_a_reader_waits_for_a_writer_between_its_two_writes(root: Path, base: Path) -> None:
    _draft(root, base, "job-r", 0.3)
    seen: list[str] = []

    def reader() -> None:
        seen.append(load_adapter_artifact("job-r", root=root).status.value)

    with locked(root) as index:  # a promotion halfway: manifest written, index not yet
        manifest_file = root / "adapters" / "job-r" / "manifest.json"
        _edit(manifest_file, lambda d: d.update(status="active", promotion={"eval": index["job-r"]["eval"]}))
        index["job-r"]["status"] = "active"
        thread = threading.Thread(target=reader)
        thread.start()
        time.sleep(0.3)
        assert seen == []  # blocked on the shared lock, not reading half an update
    thread.join(timeout=10)
    assert seen == ["active"]


PROMOTER = """
import sys, time
from pathlib import Path
from services.trainer.registry import PromotionRefused, promote
root, name, start = Path(sys.argv[1]), sys.argv[2], float(sys.argv[3])
time.sleep(max(0.0, start - time.time()))
try:
    promote(name, root=root)
    print("promoted")
except PromotionRefused as exc:
    print(exc)
"""


def test_two_promotions_racing_leave_the_better_one_active(root: Path, base: Path) -> None:
    """A (0.4) and B (0.5) both beat the active X (0.3), promoted at the same moment from two processes:
    whichever goes first, B ends active (it beats A too; A does not beat B), and only B."""
    _draft(root, base, "x", 0.3)
    promote("x", root=root)
    _draft(root, base, "a", 0.4, seed=1)
    _draft(root, base, "b", 0.5, seed=2)
    start = time.time() + 1.0
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", PROMOTER, str(root), name, str(start)],
            cwd=ROOT_DIR,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("a", "b")
    ]
    outputs = [p.communicate(timeout=60) for p in procs]
    assert all(p.returncode == 0 for p in procs), outputs
    statuses = {name: load_adapter_artifact(name, root=root).status.value for name in ("x", "a", "b")}
    assert statuses["b"] == "active" and statuses["x"] == "retired" and list(statuses.values()).count("active") == 1
    a_out = outputs[0][0].strip()
    a_first = a_out == "promoted" and statuses["a"] == "retired"
    assert a_first or (a_out.startswith("refused: a pass@1 0.400 does not beat active b") and statuses["a"] == "draft")
