"""A whole training run: set-up, held-out score before, the step loop with checkpoints, score after, outputs.

`run_training` is what `cppforge train` and the jobs service run. It writes into `out_dir`:
config.json, metrics.jsonl, tensorboard/, checkpoints/, adapter/ (the final PEFT adapter, loadable
by the inference service), reward_curve.png and summary.json. A run resumed from its latest
checkpoint continues at the next step with the same config, optimizer, RNG, CCCS state and task
cursor, and ends at the same final step as an uninterrupted one.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import torch

from . import distributed
from .checkpoint import TrainerState, latest_checkpoint, restore_training, save_checkpoint
from .config import TrainConfig, apply_overrides, inference_key_from_env
from .distill_step import DistillStep
from .heldout import HeldoutScore, score_heldout
from .loop import RLStep, check_verifier_alive, seed_everything
from .lora import Policy, load_policy
from .outputs import CURVE_FILE, SUMMARY_FILE, MetricsLog, plot_reward_curve, read_metrics, truncate_metrics
from .rewards import VerifyOptions, make_rewards
from .rollout import make_rollouts
from .sft import SFTStep
from .stepcoder import CCCSCurriculum
from .tasksource import TaskCursor, load_split

log = logging.getLogger(__name__)

Stepper = RLStep | SFTStep | DistillStep  # run(step) -> metrics row; a cursor to checkpoint; close()

CONFIG_FILE = "config.json"
# What a resumed run may change: how long it runs and where the services are, never what it trains.
RESUME_OVERRIDABLE = frozenset({"steps", "minutes", "verifier_url", "inference_url", "inference_api_key", "threads",
                                "device", "verify_workers", "checkpoint_every", "overlap"})  # fmt: skip
# Debugging DDP: with this set to 1, rank r > 0 also writes rank<r>/metrics.jsonl (its own rows, its own
# task ids) and rank<r>/adapter at the end, so the ranks' weights and task shares can be compared.
DUMP_RANKS_ENV = "CPPFORGE_TRAIN_DUMP_RANKS"


def adapter_name(out_dir: Path) -> str:
    """The model name the run's adapter gets in the inference service (its name pattern: [A-Za-z0-9_-], <= 64
    chars). A job's run dir is `<job dir>/run`: named after the job, so that two jobs' runs never replace each
    other's rollout policy (the push replaces an adapter of the same name)."""
    path = out_dir.resolve()
    name = path.parent.name if path.name == "run" and path.parent.name else path.name
    stem = re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-") or "run"
    return f"cppforge-train-{stem}"[:64]


class StopRequested(Exception):
    """The run was asked to stop (SIGTERM, job cancel); a checkpoint was saved."""


@dataclass
class RunHooks:
    on_step: Callable[[dict[str, Any]], None] | None = None
    should_stop: Callable[[], bool] | None = None
    progress: TextIO | None = sys.stderr  # held-out lines, and the step bar when `bar`
    bar: bool = True


def resume_config(out_dir: Path, overrides: dict[str, Any]) -> TrainConfig:
    """The saved config of the run in `out_dir`, with only run-length/service fields changed (other
    overrides must repeat the saved values)."""
    path = out_dir / CONFIG_FILE
    if not path.is_file():
        raise FileNotFoundError(f"nothing to resume in {out_dir}: no {CONFIG_FILE}")
    saved = TrainConfig(**{k: v for k, v in json.loads(path.read_text()).items() if k != "recipe"})
    resumed = apply_overrides(saved, overrides)
    # A restarted job passes all its overrides again: the ones that say what the run already is are fine.
    refused = sorted(n for n in set(overrides) - RESUME_OVERRIDABLE if getattr(resumed, n) != getattr(saved, n))
    if refused:
        raise ValueError(f"a resumed run keeps its config; cannot change: {', '.join(refused)}")
    return resumed


