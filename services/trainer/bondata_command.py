"""`cppforge bon-data`: offline best-of-N data for SFT (see services/trainer/bondata.py).

Exit codes as the rest of the CLI: 0 done, 2 bad input (one line on stderr), 1 the infrastructure
failed (verifier or inference service down, no sandbox), 130 on Ctrl-C (the rows so far are kept).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

from ..common.cli_errors import EXIT_BAD_INPUT, EXIT_INFRA, CliError

EXIT_INTERRUPTED = 130
DEFAULT_NUM_TASKS = 100


def add_bon_data_parser(sub: Any) -> None:
    b = sub.add_parser("bon-data", help="write the best of n verified completions per prompt as SFT JSONL")
    b.add_argument("--n", type=int, default=8, help="candidates per prompt (default 8)")
    b.add_argument("--out", required=True, help="output JSONL (rows: task_id, prompt, completion, reward, n, "
                   "compiled, passed, judged)")  # fmt: skip
    b.add_argument("--force", action="store_true", help="overwrite a non-empty --out")
    b.add_argument("--tasks", help="problem set JSONL(.gz) with HumanEval-X fields (default: generated tasks)")
    b.add_argument("--num-tasks", type=int, help=f"generated tasks (default {DEFAULT_NUM_TASKS}; not with --tasks)")
    b.add_argument(
        "--task-seed", type=int, help="seed of the generated tasks (default 1, as train's; not with --tasks)"
    )
    b.add_argument("--model", help="local HF model dir (default: the bootstrap model)")
    b.add_argument("--adapter", help="a LoRA adapter dir applied to --model (e.g. a train run's adapter/)")
    b.add_argument("--inference-url", help="sample through the inference service (default: in-process)")
    b.add_argument("--model-name", help="with --inference-url: the model or adapter name to sample from")
    b.add_argument("--api-key", help="with --inference-url: a key whose tier allows n candidates (tier train)")
    b.add_argument("--verifier-url", help="verifier service for rewards (default: verify in-process)")
    b.add_argument("--reward", choices=["plain", "shaped"], default="plain", help="compute_reward or the shaper")
    b.add_argument("--temperature", type=float, default=1.0)
    b.add_argument("--top-p", type=float, default=1.0)
    b.add_argument("--max-tokens", type=int, default=256, help="most tokens per completion (default 256)")
    b.add_argument("--seed", type=int, default=0, help="candidate i of the j-th prompt draws with seed + j*n + i")
    b.add_argument("--min-reward", type=float, help="keep a prompt when its best reward is >= R (default: keep "
                   "only prompts whose best candidate passed every test; 0 keeps every judged prompt)")  # fmt: skip
    b.add_argument("--batch-prompts", type=int, default=4, help="prompts sampled in one batched decode (default 4)")
    b.add_argument("--verify-workers", type=int, default=2, help="in-process verification threads (default 2)")
    b.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N (in-process sampling)")
    b.add_argument("--json", action="store_true", help="print the summary as one JSON object on stdout")
    b.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    b.set_defaults(func=cmd_bon_data)


def _check_args(args: argparse.Namespace) -> None:
    if args.tasks and (args.num_tasks is not None or args.task_seed is not None):
        raise CliError("--num-tasks and --task-seed draw generated tasks; --tasks reads them from a file")
    positive = {"--n": args.n, "--max-tokens": args.max_tokens, "--num-tasks": _num_tasks(args),
                "--batch-prompts": args.batch_prompts, "--verify-workers": args.verify_workers}  # fmt: skip
    for flag, value in positive.items():
        if value < 1:
            raise CliError(f"{flag} must be at least 1")
    if not args.temperature >= 0 or math.isinf(args.temperature):  # `not >=`: nan too
        raise CliError("--temperature must be a finite number >= 0")
    if args.min_reward is not None and not math.isfinite(args.min_reward):
        raise CliError(f"--min-reward must be a finite number, not {args.min_reward}")
    if not 0 < args.top_p <= 1:
        raise CliError("--top-p must be in (0, 1]")
    if args.inference_url and (args.model or args.adapter):
        raise CliError("--model/--adapter load a model in-process; with --inference-url name it with --model-name")
    if not args.inference_url and (args.model_name or args.api_key):
        raise CliError("--model-name and --api-key go with --inference-url")
    out = Path(args.out)
    if out.is_dir():
        raise CliError(f"--out is a directory: {out}")
    if not out.parent.is_dir():
        raise CliError(f"--out: no such directory: {out.parent}")
    if out.is_file() and out.stat().st_size and not args.force:
        raise CliError(f"{out} already holds rows; pick another --out or pass --force to overwrite it")


def generated_tasks(num_tasks: int, task_seed: int) -> list[Any]:
    """`num_tasks` generated tasks without the prompts of `cppforge train`'s default held-out set, so
    that SFT on this data never trains on what the trainer scores before and after."""
    from ..tasks import generate_tasks, held_out_tasks
    from .config import TrainConfig

    # The class attributes are the fields' defaults (what `cppforge train` holds out unless told otherwise).
    held = {t.prompt for t in held_out_tasks(TrainConfig.heldout_tasks, TrainConfig.heldout_seed)}
    drawn = num_tasks
    while True:
        tasks = [t for t in generate_tasks(drawn, task_seed) if t.prompt not in held][:num_tasks]
        if len(tasks) == num_tasks:
            return tasks
        drawn *= 2


def _num_tasks(args: argparse.Namespace) -> int:
    return DEFAULT_NUM_TASKS if args.num_tasks is None else int(args.num_tasks)


def _load_tasks(args: argparse.Namespace) -> list[Any]:
    if not args.tasks:
        from .config import TrainConfig

        # By default the tasks `cppforge train` draws (its task_seed), minus its held-out prompts.
        seed = TrainConfig.task_seed if args.task_seed is None else int(args.task_seed)
        return generated_tasks(_num_tasks(args), seed)
    from ..tasks import TaskFileError, load_humaneval_x

    path = Path(args.tasks)
    if not path.is_file():
        raise CliError(f"--tasks file not found: {path}")
    try:
        tasks = load_humaneval_x(path)
    except (TaskFileError, UnicodeDecodeError, OSError) as exc:
        raise CliError(f"--tasks: {exc}") from None
    if not tasks:
        raise CliError(f"--tasks: no tasks in {path}")
    return [with_harness_headers(t) for t in tasks]


def with_harness_headers(task: Any) -> Any:
    """A HumanEval-X task whose prompt carries the helper `#include` lines its harness puts in front
    (as `cppforge eval` does): its prompts rely on them, and the row's prompt + completion must be the
    program that was verified."""
    import dataclasses

    from ..tasks.problems import humaneval_x_helper

    helper = humaneval_x_helper(task.prompt)
    return dataclasses.replace(task, prompt=helper + "\n" + task.prompt) if helper else task


def _source(args: argparse.Namespace) -> Any:
    from .bondata_sources import DrawOptions, HttpSource, LocalSource

    options = DrawOptions(n=args.n, temperature=args.temperature, top_p=args.top_p, max_tokens=args.max_tokens,
                          seed=args.seed)  # fmt: skip
    if args.inference_url:
        return HttpSource(args.inference_url, options, model_name=args.model_name or "", api_key=args.api_key or "",
                          workers=args.batch_prompts)  # fmt: skip
    import torch

    from ..lm.model import load_model, resolve_device

    try:
        device = resolve_device(args.device)
    except ValueError as exc:
        raise CliError(f"--device: {exc}") from None
    if device.type == "cpu":
        torch.set_num_threads(1)  # as the trainer: one thread decodes faster here, the other core verifies
    if args.model:
        model_path = Path(args.model)
    else:
        from ..lm.bootstrap import ensure_bootstrap_model

        model_path = ensure_bootstrap_model()
    try:
        loaded = load_model(model_path, device=args.device, adapter=args.adapter)
    except (FileNotFoundError, ValueError) as exc:
        raise CliError(str(exc)) from None
    return LocalSource(loaded.model, loaded.tokenizer, options)


def cmd_bon_data(args: argparse.Namespace) -> int:
    from ..common.errors import ServiceError
    from .bondata import BonStats, VerifierDownError, run_bon
    from .rewards import VerifyOptions, make_rewards

    _check_args(args)
    tasks = _load_tasks(args)
    _quiet_libraries()
    source = _source(args)
    rewards = make_rewards(args.verifier_url or "", VerifyOptions(shaped=args.reward == "shaped"),
                           args.verify_workers)  # fmt: skip
    stats = BonStats(extra={"n": args.n, "out": str(args.out), "filter": _filter_text(args.min_reward),
                            "source": source.name, "rewards": "http" if args.verifier_url else "local"})  # fmt: skip
    bar = _Bar(len(tasks), None if args.no_progress else sys.stderr)
    code = 0
    try:
        with open(args.out, "w", encoding="utf-8") as out:
            run_bon(tasks, source, rewards, out, chunk=args.batch_prompts, min_reward=args.min_reward,
                    on_prompt=bar.update, stats=stats)  # fmt: skip
    except KeyboardInterrupt:
        code = EXIT_INTERRUPTED
        stats.extra["interrupted"] = True
    except (VerifierDownError, ServiceError) as exc:
        raise CliError(str(exc), EXIT_INFRA) from None
    except ValueError as exc:
        raise CliError(str(exc), EXIT_BAD_INPUT) from None
    finally:
        bar.close()
        source.close()
        rewards.close()
    summary = stats.summary()
    if args.json:
        print(json.dumps(summary))
    else:
        print(render_summary(summary))
    return code


def _filter_text(min_reward: float | None) -> str:
    return "best candidate passed every test" if min_reward is None else f"best reward >= {min_reward:g}"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def render_summary(s: dict[str, Any]) -> str:
    head = "interrupted: " if s.get("interrupted") else ""
    return "\n".join([
        f"{head}{s['prompts']} prompts x {s['n']} candidates in {s['wall_s']:.1f}s",
        f"rows written: {s['rows']} ({s['filter']}) -> {s['out']}; not kept: {s['below_filter']}, "
        f"no candidate judged: {s['unjudged_prompts']}",
        f"mean best reward {_num(s['mean_best_reward'])} (kept rows {_num(s['mean_kept_reward'])}) vs mean reward "
        f"of all candidates {_num(s['mean_reward'])}",
        f"candidates: compile {_pct(s['compile_rate'])}, pass {_pct(s['pass_rate'])} of {s['judged']} judged; "
        f"dropped (verifier could not judge): {s['dropped']}",
    ])  # fmt: skip


class _Bar:
    """tqdm over prompts on stderr, with rows kept and the running rates."""

    def __init__(self, total: int, stream: Any) -> None:
        self._bar: Any = None
        if stream is None:
            return
        from tqdm import tqdm

        self._bar = tqdm(total=total, unit="prompt", file=stream, desc="bon-data", dynamic_ncols=True,
                         mininterval=0.5 if stream.isatty() else 30.0)  # fmt: skip

    def update(self, stats: Any) -> None:
        if self._bar is None:
            return
        s = stats.summary()
        self._bar.set_postfix(rows=s["rows"], best=_num(s["mean_best_reward"]), compile=_pct(s["compile_rate"]),
                              passed=_pct(s["pass_rate"]), dropped=s["dropped"], refresh=False)  # fmt: skip
        self._bar.update(1)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def _quiet_libraries() -> None:
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
