"""Seconds per GSPO step: cppforge's trainer vs TRL's GRPOTrainer, side by side in one process.

Both train the bootstrap model with LoRA r8 on the MLP projections, 2 prompts x 8 completions of at
most 128 tokens at temperature 1.0, reward `compute_reward` from the in-process verifier, beta 0.1,
sequence-level ratios with the LUSPO loss (TRL: importance_sampling_level="sequence",
loss_type="luspo"), AdamW 1e-4, one torch thread. cppforge runs the production recipe with CCCS,
FGO and DAPO discard off (same plain prompts, no refills: TRL has none), twice: verification of one
group overlapping the generation of the next (as shipped), and with `overlap=False`.
Both stop a completion at "\\n}" (FUNCTION_STOP); TRL gets it as `stop_strings` (transformers'
generate needs the tokenizer for that, which TRL does not pass: the bench passes it).
Steps interleave (TRL, cppforge, cppforge without overlap, then again) on the same prompts in the
same order, so a busy neighbour slows all sides alike; the first --warmup steps of each are not timed.
Prints median/mean step seconds, ours/TRL (target <= 1.0), the overlap gain (off / on), both also as
the median of per-round ratios, and the per-phase split.
Usage: python bench/train_step.py [--steps 16] [--warmup 2] [--trl-no-stop] [--json]
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import os
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from services.lm.bootstrap import ensure_bootstrap_model  # noqa: E402
from services.lm.prompts import FUNCTION_STOP  # noqa: E402
from services.tasks import Task  # noqa: E402
from services.trainer.config import TrainConfig, recipe_config  # noqa: E402
from services.trainer.loop import RLStep, seed_everything  # noqa: E402
from services.trainer.lora import load_policy, lora_target_modules  # noqa: E402
from services.trainer.rewards import LocalRewards, VerifyOptions  # noqa: E402
from services.trainer.rollout import LocalRollouts  # noqa: E402
from services.trainer.stepcoder import CCCSCurriculum  # noqa: E402
from services.trainer.tasksource import TaskCursor, load_split  # noqa: E402
from services.verifier.adapters import make_trl_reward_func  # noqa: E402

SEED = 0
GROUP = 8
PROMPTS = 2
MAX_LEN = 128
VERIFY_TIMEOUT_S = 10.0


def ours_config(overlap: bool) -> TrainConfig:
    """The production recipe with the fair-comparison switches (plain prompts, no refills, no masks)."""
    return recipe_config("production", cccs=False, fgo=False, dapo_discard=False, max_gen_len=MAX_LEN,
                         group_size=GROUP, prompts_per_step=PROMPTS, temperature=1.0, kl_coeff=0.1, lr=1e-4,
                         device="cpu", threads=1, overlap=overlap, seed=SEED,
                         verify_timeout_s=VERIFY_TIMEOUT_S)  # fmt: skip


@dataclass
class Side:
    """One trainer's timed steps: step seconds, and per-phase seconds where the side reports them."""

    name: str
    step_s: list[float] = field(default_factory=list)
    phases: dict[str, list[float]] = field(default_factory=dict)
    completion_len: list[float] = field(default_factory=list)
    reward: list[float] = field(default_factory=list)

    def add_phases(self, **values: float) -> None:
        for key, value in values.items():
            self.phases.setdefault(key, []).append(value)

    def summary(self) -> dict[str, Any]:
        return {
            "median_s": statistics.median(self.step_s),
            "mean_s": statistics.fmean(self.step_s),
            "min_s": min(self.step_s),
            "max_s": max(self.step_s),
            "steps": len(self.step_s),
            "phases_median_s": {k: statistics.median(v) for k, v in self.phases.items()},
            "completion_len_mean": statistics.fmean(self.completion_len) if self.completion_len else None,
            "reward_mean": statistics.fmean(self.reward) if self.reward else None,
        }


