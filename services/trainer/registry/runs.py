"""Registering what a training run left in its --out dir: `adapter/`, config.json, summary.json.

Used by the trainer's jobs (every finished job's adapter becomes a draft) and by `cppforge
registry add` pointed at a run's adapter. The run's own config.json (written at its start) says
what was trained; without one (a run from elsewhere), the caller's config stands in.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .artifacts import Artifact, save_adapter_artifact


def training_method(config: dict[str, Any]) -> str:
    """The registry's method of a TrainConfig: its `method`, except distill with dcd=true is `dcd`."""
    method = str(config.get("method") or "gspo")
    return "dcd" if method == "distill" and config.get("dcd") else method


def default_base_model() -> Path:
    """What a run with an empty `model` trains on: the bootstrap model's dir (never built here)."""
    from ...lm.bootstrap import default_model_dir

    return default_model_dir()


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def run_provenance(
    run_dir: Path, fallback_config: dict[str, Any] | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(config, metrics) of the run in `run_dir`: its config.json (else summary.json's config, else the
    fallback) and its summary.json without the config; empty dicts for a dir that is not a run."""
    config = _read_json(run_dir / "config.json")
    summary = _read_json(run_dir / "summary.json") or {}
    if config is None:
        nested = summary.get("config")
        config = nested if isinstance(nested, dict) else dict(fallback_config or {})
    return config, {k: v for k, v in summary.items() if k != "config"}


def register_run(
    run_dir: Path,
    *,
    name: str,
    fallback_config: dict[str, Any] | None = None,
    root: Path | None = None,
) -> Artifact:
    """`run_dir/adapter` as draft `name`: method and base from the run's config, metrics from its summary.json."""
    config, metrics = run_provenance(run_dir, fallback_config)
    return save_adapter_artifact(
        run_dir / "adapter",
        name=name,
        base_model=str(config.get("model") or default_base_model()),
        training_method=training_method(config),
        config=config,
        metrics=metrics,
        root=root,
    )