def _heldout(policy: Policy, cfg: TrainConfig, split: Any, rewards: Any, label: str, stream: TextIO | None) -> Any:
    def progress(done: int, total: int) -> None:
        if stream is not None and (done == total or done % max(1, total // 4) == 0):
            print(f"held-out ({label}): {done}/{total} tasks scored", file=stream, flush=True)

    with torch.no_grad():
        return score_heldout(policy.model, policy.tokenizer, split.heldout, rewards, samples=cfg.heldout_samples,
                             temperature=cfg.temperature, top_p=cfg.top_p, max_tokens=cfg.max_gen_len,
                             seed=cfg.heldout_seed, progress=progress)  # fmt: skip


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _describe(score: HeldoutScore) -> str:
    text = (f"compile {_rate(score.compile_rate)} pass {_rate(score.pass_rate)} (sampled), "
            f"compile {_rate(score.greedy_compile_rate)} pass {_rate(score.greedy_pass_rate)} (greedy)")  # fmt: skip
    return text + (
        f"; {score.dropped} completions dropped (the verifier could not judge them)" if score.dropped else ""
    )


def run_training(
    cfg: TrainConfig, out_dir: Path, *, recipe: str = "custom", resume: bool = False, hooks: RunHooks | None = None
) -> dict[str, Any]:
    hooks = hooks or RunHooks()
    stream = hooks.progress
    wall_started = time.perf_counter()
    world = distributed.init_from_env(cfg.device)
    out_dir.mkdir(parents=True, exist_ok=True)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    elif not torch.cuda.is_available() or cfg.device == "cpu":
        torch.set_num_threads(1)
    seed_everything(cfg.seed)  # the same on every rank: a fresh LoRA init must be identical everywhere
    model_path = cfg.model
    if not model_path:
        from ..lm.bootstrap import ensure_bootstrap_model

        model_path = str(ensure_bootstrap_model())
    split = load_split(cfg)
    checkpoint = latest_checkpoint(out_dir) if resume else None
    if resume and checkpoint is None:
        raise FileNotFoundError(f"nothing to resume in {out_dir}: no complete checkpoint")
    policy = load_policy(model_path, cfg, adapter_dir=checkpoint / "adapter" if checkpoint else None)
    optimizer = torch.optim.AdamW(policy.trainable_parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    state = restore_training(checkpoint, optimizer) if checkpoint else TrainerState()
    rewards = make_rewards(cfg.verifier_url, VerifyOptions(cfg.std, cfg.verify_timeout_s, cfg.reward == "shaped"),
                           cfg.verify_workers)  # fmt: skip
    metrics: MetricsLog | None = None
    stepper: Stepper | None = None
    stopped = False
    try:
        if world.is_main:
            (out_dir / CONFIG_FILE).write_text(json.dumps({"recipe": recipe, **cfg.to_dict()}, indent=1))
            # Rows past the checkpoint are redone; a fresh run (step 0) in a dir a killed run left rows in
            # (no checkpoint yet, or a job restarted without one) starts the file over rather than repeat steps.
            truncate_metrics(out_dir / "metrics.jsonl", state.step)
            metrics = MetricsLog(out_dir)
        elif (dump := _dump_dir(out_dir, world)) is not None:
            metrics = MetricsLog(dump, tensorboard=False)
        cccs = CCCSCurriculum(cfg.cccs_initial_prefix_frac, cfg.cccs_decay_step, cfg.cccs_decay_threshold,
                              cfg.cccs_min_prefix_frac)  # fmt: skip
        if state.cccs:
            cccs.load_state_dict(state.cccs)
        # Each rank goes on from its own cursor (DAPO refills move them apart); a checkpoint of another
        # world size has rank 0's only.
        position = state.rank_cursors[world.rank] if len(state.rank_cursors) == world.size else state.task_cursor
        if cfg.method == "sft":
            stepper = SFTStep(cfg, policy, optimizer, world.rank, world.size)
            stepper.position = position
        elif cfg.method == "distill":
            stepper = DistillStep(cfg, policy, optimizer, tasks=split.train, rank=world.rank, world=world.size)
            stepper.position = position
        else:
            api_key = cfg.inference_api_key or inference_key_from_env(cfg.inference_url)
            rollouts = make_rollouts(cfg.inference_url, policy, run_name=adapter_name(out_dir),
                                     sync_dir=out_dir / "sync" / "adapter", sync_every=cfg.sync_every,
                                     api_key=api_key)  # fmt: skip
            cursor = TaskCursor(split.train, cfg.seed, world.rank, world.size, position)
            stepper = RLStep(cfg, policy, optimizer, rollouts, rewards, cursor, cccs, world.rank)
        # Scored after the stepper is built, so that bad SFT data (or a bad teacher) fails before minutes of
        # held-out scoring.
        if state.heldout_before is None and split.heldout and world.is_main:
            before = _heldout(policy, cfg, split, rewards, "before", stream)
            state.heldout_before = before.to_dict()
            if stream is not None:
                print(f"held-out before: {_describe(before)}", file=stream, flush=True)
        stopped = _loop(cfg, out_dir, policy, optimizer, state, stepper, metrics, hooks, world, cccs)
    finally:
        if stepper is not None:
            stepper.close()
        if metrics is not None:
            metrics.close()
    summary = _finish(cfg, out_dir, recipe, policy, split, rewards, state, world, stopped, stream, wall_started)
    rewards.close()
    if stopped:
        raise StopRequested(f"stopped at step {state.step}; resume with --resume {out_dir}")
    return summary


def _loop(cfg: TrainConfig, out_dir: Path, policy: Policy, optimizer: torch.optim.Optimizer, state: TrainerState,
          stepper: Stepper, metrics: MetricsLog | None, hooks: RunHooks, world: distributed.World,
          cccs: CCCSCurriculum) -> bool:  # fmt: skip
    """Steps until the step or time limit, or a stop request; returns True when stopped early."""
    from .progressbar import TrainProgress

    bar = TrainProgress(cfg, state.step, state.elapsed_s, hooks.progress if world.is_main and hooks.bar else None)
    stopped = False
    try:
        while True:
            if cfg.steps and state.step >= cfg.steps:
                break
            if cfg.minutes and state.elapsed_s >= cfg.minutes * 60:
                break
            if distributed.broadcast_flag(bool(hooks.should_stop and hooks.should_stop())):
                stopped = True
                break
            row = stepper.run(state.step)
            state.step += 1
            state.elapsed_s += row["step_s"]
            row["elapsed_s"] = state.elapsed_s
            state.task_cursor = stepper.cursor.position if isinstance(stepper, RLStep) else stepper.position
            state.rank_cursors = distributed.gather_ints(state.task_cursor)
            state.cccs = cccs.state_dict()
            if metrics is not None:
                metrics.write(row)  # before the verifier check, so the step that ends the run is logged too
            if isinstance(stepper, RLStep):
                check_verifier_alive(row, state)
            if hooks.on_step is not None and world.is_main:
                hooks.on_step(row)
            bar.update(row)
            if state.step % cfg.checkpoint_every == 0 and world.is_main:
                save_checkpoint(out_dir, policy, optimizer, state)
            distributed.barrier()
    finally:
        bar.close()
    if world.is_main:
        save_checkpoint(out_dir, policy, optimizer, state)
    return stopped


def _dump_dir(out_dir: Path, world: distributed.World) -> Path | None:
    """Where rank > 0 writes its debug copy (DUMP_RANKS_ENV), created on first use; None when off."""
    if world.is_main or os.environ.get(DUMP_RANKS_ENV) != "1":
        return None
    path = out_dir / f"rank{world.rank}"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _finish(cfg: TrainConfig, out_dir: Path, recipe: str, policy: Policy, split: Any, rewards: Any,
            state: TrainerState, world: distributed.World, stopped: bool, stream: TextIO | None,
            wall_started: float) -> dict[str, Any]:  # fmt: skip
    if not world.is_main:
        dump = _dump_dir(out_dir, world)
        if dump is not None:
            policy.save_adapter(dump / "adapter")
        distributed.barrier()
        return {}
    adapter_dir = policy.save_adapter(out_dir / "adapter")
    after = None
    if split.heldout and not stopped:
        after = _heldout(policy, cfg, split, rewards, "after", stream)
        if stream is not None:
            print(f"held-out after:  {_describe(after)}", file=stream, flush=True)
    rows = read_metrics(out_dir / "metrics.jsonl")
    png = plot_reward_curve(rows, out_dir / CURVE_FILE, title=f"cppforge {recipe} ({cfg.method})")
    before = state.heldout_before or {}
    after_d = after.to_dict() if after is not None else {}
    summary = {
        "method": cfg.method,
        "recipe": recipe,
        "steps": state.step,
        "compile_rate_before": before.get("compile_rate"),
        "compile_rate_after": after_d.get("compile_rate"),
        "pass_rate_before": before.get("pass_rate"),
        "pass_rate_after": after_d.get("pass_rate"),
        "greedy_compile_rate_before": before.get("greedy_compile_rate"),
        "greedy_compile_rate_after": after_d.get("greedy_compile_rate"),
        "greedy_pass_rate_before": before.get("greedy_pass_rate"),
        "greedy_pass_rate_after": after_d.get("greedy_pass_rate"),
        "heldout_before": before or None,
        "heldout_after": after_d or None,
        "train_s": state.elapsed_s,
        "wall_s": time.perf_counter() - wall_started,
        "dropped": state.counters.get("dropped", 0),
        "discarded": state.counters.get("discarded", 0),
        "stopped_early": stopped,
        "world_size": world.size,
        "device": str(policy.device),
        "nf4": policy.nf4,
        "rollouts": "http" if cfg.inference_url else "local",
        "rewards": "http" if cfg.verifier_url else "local",
        "adapter_dir": str(adapter_dir),
        "reward_curve_png": str(png) if png else None,
        "metrics": str(out_dir / "metrics.jsonl"),
        "tensorboard_dir": str(out_dir / "tensorboard"),
        "config": cfg.to_dict(),
    }
    if cfg.method == "distill":
        summary["distill_mode"] = "dcd" if cfg.dcd else "teacher"
        summary["teacher"] = cfg.teacher or None  # None: DCD's teacher is the own base model
    (out_dir / SUMMARY_FILE).write_text(json.dumps(summary, indent=1))
    distributed.barrier()
    return summary