class OursSide:
    """cppforge's RLStep on its own policy, optimizer and task cursor (the set-up of run_training)."""

    def __init__(self, name: str, cfg: TrainConfig, model_path: str, tasks: list[Task]) -> None:
        seed_everything(cfg.seed)
        self.policy = load_policy(model_path, cfg)
        optimizer = torch.optim.AdamW(self.policy.trainable_parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        self.rewards = LocalRewards(VerifyOptions(cfg.std, cfg.verify_timeout_s, False), cfg.verify_workers)
        cccs = CCCSCurriculum(cfg.cccs_initial_prefix_frac, cfg.cccs_decay_step, cfg.cccs_decay_threshold,
                              cfg.cccs_min_prefix_frac)  # fmt: skip
        cursor = TaskCursor(tasks, cfg.seed)
        self.stepper = RLStep(cfg, self.policy, optimizer, LocalRollouts(self.policy), self.rewards, cursor, cccs)
        self.side = Side(name)
        self.step = 0

    def run_one(self, timed: bool) -> None:
        row = self.stepper.run(self.step)
        self.step += 1
        if not timed:
            return
        self.side.step_s.append(row["step_s"])
        self.side.add_phases(gen_s=row["gen_s"], verify_wait_s=row["verify_wait_s"], train_s=row["train_s"])
        self.side.add_phases(other_s=row["step_s"] - row["gen_s"] - row["verify_wait_s"] - row["train_s"])
        self.side.completion_len.append(row["completion_len"])
        self.side.reward.append(row["reward_mean"])

    def close(self) -> None:
        self.stepper.close()
        self.rewards.close()


class _Clock:
    """Seconds spent inside wrapped calls since the last `take()`."""

    def __init__(self) -> None:
        self.total = 0.0

    def wrap(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.total += time.perf_counter() - started

        return timed

    def take(self) -> float:
        value, self.total = self.total, 0.0
        return value


def trl_trainer(
    model_path: str, ordered: list[Task], steps: int, out_dir: Path, stop: bool
) -> tuple[Any, Side, tuple[_Clock, _Clock]]:
    """TRL's GRPOTrainer as a user would set it up for the same run; its generate and reward calls timed."""
    from datasets import Dataset
    from peft import LoraConfig
    from trl import GRPOConfig, GRPOTrainer

    from services.lm.model import load_model

    loaded = load_model(model_path, dtype="float32", device="cpu")
    targets = lora_target_modules(loaded.model, "mlp")
    lora = LoraConfig(r=8, lora_alpha=16, lora_dropout=0.0, target_modules=targets, task_type="CAUSAL_LM")
    args = GRPOConfig(
        output_dir=str(out_dir), use_cpu=True, bf16=False, report_to="none", disable_tqdm=True, save_strategy="no",
        logging_steps=1, max_steps=steps, seed=SEED, shuffle_dataset=False, dataloader_num_workers=0,
        per_device_train_batch_size=PROMPTS * GROUP, gradient_accumulation_steps=1, num_generations=GROUP,
        max_completion_length=MAX_LEN, temperature=1.0, top_p=1.0, beta=0.1, learning_rate=1e-4,
        lr_scheduler_type="constant", optim="adamw_torch", weight_decay=0.0, max_grad_norm=1.0,
        importance_sampling_level="sequence", loss_type="luspo", epsilon=3e-4, epsilon_high=4e-4,
        generation_kwargs={"stop_strings": [FUNCTION_STOP]} if stop else None,
    )  # fmt: skip
    side = Side("trl")
    gen_clock, verify_clock = _Clock(), _Clock()
    verify = make_trl_reward_func(url="local", prepend_prompt=True, timeout=VERIFY_TIMEOUT_S, std="c++17",
                                  return_structured=True)  # fmt: skip
    pad = loaded.tokenizer.pad_token_id

    def cppforge_reward(prompts: list[str], completions: list[str], **kwargs: Any) -> list[float | None]:
        # After a stop string, generate pads the row; TRL keeps those pads in completion_ids: count real tokens.
        ids = kwargs["completion_ids"]
        side.completion_len.append(statistics.fmean(sum(t != pad for t in row) for row in ids))
        scores: list[float | None] = verify(prompts, completions, **kwargs)
        side.reward.append(statistics.fmean(s for s in scores if s is not None))
        return scores

    dataset = Dataset.from_list([{"prompt": t.prompt, "test_code": t.test} for t in ordered])
    trainer = GRPOTrainer(model=loaded.model, reward_funcs=verify_clock.wrap(cppforge_reward), args=args,
                          train_dataset=dataset, processing_class=loaded.tokenizer, peft_config=lora)  # fmt: skip
    from transformers import PrinterCallback

    trainer.remove_callback(PrinterCallback)  # its per-step dicts on stdout would break --json
    model: Any = trainer.model
    # transformers' generate needs the tokenizer to honour stop_strings; TRL does not pass it.
    generate = functools.partial(model.generate, tokenizer=loaded.tokenizer) if stop else model.generate
    model.generate = gen_clock.wrap(generate)
    return trainer, side, (gen_clock, verify_clock)


def make_interleaver(side: Side, clocks: tuple[_Clock, _Clock], ours: list[OursSide], warmup: int) -> Any:
    """A TrainerCallback that times TRL's step and, after it, runs one step of each of our sides."""
    from transformers import TrainerCallback

    gen_clock, verify_clock = clocks

    class Interleave(TrainerCallback):
        def __init__(self) -> None:
            self.started = 0.0
            self.done = 0

        def on_step_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            gen_clock.take(), verify_clock.take()
            self.started = time.perf_counter()

        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            seconds = time.perf_counter() - self.started
            gen_s, verify_s = gen_clock.take(), verify_clock.take()
            timed = self.done >= warmup
            if timed:
                side.step_s.append(seconds)
                side.add_phases(gen_s=gen_s, verify_s=verify_s, train_s=seconds - gen_s - verify_s)
            for other in ours:
                other.run_one(timed)
            self.done += 1

    return Interleave()


def run_all(steps: int, warmup: int, trl_stop: bool, out_dir: Path) -> dict[str, Any]:
    torch.set_num_threads(1)  # the trainer's CPU default; TRL gets the same
    model_path = str(ensure_bootstrap_model())
    on_cfg = ours_config(overlap=True)
    tasks = load_split(on_cfg).train
    cursor = TaskCursor(tasks, on_cfg.seed)
    ordered = [cursor.next() for _ in range(PROMPTS * (steps + warmup))]  # the prompts our cursor will draw
    ours = [
        OursSide("ours", on_cfg, model_path, tasks),
        OursSide("ours_no_overlap", ours_config(overlap=False), model_path, tasks),
    ]
    trainer, trl, clocks = trl_trainer(model_path, ordered, steps + warmup, out_dir, trl_stop)
    trainer.add_callback(make_interleaver(trl, clocks, ours, warmup))
    load_before = os.getloadavg()
    started = time.perf_counter()
    try:
        trainer.train()
    finally:
        for side in ours:
            side.close()
    wall_s = time.perf_counter() - started
    del trl.completion_len[:warmup], trl.reward[:warmup]  # recorded by its reward function, warm-up included
    on, off, ref = ours[0].side.summary(), ours[1].side.summary(), trl.summary()
    return {
        "bench": "train_step",
        "ours_median_s": on["median_s"],
        "ours_mean_s": on["mean_s"],
        "trl_median_s": ref["median_s"],
        "trl_mean_s": ref["mean_s"],
        "ratio": on["median_s"] / ref["median_s"],
        "ratio_mean": on["mean_s"] / ref["mean_s"],
        "ours_no_overlap_median_s": off["median_s"],
        "ours_no_overlap_mean_s": off["mean_s"],
        "overlap_gain": off["median_s"] / on["median_s"],
        # Steps of one round ran back to back: per-round ratios cancel most of a neighbour's load drift.
        "ratio_paired_median": _paired(ours[0].side.step_s, trl.step_s),
        "overlap_gain_paired_median": _paired(ours[1].side.step_s, ours[0].side.step_s),
        "sides": {"ours": on, "ours_no_overlap": off, "trl": ref},
        "steps": steps,
        "warmup": warmup,
        "trl_stop_strings": trl_stop,
        "torch_threads": torch.get_num_threads(),
        "loadavg_before": list(load_before),
        "loadavg_after": list(os.getloadavg()),
        "wall_s": wall_s,
        "targets": {"ratio": 1.0},
    }


def _paired(top: list[float], bottom: list[float]) -> float:
    return statistics.median(a / b for a, b in zip(top, bottom, strict=True))


def print_report(r: dict[str, Any]) -> None:
    sides = r["sides"]
    print(
        f"seconds per GSPO step, {PROMPTS} prompts x {GROUP} completions, <= {MAX_LEN} tokens, "
        f"{r['steps']} timed steps each after {r['warmup']} warm-up, {r['torch_threads']} torch thread"
    )
    print(f"  {'side':<16} {'median':>7} {'mean':>7} {'min':>7} {'max':>7} {'len':>6} {'reward':>7}  phases (median s)")
    for name, s in sides.items():
        phases = "  ".join(f"{k} {v:.3f}" for k, v in s["phases_median_s"].items())
        length = f"{s['completion_len_mean']:6.1f}" if s["completion_len_mean"] is not None else "     -"
        reward = f"{s['reward_mean']:7.3f}" if s["reward_mean"] is not None else "      -"
        print(
            f"  {name:<16} {s['median_s']:7.3f} {s['mean_s']:7.3f} {s['min_s']:7.3f} {s['max_s']:7.3f} "
            f"{length} {reward}  {phases}"
        )
    stop = "stop_strings ['\\n}']" if r["trl_stop_strings"] else "no stop string (runs to max length)"
    print(
        f"  ours / TRL = {r['ratio']:.2f}x by median, {r['ratio_mean']:.2f}x by mean, "
        f"{r['ratio_paired_median']:.2f}x median of per-round ratios (target <= 1.0; TRL: {stop})"
    )
    print(
        f"  overlap gain (overlap off / on) = {r['overlap_gain']:.2f}x by median, "
        f"{r['overlap_gain_paired_median']:.2f}x median of per-round ratios"
    )
    before, after = r["loadavg_before"], r["loadavg_after"]
    print(f"  load average {before[0]:.2f} before, {after[0]:.2f} after; wall {r['wall_s']:.0f} s")


def main() -> int:
    parser = argparse.ArgumentParser(description="seconds per GSPO step: cppforge trainer vs TRL GRPOTrainer")
    parser.add_argument("--steps", type=int, default=16, help="timed steps per side")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps per side first")
    parser.add_argument("--trl-no-stop", action="store_true", help="TRL without stop_strings (its default)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.steps < 1 or args.warmup < 0:
        parser.error("--steps must be >= 1 and --warmup >= 0")
    logging.getLogger("transformers").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")
    import tempfile

    with tempfile.TemporaryDirectory(prefix="cppforge-bench-train-") as tmp:
        report = run_all(args.steps, args.warmup, not args.trl_no_stop, Path(tmp))
    if args.json:
        print(json.dumps(report))
    else:
        print_report(report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
