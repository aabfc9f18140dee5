"""The training loop: rollouts -> verifier rewards -> group advantages -> GSPO/GRPO update, with
LUSPO, DAPO discard (and refill), StepCoder CCCS and FGO, KL to a frozen reference, checkpoints.

Per step, generation of group k+1 overlaps the verification of group k (verification runs in a
thread: g++ and the sandboxed programs are other processes). A sample the verifier could not judge
(infrastructure) is dropped and counted, never scored 0.
"""

from __future__ import annotations

import concurrent.futures
import logging
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import torch

from ..lm.prompts import FUNCTION_STOP, encode_prompt
from ..lm.sampling import SamplingParams
from ..tasks import Task
from . import distributed
from .batch import Batch, Row, collate, completion_log_probs, token_char_starts
from .checkpoint import TrainerState
from .config import TrainConfig
from .lora import Policy
from .losses import group_advantages, policy_loss, zero_variance_groups
from .rewards import RewardBackend, Verdict
from .rollout import Completion, RolloutBackend
from .stepcoder import CCCSCurriculum, _parse_error_line, completion_cut, fgo_token_mask
from .tasksource import TaskCursor

log = logging.getLogger(__name__)

MAX_ALL_DROPPED_STEPS = 3  # consecutive steps with every sample dropped: the verifier is down, stop


class VerifierDownError(RuntimeError):
    """Every sample of several steps in a row was dropped: rewards cannot be computed."""


@dataclass
class _Pending:
    task: Task
    prompt: str  # the plain prompt plus the CCCS prefix
    prompt_ids: list[int]
    completions: list[Completion]
    verdicts: concurrent.futures.Future[list[Verdict]]
    gen_s: float


@dataclass
class StepStats:
    groups: int = 0
    samples: int = 0
    dropped: int = 0
    discarded: int = 0
    refills: int = 0
    compiled: int = 0
    passed: int = 0
    rewards: list[float] = field(default_factory=list)
    lengths: list[int] = field(default_factory=list)
    fgo_masked: int = 0
    fgo_tokens: int = 0
    gen_s: float = 0.0
    verify_wait_s: float = 0.0
    task_ids: list[str] = field(default_factory=list)  # every group drawn, refills included (DDP: this rank's)


def rollout_seed(cfg: TrainConfig, step: int, slot: int, rank: int) -> int:
    """A distinct, reproducible seed per (run seed, step, group slot, rank); row i draws with seed + i."""
    return (((cfg.seed * 1_000_003 + step) * 97 + slot) * 31 + rank) * cfg.group_size % (2**62)


