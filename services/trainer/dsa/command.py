"""`cppforge dsa`: DSA's two stages on a local Llama-style model (default: the bootstrap model).

Writes `OUT/metrics.jsonl` (one object per step: stage, step, kl, lm_loss, recall, step_s),
`OUT/summary.json` (the step counts, first/last losses and the held-out scores before, between and
after the stages) and `OUT/model/` (the DSA model: `save_pretrained` files plus dsa.json). Bad input is
one line on stderr and exit 2, like the rest of the CLI.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ...common.cli_errors import EXIT_OK, CliError


def add_dsa_parser(sub: Any) -> None:
    d = sub.add_parser(
        "dsa", help="DeepSeek sparse attention: train lightning indexers (stage 1), then sparse (stage 2)"
    )
    d.add_argument("--stage1-steps", type=int, required=True, help="dense warm-up steps (indexers only, LR 1e-3)")
    d.add_argument("--stage2-steps", type=int, required=True, help="sparse training steps (everything)")
    d.add_argument("--topk", type=int, required=True, help="keys each query attends to in the sparse stage")
    d.add_argument("--out", required=True, help="output dir (metrics.jsonl, summary.json, model/)")
    d.add_argument("--model", help="local HF Llama-style model dir (default: the bootstrap model)")
    d.add_argument("--index-heads", type=int, default=4, help="indexer heads H_I (default 4)")
    d.add_argument("--index-dim", type=int, default=32, help="indexer head dim d_I (default 32)")
    d.add_argument("--batch-size", type=int, default=4, help="sequences per step (default 4)")
    d.add_argument("--seq-len", type=int, default=128, help="tokens per sequence (default 128)")
    d.add_argument("--main-lr", type=float, default=1e-4, help="stage-2 LR of the base model (default 1e-4)")
    d.add_argument("--tasks", type=int, default=2000, help="generated tasks to train on (default 2000)")
    d.add_argument("--eval-batches", type=int, default=2, help="held-out batches scored between stages (default 2)")
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--force-stage2", action="store_true", help="allow stage 2 without a warm-up (not recommended)")
    d.add_argument("--no-progress", action="store_true", help="no progress lines on stderr")
    d.set_defaults(func=cmd_dsa)


def _check(args: argparse.Namespace) -> None:
    positive = ("topk", "index_heads", "index_dim", "batch_size", "seq_len", "tasks")
    for name in positive:
        if getattr(args, name) < 1:
            raise CliError(f"--{name.replace('_', '-')} must be >= 1")
    for name in ("stage1_steps", "stage2_steps", "eval_batches"):
        if getattr(args, name) < 0:
            raise CliError(f"--{name.replace('_', '-')} must be >= 0")
    if args.stage1_steps + args.stage2_steps == 0:
        raise CliError("nothing to do: give --stage1-steps and/or --stage2-steps above 0")
    if args.stage2_steps and not args.stage1_steps and not args.force_stage2:
        raise CliError("stage 2 needs the dense warm-up: give --stage1-steps > 0 (or --force-stage2)")
    if not args.main_lr > 0:
        raise CliError("--main-lr must be positive")
    out = Path(args.out)
    if out.exists() and any(out.iterdir()):
        raise CliError(f"--out {out} is not empty; pick a new directory")


def cmd_dsa(args: argparse.Namespace) -> int:
    _check(args)
    import torch
    from transformers.utils import logging as hf_logging

    from ...lm.bootstrap import ensure_bootstrap_model
    from ...lm.model import load_model
    from .attention import enable_dsa
    from .persist import save_dsa_model
    from .stages import DSAStageConfig
    from .train import StepRecord, take, task_batches, train_dsa

    hf_logging.disable_progress_bar()  # our own progress lines only
    model_path = Path(args.model) if args.model else ensure_bootstrap_model()
    try:
        loaded = load_model(model_path, dtype="float32")
    except (FileNotFoundError, ValueError, OSError) as exc:
        raise CliError(f"cannot load the model: {exc}") from None
    if loaded.device.type == "cpu":
        torch.set_num_threads(1)  # as `cppforge train`: two threads on two busy cores are several times slower
    positions = loaded.model.config.max_position_embeddings
    if args.seq_len > positions:
        raise CliError(f"--seq-len {args.seq_len} exceeds the model's {positions} positions")
    torch.manual_seed(args.seed)
    try:
        model = enable_dsa(loaded.model, topk=args.topk, index_heads=args.index_heads, index_dim=args.index_dim)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    try:
        train = task_batches(
            loaded.tokenizer, n_tasks=args.tasks, seed=args.seed, batch_size=args.batch_size, seq_len=args.seq_len
        )
        held_out = task_batches(
            loaded.tokenizer, n_tasks=200, seed=args.seed + 1, batch_size=args.batch_size, seq_len=args.seq_len
        )
        eval_batches = take(held_out, args.eval_batches)
    except ValueError as exc:  # a corpus too small for one batch
        raise CliError(str(exc)) from None
    device = loaded.device
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with (out / "metrics.jsonl").open("w") as metrics:

        def on_step(record: StepRecord) -> None:
            metrics.write(json.dumps(asdict(record)) + "\n")
            metrics.flush()

        report = train_dsa(
            model,
            (ids.to(device) for ids in train),
            stage1_steps=args.stage1_steps,
            stage2_steps=args.stage2_steps,
            config=DSAStageConfig(main_lr=args.main_lr),
            eval_batches=[ids.to(device) for ids in eval_batches],
            force_stage2=args.force_stage2,
            on_step=on_step,
            progress=None if args.no_progress else sys.stderr,
        )
    model_dir = save_dsa_model(model, out / "model", tokenizer=loaded.tokenizer)
    summary = {**report.summary(), "model": str(model_path), "model_dir": str(model_dir)}
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary, indent=2))
    return EXIT_OK
