"""`cppforge eval`: pass@k of a model on a HumanEval-X / MultiPL-E C++ file, or `--check-canonical`.

Exit codes: 0 done (whatever the pass rates); 2 bad input (one line on stderr); 1 the infrastructure
failed (no sandbox, a service down, nothing judged) or, with --check-canonical, a canonical solution
did not pass (each failure is printed with its error); 130 Ctrl-C (results.jsonl keeps every task
finished, summary.json says `"interrupted": true`).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

DEFAULT_OUT = "out/eval"


def add_eval_parser(sub: Any) -> None:
    e = sub.add_parser("eval", help="pass@k of a model on a HumanEval-X or MultiPL-E C++ problem file")
    e.add_argument("--tasks", help="problem file, .jsonl or .jsonl.gz, HumanEval-X or MultiPL-E "
                   "(default: the project's data/humaneval_cpp.jsonl)")  # fmt: skip
    e.add_argument("--n", type=int, default=10, help="samples per task (default 10)")
    e.add_argument("--k", default="1,5", help="comma-separated k values, each <= n (default 1,5)")
    e.add_argument("--model", help="local HF model dir, sampled in-process (default: the bootstrap model)")
    e.add_argument("--adapter", help="a PEFT (LoRA) adapter dir on top of --model")
    e.add_argument("--inference-url", help="sample through this inference service's /v1/completions instead")
    e.add_argument("--model-name", help="the served model or adapter to ask for (with --inference-url)")
    e.add_argument("--api-key", default="", help="API key of the inference service (tier must allow the n asked)")
    e.add_argument("--verifier-url", help="judge through this verifier service (default: verify in-process)")
    e.add_argument("--temperature", type=float, default=0.8, help="sampling temperature (default 0.8)")
    e.add_argument("--top-p", type=float, default=0.95, help="nucleus sampling (default 0.95)")
    e.add_argument("--max-tokens", type=int, default=512, help="completion budget in tokens (default 512)")
    e.add_argument("--seed", type=int, default=0, help="sample j of task i gets seed + i*n + j (default 0)")
    e.add_argument("--limit", type=int, help="only the first N tasks of the file")
    e.add_argument("--out", default=DEFAULT_OUT, help=f"output dir (default {DEFAULT_OUT})")
    e.add_argument("--std", default="c++17", help="language standard the programs are built with (default c++17)")
    e.add_argument("--timeout", type=float, default=10.0, help="run deadline of one program, seconds (default 10)")
    e.add_argument("--workers", type=int, default=2, help="in-process verifications at once (default 2)")
    e.add_argument("--threads", type=int, default=1, help="torch CPU threads for in-process sampling (default 1)")
    e.add_argument(
        "--raw-prompt",
        action="store_true",
        help="sample the prompt exactly as published (default: a trailing newline is left to the model)",
    )
    e.add_argument(
        "--check-canonical",
        action="store_true",
        help="verify the file's own canonical solutions instead; print each that fails (exit 1 if any)",
    )
    e.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    e.add_argument("--no-progress", action="store_true", help="no progress line on stderr")
    e.set_defaults(func=cmd_eval)


def _progress(args: argparse.Namespace) -> Any:
    return None if args.no_progress else sys.stderr


def cmd_eval(args: argparse.Namespace) -> int:
    from ...common.cli_errors import EXIT_BAD_INPUT, EXIT_INFRA, CliError
    from .runner import EvalInfraError

    try:
        if args.check_canonical:
            return _check_canonical(args)
        return _evaluate(args)
    except (ValueError, FileNotFoundError) as exc:
        raise CliError(str(exc), EXIT_BAD_INPUT) from None
    except EvalInfraError as exc:
        raise CliError(str(exc), EXIT_INFRA) from None


def _evaluate(args: argparse.Namespace) -> int:
    from .config import DEFAULT_TASKS
    from .passk import parse_ks
    from .runner import evaluate

    if args.n < 1:
        raise ValueError(f"--n must be at least 1, got {args.n}")
    ks = parse_ks(args.k, args.n)
    out = Path(args.out)
    try:
        report = evaluate(
            tasks_path=args.tasks or DEFAULT_TASKS, model_path=args.model, adapter_dir=args.adapter, n=args.n, ks=ks,
            out_dir=out, inference_url=args.inference_url or "", model_name=args.model_name, api_key=args.api_key,
            verifier_url=args.verifier_url or "", temperature=args.temperature, top_p=args.top_p,
            max_tokens=args.max_tokens, seed=args.seed, limit=args.limit, progress=_progress(args), std=args.std,
            timeout_s=args.timeout, workers=args.workers, threads=args.threads, trim_prompt_newline=not args.raw_prompt,
        )  # fmt: skip
    except KeyboardInterrupt:
        print(f"cppforge eval: interrupted; finished tasks are in {out}/results.jsonl and summary.json",
              file=sys.stderr)  # fmt: skip
        raise
    summary = report.to_dict()
    if args.json:
        print(json.dumps(summary))
        return 0
    for k in report.ks:
        print(pass_line(report, k))
    rate = "-" if report.compile_rate is None else f"{report.compile_rate:.1%}"
    print(f"{report.tasks} tasks x n={report.n} ({report.judged} samples judged, {report.infra_failures} not "
          f"judged), compile rate {rate}, {report.wall_s:.1f}s; wrote {out}/")  # fmt: skip
    return 0


def pass_line(report: Any, k: int) -> str:
    """`pass@5: 0.4120`, and over how many tasks when some had fewer than k judged samples (infra)."""
    value = report.pass_at_k[f"pass@{k}"]
    line = f"pass@{k}: {'-' if value is None else f'{value:.4f}'}"
    short = report.tasks_short.get(f"pass@{k}", 0)
    if short:
        line += f" (over {report.tasks - short} of {report.tasks} tasks: {short} had fewer than {k} judged samples)"
    return line


def _check_canonical(args: argparse.Namespace) -> int:
    from .canonical import check_canonical, require_canonical
    from .config import DEFAULT_TASKS, EvalConfig
    from .judges import VerifyOptions, make_judge
    from .runner import check_verifier, load_eval_problems

    cfg = EvalConfig(
        tasks_path=Path(args.tasks or DEFAULT_TASKS),
        limit=args.limit,
        verifier_url=args.verifier_url or "",
        std=args.std,
        timeout_s=args.timeout,
        workers=args.workers,
    )
    problems = load_eval_problems(cfg)
    require_canonical(problems)
    check_verifier(cfg.verifier_url)
    judge = make_judge(cfg.verifier_url, VerifyOptions(std=cfg.std, timeout_s=cfg.timeout_s), cfg.workers)
    try:
        report = check_canonical(problems, judge, progress=_progress(args))
    finally:
        judge.close()
    if args.json:
        print(json.dumps({"tasks": str(cfg.tasks_path), **report.to_dict()}))
    else:
        for failure in report.failures:
            print(f"FAIL {failure.task_id} [{failure.error_class}]: {failure.detail}")
        print(f"{report.passed}/{report.checked} canonical solutions pass ({cfg.tasks_path}, {report.wall_s:.1f}s)")
    return 0 if report.ok else 1
