"""`cppforge train`: a recipe, overrides, a time or step budget, an output dir; resumable.

Exit codes as the rest of the CLI: 0 done, 2 bad config or input (one line on stderr), 1 the
infrastructure failed (verifier down, sandbox missing). SIGTERM (a cancelled job) stops after the
current step with a checkpoint saved, exit 143; Ctrl-C likewise, exit 130.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from .config import RECIPES, field_help
from .progressbar import fmt

EXIT_STOPPED_TERM = 143
EXIT_STOPPED_INT = 130


def add_train_parser(sub: Any) -> None:
    t = sub.add_parser("train", help="verifier-grounded RL (GSPO/GRPO), SFT or distillation on a local model")
    t.add_argument("--recipe", default="production", choices=sorted(RECIPES), help="preset (default production)")
    t.add_argument("--model", help="local HF model dir (default: the bootstrap model, built on first use)")
    t.add_argument("--dataset", help="JSONL problem set (HumanEval-X fields); default: generated tasks")
    t.add_argument("--teacher", metavar="PATH", help="distill: the teacher's HF model dir (same tokenizer)")
    t.add_argument("--minutes", type=float, help="training time budget (held-out scoring not counted)")
    t.add_argument("--steps", type=int, help="optimizer steps")
    t.add_argument("--out", help="output dir (metrics.jsonl, summary.json, adapter/, checkpoints/, PNG)")
    t.add_argument("--verifier-url", help="verifier service for rewards (default: verify in-process)")
    t.add_argument("--inference-url", help="inference service for rollouts (default: sample in-process)")
    t.add_argument("--resume", nargs="?", const="", metavar="DIR",
                   help="resume the run in DIR (or in --out) from its latest checkpoint")  # fmt: skip
    t.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                   help="override any TrainConfig field (repeatable); see --list-fields")  # fmt: skip
    t.add_argument("--overrides-json", help="a JSON object of TrainConfig overrides (what the jobs service passes)")
    t.add_argument("--list-fields", action="store_true", help="print every TrainConfig field with its help and exit")
    t.add_argument("--no-progress", action="store_true", help="no progress bar (log lines only)")
    t.set_defaults(func=cmd_train)


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    from ..common.cli_errors import CliError

    out: dict[str, Any] = {}
    if args.overrides_json:
        try:
            loaded = json.loads(args.overrides_json)
        except json.JSONDecodeError as exc:
            raise CliError(f"--overrides-json is not JSON: {exc.msg}") from None
        if not isinstance(loaded, dict):
            raise CliError("--overrides-json must be a JSON object")
        out.update(loaded)
    for item in args.set:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise CliError(f"--set takes FIELD=VALUE, not {item!r}")
        out[name.strip().replace("-", "_")] = value
    for flag, name in (("model", "model"), ("dataset", "dataset"), ("minutes", "minutes"), ("steps", "steps"),
                       ("verifier_url", "verifier_url"), ("inference_url", "inference_url"),
                       ("teacher", "teacher")):  # fmt: skip
        value = getattr(args, flag)
        if value is not None:
            out[name] = value
    return out


def _install_stop_handlers(stop: threading.Event) -> dict[int, int]:
    received: dict[int, int] = {}

    def handler(signum: int, frame: Any) -> None:
        received[signum] = received.get(signum, 0) + 1
        if received[signum] > 1:
            raise KeyboardInterrupt  # a second signal: stop now, no checkpoint
        print("cppforge train: stopping after this step (checkpoint saved); signal again to abort",
              file=sys.stderr, flush=True)  # fmt: skip
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    return received


def cmd_train(args: argparse.Namespace) -> int:
    from ..common.cli_errors import EXIT_BAD_INPUT, EXIT_INFRA, CliError

    if args.list_fields:
        for name, text in field_help().items():
            print(f"{name:26} {text}")
        return 0
    overrides = _overrides(args)
    resume = args.resume is not None
    out_arg = args.resume or args.out
    if not out_arg:
        raise CliError("--out DIR is required (or --resume DIR)")
    out_dir = Path(out_arg)
    from ..common.errors import ServiceError
    from .checkpoint import latest_checkpoint
    from .config import recipe_config
    from .loop import VerifierDownError
    from .run import RunHooks, StopRequested, resume_config

    try:
        if resume:
            cfg = resume_config(out_dir, overrides)
            recipe = json.loads((out_dir / "config.json").read_text()).get("recipe", args.recipe)
        else:
            cfg = recipe_config(args.recipe, **overrides)
            recipe = args.recipe
            if not cfg.steps and not cfg.minutes:
                raise ValueError("give a budget: --minutes M or --steps N")
            # Only a complete checkpoint is a run to resume; a half-written first one (killed while saving) is not.
            if latest_checkpoint(out_dir) is not None:
                raise ValueError(
                    f"{out_dir} already holds a run: resume it with --resume {out_dir}, or pick a new --out"
                )
    except (ValueError, FileNotFoundError) as exc:
        raise CliError(str(exc), EXIT_BAD_INPUT) from None
    _quiet_libraries()
    stop = threading.Event()
    received = _install_stop_handlers(stop)
    # --no-progress drops the bar only: the held-out lines (and with them a job's log) keep the scores.
    hooks = RunHooks(should_stop=stop.is_set, progress=sys.stderr, bar=not args.no_progress)
    if args.no_progress:
        hooks.on_step = _log_line
    try:
        summary = _run_once(cfg, out_dir, recipe, resume, hooks)
    except StopRequested as exc:
        print(f"cppforge train: {exc}", file=sys.stderr)
        return EXIT_STOPPED_TERM if signal.SIGTERM in received else EXIT_STOPPED_INT
    except (ValueError, FileNotFoundError) as exc:
        raise CliError(str(exc), EXIT_BAD_INPUT) from None
    except (VerifierDownError, ServiceError) as exc:  # verifier down, sandbox missing, inference unreachable
        raise CliError(str(exc), EXIT_INFRA) from None
    if summary:
        _print_summary(summary)
    return 0


def _run_once(cfg: Any, out_dir: Path, recipe: str, resume: bool, hooks: Any) -> dict[str, Any]:
    """One run in this process; a torchrun process group is torn down afterwards (whatever happened)."""
    from . import distributed
    from .run import run_training

    try:
        return run_training(cfg, out_dir, recipe=recipe, resume=resume, hooks=hooks)
    finally:
        distributed.shutdown()


def _quiet_libraries() -> None:
    """No per-load progress bars or deprecation chatter from HF libraries between our own lines."""
    import warnings

    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)


def _log_line(row: dict[str, Any]) -> None:
    if "reward_mean" in row:
        text = (f"step {row['step']}: reward {fmt(row['reward_mean'], '.3f')} "
                f"compile {fmt(row['compile_rate'], '.0%')} pass {fmt(row['pass_rate'], '.0%')} "
                f"kl {row['kl']:.4f} {row['step_s']:.2f}s dropped {row['dropped']}")  # fmt: skip
    else:
        terms = "".join(f" {key} {row[key]:.4f}" for key in ("kl", "ce", "feature") if key in row)  # distill
        text = f"step {row['step']}: loss {row['loss']:.4f}{terms} {row['step_s']:.2f}s"
    print(text, file=sys.stderr, flush=True)


def _pct(value: Any) -> str:
    return "-" if value is None else f"{value:.1%}"


def _print_summary(s: dict[str, Any]) -> None:
    print(f"trained {s['steps']} steps ({s['method']}, recipe {s['recipe']}) in {s['train_s'] / 60:.1f} min")
    print(f"held-out compile rate: {_pct(s['compile_rate_before'])} -> {_pct(s['compile_rate_after'])} (sampled), "
          f"{_pct(s['greedy_compile_rate_before'])} -> {_pct(s['greedy_compile_rate_after'])} (greedy)")  # fmt: skip
    print(f"held-out pass rate:    {_pct(s['pass_rate_before'])} -> {_pct(s['pass_rate_after'])} (sampled), "
          f"{_pct(s['greedy_pass_rate_before'])} -> {_pct(s['greedy_pass_rate_after'])} (greedy)")  # fmt: skip
    print(f"dropped samples (verifier could not judge): {s['dropped']}; discarded zero-variance groups: "
          f"{s['discarded']}")  # fmt: skip
    print(f"adapter: {s['adapter_dir']}\ncurve:   {s['reward_curve_png']}")
