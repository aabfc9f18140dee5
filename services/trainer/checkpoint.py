"""Resumable checkpoints: adapter (or full weights), optimizer, RNG states, step, CCCS state, task cursor.

Written to `checkpoints/step-N.tmp` and renamed into place, then `checkpoints/latest` is replaced
atomically, so a run killed while saving resumes from the previous complete checkpoint.
"""

from __future__ import annotations

import json
import os
import random
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from .lora import Policy

STATE_FILE = "trainer_state.json"
OPTIMIZER_FILE = "optimizer.pt"
RNG_FILE = "rng.pt"
LATEST = "latest"
KEEP = 2  # complete checkpoints kept on disk


@dataclass
class TrainerState:
    step: int = 0
    task_cursor: int = 0
    rank_cursors: list[int] = field(default_factory=list)  # every rank's cursor under DDP (ranks refill apart)
    cccs: dict[str, Any] = field(default_factory=dict)
    elapsed_s: float = 0.0  # training wall time so far (for --minutes across resumes)
    heldout_before: dict[str, Any] | None = None
    counters: dict[str, int] = field(default_factory=dict)


def checkpoint_root(out_dir: Path) -> Path:
    return out_dir / "checkpoints"


def _complete(path: Path) -> bool:
    """Every file a resume reads is there (a checkpoint dir someone or something emptied is not one)."""
    adapter = path / "adapter"
    has_weights = any(adapter.glob("*.safetensors")) or any(adapter.glob("*.bin"))
    return all((path / name).is_file() for name in (STATE_FILE, OPTIMIZER_FILE, RNG_FILE)) and has_weights


def latest_checkpoint(out_dir: Path) -> Path | None:
    pointer = checkpoint_root(out_dir) / LATEST
    if not pointer.is_file():
        return None
    target = checkpoint_root(out_dir) / pointer.read_text().strip()
    return target if _complete(target) else None


def _rng_state() -> dict[str, Any]:
    state: dict[str, Any] = {"python": random.getstate(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    try:
        import numpy as np

        state["numpy"] = np.random.get_state()
    except ImportError:
        pass
    return state


def _restore_rng(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    if "numpy" in state:
        import numpy as np

        np.random.set_state(state["numpy"])


def save_checkpoint(out_dir: Path, policy: Policy, optimizer: torch.optim.Optimizer, state: TrainerState) -> Path:
    root = checkpoint_root(out_dir)
    root.mkdir(parents=True, exist_ok=True)
    name = f"step-{state.step:06d}"
    tmp = root / f"{name}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    policy.save_adapter(tmp / "adapter")
    torch.save(optimizer.state_dict(), tmp / OPTIMIZER_FILE)
    torch.save(_rng_state(), tmp / RNG_FILE)
    (tmp / STATE_FILE).write_text(json.dumps(state.__dict__, indent=1))
    final = root / name
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)
    pointer_tmp = root / f"{LATEST}.tmp"
    pointer_tmp.write_text(name)
    os.replace(pointer_tmp, root / LATEST)
    for old in sorted(p for p in root.glob("step-*") if p.is_dir() and not p.name.endswith(".tmp"))[:-KEEP]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def read_state(path: Path) -> TrainerState:
    return TrainerState(**json.loads((path / STATE_FILE).read_text()))


def _load(path: Path) -> Any:
    try:
        return torch.load(path, weights_only=False)
    except Exception as exc:  # torch reports a torn file as RuntimeError, EOFError or an unpickling error
        others = sorted(p.name for p in path.parent.parent.glob("step-*") if p != path.parent and _complete(p))
        earlier = f"write {others[-1]} into {path.parent.parent / LATEST}" if others else "remove it"
        first = str(exc).split(". ")[0].splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValueError(f"checkpoint file {path} is unreadable ({first}): {earlier}, or start a new --out") from None


def restore_training(path: Path, optimizer: torch.optim.Optimizer) -> TrainerState:
    """Optimizer and RNG states from checkpoint `path` (the adapter is loaded with the policy)."""
    optimizer.load_state_dict(_load(path / OPTIMIZER_FILE))
    _restore_rng(_load(path / RNG_FILE))
    return read_state(path)