class RLStep:
    """One optimizer step of GSPO/GRPO on verifier rewards."""

    def __init__(self, cfg: TrainConfig, policy: Policy, optimizer: torch.optim.Optimizer, rollouts: RolloutBackend,
                 rewards: RewardBackend, cursor: TaskCursor, cccs: CCCSCurriculum, rank: int = 0) -> None:  # fmt: skip
        self.cfg, self.policy, self.optimizer = cfg, policy, optimizer
        self.rollouts, self.rewards, self.cursor, self.cccs, self.rank = rollouts, rewards, cursor, cccs, rank
        self._verify_pool = concurrent.futures.ThreadPoolExecutor(max_workers=2, thread_name_prefix="group-verify")
        self._context = int(getattr(policy.model.config, "max_position_embeddings", 1 << 30) or 1 << 30)

    def close(self) -> None:
        self._verify_pool.shutdown(wait=True)

    # -- rollouts --------------------------------------------------------------------------
    def _launch(self, step: int, slot: int, stats: StepStats) -> _Pending:
        cfg = self.cfg
        task = self.cursor.next()
        stats.task_ids.append(task.task_id)
        prompt = self.cccs.prompt_for(task.prompt, task.canonical_solution)[0] if cfg.cccs else task.prompt
        ids = encode_prompt(self.policy.tokenizer, prompt)
        budget = max(1, min(cfg.max_gen_len, self._context - len(ids)))
        params = SamplingParams(max_tokens=budget, temperature=cfg.temperature, top_p=cfg.top_p,
                                stop=(FUNCTION_STOP,), seed=rollout_seed(cfg, step, slot, self.rank))  # fmt: skip
        started = time.perf_counter()
        completions = self.rollouts.generate(prompt, ids, cfg.group_size, params)
        gen_s = time.perf_counter() - started
        stats.gen_s += gen_s
        programs = [c.program(prompt) for c in completions]
        future = self._verify_pool.submit(self.rewards.score, programs, task.test)
        if not cfg.overlap:
            started = time.perf_counter()
            future.result()
            stats.verify_wait_s += time.perf_counter() - started  # the whole verification: nothing overlaps it
        return _Pending(task, prompt, ids, completions, future, gen_s)

    def collect(self, step: int) -> tuple[list[Row], StepStats]:
        cfg = self.cfg
        stats = StepStats()
        slot = 0
        pending: list[_Pending] = []
        for _ in range(cfg.prompts_per_step):
            pending.append(self._launch(step, slot, stats))
            slot += 1
        rows: list[Row] = []
        group_compile: list[float] = []
        while pending:
            group = pending.pop(0)
            started = time.perf_counter()
            verdicts = group.verdicts.result()
            stats.verify_wait_s += time.perf_counter() - started
            kept = [(c, v) for c, v in zip(group.completions, verdicts, strict=True) if not v.dropped]
            stats.samples += len(verdicts)
            stats.dropped += len(verdicts) - len(kept)
            stats.compiled += sum(v.compiled for _, v in kept)
            stats.passed += sum(v.passed for _, v in kept)
            if kept:
                group_compile.append(sum(v.compiled for _, v in kept) / len(kept))
            rewards = torch.tensor([float(v.reward or 0.0) for _, v in kept], dtype=torch.float32)
            stats.rewards += rewards.tolist()
            useless = len(kept) < 2 or (cfg.dapo_discard and bool(zero_variance_groups(rewards, len(kept)).all()))
            if useless:
                stats.discarded += 1
                if stats.refills < cfg.dapo_max_refills:
                    stats.refills += 1
                    pending.append(self._launch(step, slot, stats))
                    slot += 1
                continue
            stats.groups += 1
            advantages = group_advantages(rewards, len(kept))
            for (completion, verdict), adv in zip(kept, advantages.tolist(), strict=True):
                keep = self._fgo_keep(group.prompt, completion, verdict, stats)
                rows.append(Row(group.prompt_ids, completion.token_ids, keep, float(verdict.reward or 0.0), adv))
                stats.lengths.append(len(completion.token_ids))
        if cfg.cccs:  # one curriculum for all ranks: the mean compile rate of every rank's groups
            rate_sum, groups = distributed.sum_values([sum(group_compile), len(group_compile)])
            if groups:
                self.cccs.update(rate_sum / groups)
        return rows, stats

    def _fgo_keep(self, prompt: str, completion: Completion, verdict: Verdict, stats: StepStats) -> list[bool]:
        ids = completion.token_ids
        keep = [True] * len(ids)
        if self.cfg.fgo and not verdict.compiled and ids:
            code = completion.program(prompt)
            line = _parse_error_line(verdict.compile_output, code)
            cut = completion_cut(code, len(prompt), line) if line is not None else None
            if cut is not None:
                keep = fgo_token_mask(token_char_starts(self.policy.tokenizer, ids), cut)
        stats.fgo_tokens += len(ids)
        stats.fgo_masked += keep.count(False)
        return keep

    # -- update ----------------------------------------------------------------------------
    def _autocast(self) -> Any:
        use = self.cfg.bf16 and self.policy.device.type == "cuda"
        return torch.autocast("cuda", dtype=torch.bfloat16, enabled=use)

    def _fixed_log_probs(self, batch: Batch) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """(old, ref) log-probs without gradients; old is None when the rollouts came from the live policy."""
        cfg = self.cfg
        old = ref = None
        with torch.no_grad(), self._autocast():
            behaviour = self.rollouts.behaviour_adapter
            if behaviour is not None:
                with self.policy.adapter(behaviour) as model:
                    old = completion_log_probs(model, batch, cfg.temperature)
            elif cfg.ppo_epochs > 1:
                old = completion_log_probs(self.policy.model, batch, cfg.temperature)
            if cfg.kl_coeff > 0:
                with self.policy.reference_model() as ref_model:
                    ref = completion_log_probs(ref_model, batch, cfg.temperature)
        return old, ref

    def update(self, batches: list[Batch]) -> dict[str, float]:
        cfg = self.cfg
        level: Literal["token", "sequence"] = "sequence" if cfg.method == "gspo" else "token"
        loss_type: Literal["grpo", "luspo"] = "luspo" if cfg.luspo else "grpo"
        low, high = (
            (cfg.gspo_clip_low, cfg.gspo_clip_high) if level == "sequence" else (cfg.clip_eps, cfg.clip_eps_high)
        )
        fixed = [self._fixed_log_probs(b) for b in batches]
        kls: list[float] = []
        clips: list[float] = []
        losses: list[float] = []
        norms: list[float] = []
        params = self.policy.trainable_parameters()
        for _ in range(cfg.ppo_epochs):
            self.optimizer.zero_grad(set_to_none=True)
            for batch, (old, ref) in zip(batches, fixed, strict=True):
                with self._autocast():
                    logp = completion_log_probs(self.policy.model, batch, cfg.temperature)
                out = policy_loss(logp, old if old is not None else logp.detach(), batch.advantages, batch.mask,
                                  level=level, loss_type=loss_type, clip_low=low, clip_high=high, ref_logp=ref,
                                  beta=cfg.kl_coeff)  # fmt: skip
                (out.loss / len(batches)).backward()
                kls.append(out.kl)
                clips.append(out.clip_frac)
                losses.append(float(out.loss.detach()))
            norms.append(self._apply_gradients(params))
        return {"kl": _mean(kls), "clip_frac": _mean(clips), "loss": _mean(losses), "grad_norm": _mean(norms)}

    def _apply_gradients(self, params: list[torch.nn.Parameter]) -> float:
        distributed.average_gradients(params)
        norm = torch.nn.utils.clip_grad_norm_(params, self.cfg.grad_clip if self.cfg.grad_clip > 0 else float("inf"))
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        return float(norm)

    def skip_update(self) -> None:
        """No surviving group on this rank: still join the gradient all-reduce with zeros (DDP lockstep)."""
        params = self.policy.trainable_parameters()
        for _ in range(self.cfg.ppo_epochs):
            for p in params:
                p.grad = torch.zeros_like(p)
            self._apply_gradients(params)

    def run(self, step: int) -> dict[str, Any]:
        """One step: `grad_accum` rollout batches, then the update; the metrics row."""
        started = time.perf_counter()
        self.rollouts.sync(self.policy, step)
        batches: list[Batch] = []
        total = StepStats()
        for _ in range(self.cfg.grad_accum):
            rows, stats = self.collect(step)
            _merge(total, stats)
            if rows:
                batches.append(collate(rows, self.policy.tokenizer.pad_token_id).to(self.policy.device))
        train_started = time.perf_counter()
        info = {"kl": 0.0, "clip_frac": 0.0, "loss": 0.0, "grad_norm": 0.0}
        # No rank has a surviving group: no gradient, so no optimizer step (AdamW would otherwise move the
        # weights on its momentum alone, e.g. on every step while the verifier is down). Every rank asks.
        if distributed.any_have(bool(batches)):
            if batches:
                info = self.update(batches)
            else:
                self.skip_update()  # others have groups: join their all-reduces with zeros (DDP lockstep)
        n = _global_counts(total)  # the whole step's samples (every rank's, under DDP)
        judged = n["samples"] - n["dropped"]
        # Nothing judged (every sample dropped): the rates are unknown, so null, never a 0 that would read
        # as a model that stopped compiling.
        reward_mean = n["reward_sum"] / n["rewards"] if n["rewards"] else None
        reward_var = n["reward_sq_sum"] / n["rewards"] - reward_mean**2 if reward_mean is not None else None
        return {
            "step": step + 1,
            "reward_mean": reward_mean,
            "reward_std": math.sqrt(max(0.0, reward_var)) if reward_var is not None else None,
            "compile_rate": n["compiled"] / judged if judged else None,
            "pass_rate": n["passed"] / judged if judged else None,
            **info,
            "step_s": time.perf_counter() - started,
            "gen_s": total.gen_s,
            "verify_wait_s": total.verify_wait_s,
            "train_s": time.perf_counter() - train_started,
            "cccs_prefix": self.cccs.prefix_frac if self.cfg.cccs else 0.0,
            "fgo_masked_frac": n["fgo_masked"] / n["fgo_tokens"] if n["fgo_tokens"] else 0.0,
            "samples": int(n["samples"]),
            "dropped": int(n["dropped"]),
            "discarded": int(n["discarded"]),
            "groups": int(n["groups"]),
            "completion_len": n["length_sum"] / n["lengths"] if n["lengths"] else 0.0,
            "updated": bool(batches),  # this rank had a group to learn from
            "task_ids": total.task_ids,  # this rank's groups
        }


_COUNTED = ("samples", "dropped", "discarded", "groups", "compiled", "passed", "fgo_masked", "fgo_tokens")


def _global_counts(total: StepStats) -> dict[str, float]:
    """The step's counts and reward sums over every rank, so that a DDP row describes the whole update."""
    local = {name: float(getattr(total, name)) for name in _COUNTED}
    local |= {"rewards": len(total.rewards), "reward_sum": sum(total.rewards),
              "reward_sq_sum": sum(r * r for r in total.rewards), "lengths": len(total.lengths),
              "length_sum": sum(total.lengths)}  # fmt: skip
    return dict(zip(local, distributed.sum_values(list(local.values())), strict=True))


def _merge(total: StepStats, part: StepStats) -> None:
    for name in StepStats.__dataclass_fields__:
        value = getattr(part, name)
        setattr(total, name, getattr(total, name) + value)


def _mean(values: list[float]) -> float:
    return float(sum(values) / len(values)) if values else 0.0


def seed_everything(seed: int) -> None:
    random.seed(seed)
    torch.manual_seed(seed)
    try:
        import numpy as np

        np.random.seed(seed % 2**32)
    except ImportError:
        pass


def check_verifier_alive(row: dict[str, Any], state: TrainerState) -> None:
    """Counts steps where every sample was dropped; raises after MAX_ALL_DROPPED_STEPS in a row."""
    if row["samples"] and row["dropped"] == row["samples"]:
        state.counters["all_dropped_run"] = state.counters.get("all_dropped_run", 0) + 1
    else:
        state.counters["all_dropped_run"] = 0
    state.counters["dropped"] = state.counters.get("dropped", 0) + row["dropped"]
    state.counters["discarded"] = state.counters.get("discarded", 0) + row["discarded"]
    if state.counters["all_dropped_run"] >= MAX_ALL_DROPPED_STEPS:
        raise VerifierDownError(
            f"every sample of {MAX_ALL_DROPPED_STEPS} steps in a row was dropped: the verifier cannot judge "
            "(is it running, is the sandbox available?)"
        )


StopCheck = Callable[[], bool]
StepCallback = Callable[[dict[str, Any]], None]
