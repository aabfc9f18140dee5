"""The `cppforge` command.

Exit codes: 0 the command ran (for `verify`: the verification ran, whatever the code did);
2 bad input (missing file, refused flag, empty source, bad arguments); 1 infrastructure failure
(no sandbox, no compiler). Errors are one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from .common.cli_errors import EXIT_BAD_INPUT, EXIT_INFRA, EXIT_OK, CliError
from .version import package_version

__all__ = ["EXIT_BAD_INPUT", "EXIT_INFRA", "EXIT_OK", "CliError", "main"]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise CliError(f"{message} (see `{self.prog} --help`)")


STDIN = "-"


def _read_stdin(what: str) -> str:
    try:
        text = sys.stdin.buffer.read().decode("utf-8")
    except UnicodeDecodeError:
        raise CliError(f"{what} read from stdin is not UTF-8 text") from None
    if not text.strip():
        raise CliError(f"{what} read from stdin is empty")
    return text


def _read_source(path: str, what: str) -> str:
    if path == STDIN:
        return _read_stdin(what)
    p = Path(path)
    if not p.exists():
        raise CliError(f"{what} file not found: {path}")
    if not p.is_file():
        raise CliError(f"{what} path is not a file: {path}")
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise CliError(f"{what} file is not UTF-8 text: {path}") from None
    except OSError as exc:
        raise CliError(f"cannot read {what} file {path}: {exc.strerror}") from None
    if not text.strip():
        raise CliError(f"{what} file is empty: {path}")
    return text


def _cmd_verify(args: argparse.Namespace) -> int:
    from .verifier.core.reward import InfrastructureError, compute_reward
    from .verifier.core.sandbox import SandboxUnavailableError
    from .verifier.core.verify import verify_cpp

    if args.file == STDIN and args.test == STDIN:
        raise CliError("only one of the source and --test can be read from stdin (-)")
    code = _read_source(args.file, "source")
    test_code = _read_source(args.test, "test") if args.test else None
    try:
        result = verify_cpp(
            code,
            test_code,
            timeout=args.timeout,
            std=args.std,
            extra_flags=args.flag,
            return_structured=args.structured or args.json,
        )
        reward = compute_reward(result)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    except (SandboxUnavailableError, InfrastructureError) as exc:
        raise CliError(str(exc), EXIT_INFRA) from None
    if args.json:
        print(json.dumps({**result.to_dict(), "reward": reward}, indent=2))
    else:
        print(_render_result(result, reward, args.structured, timeout=args.timeout))
    return EXIT_OK


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _render_result(result: object, reward: float, structured: bool, timeout: float | None = None) -> str:
    """The human summary; `timeout` is the run deadline the verification had (for a timed-out run)."""
    from .verifier.core.diagnostics import ErrorClass
    from .verifier.core.verify import VerifyResult

    assert isinstance(result, VerifyResult)
    if result.error_class == ErrorClass.TIMEOUT_COMPILE:
        compiled = f"FAILED (timed out after {result.compile_s:.1f}s)"
    else:
        warnings = _plural(result.warnings, "warning")
        compiled = f"{'ok' if result.compile_ok else 'FAILED'} ({warnings}, {result.compile_s:.2f}s)"
    lines = [f"compile: {compiled}"]
    if result.ran:
        if result.error_class == ErrorClass.RUNTIME_TIMEOUT:  # wall deadline or the CPU rlimit (SIGXCPU)
            status = f"timed out after {timeout if timeout is not None else round(result.run_s, 2):g}s"
        elif result.signal is not None:
            status = f"signal {result.signal}"
        elif result.returncode is None:
            status = "no exit status"
        else:
            status = f"exit {result.returncode}"
        if result.error_class != ErrorClass.RUNTIME_TIMEOUT:
            status += f", {result.run_s:.2f}s"
        lines.append(f"run:     {'ok' if result.run_ok else 'FAILED'} ({status})")
    else:
        lines.append("run:     not run " + ("(no main)" if result.compile_ok else "(build failed)"))
    if result.tests_total:
        lines.append(f"tests:   {result.tests_passed}/{result.tests_total} passed")
    lines.append(f"class:   {result.error_class}")
    lines.append(f"reward:  {reward:.3f}")
    if structured and result.diagnostics:
        lines.append("diagnostics:")
        lines += [f"  {d.file}:{d.line}:{d.column}: {d.severity}: {d.message}" for d in result.diagnostics]
    elif not result.compile_ok and result.compile_output:
        lines += ["--- compiler ---", result.compile_output.rstrip()]
    if result.stdout:
        lines += ["--- stdout ---", result.stdout.rstrip()]
    if result.stderr and result.ran:
        lines += ["--- stderr ---", result.stderr.rstrip()]
    return "\n".join(lines)


def _cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    return run_demo()


def _serve_logging() -> None:
    """The services' own INFO lines (what is served, verifier reachability) in uvicorn's format; without a
    handler Python prints only warnings."""
    import logging

    from uvicorn.logging import DefaultFormatter

    handler = logging.StreamHandler()
    handler.setFormatter(DefaultFormatter("%(levelprefix)s %(message)s"))
    logger = logging.getLogger("services")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False


def _cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from .common.settings import InferenceSettings, TrainerServiceSettings, VerifierServiceSettings
    from .common.settings_errors import load_settings

    # Every setting is checked here, before uvicorn starts and before the app's imports (torch): a bad one is
    # one line naming its variable, exit 2, in a moment.
    app: object
    if args.job_runner is not None and args.service != "trainer":
        raise CliError(f"--job-runner is the trainer's option; the {args.service} service runs no jobs")
    if args.service == "verifier":
        try:
            settings = load_settings(VerifierServiceSettings)
        except ValueError as exc:
            raise CliError(f"bad verifier settings: {exc}") from None
        from .verifier.app import create_app

        host = args.host or settings.verifier_host
        port = args.port or settings.verifier_port
        app = create_app(settings)
    elif args.service == "inference":
        from .inference.startup import check_model_setting

        try:
            inference = load_settings(InferenceSettings)
            check_model_setting(inference.model)  # not left to the background load to find
        except ValueError as exc:
            raise CliError(f"bad inference settings: {exc}") from None
        from .inference.app import create_app as create_inference_app
        from .inference.app import set_cpu_threads

        host = args.host or inference.inference_host
        port = args.port or inference.inference_port
        set_cpu_threads(inference.torch_threads)
        app = create_inference_app(inference)
    elif args.service == "trainer":
        try:
            trainer = load_settings(TrainerServiceSettings)
        except ValueError as exc:
            raise CliError(f"bad trainer settings: {exc}") from None
        if args.job_runner is not None:
            trainer = trainer.model_copy(update={"job_runner": args.job_runner})
        try:
            trainer.jobs_root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CliError(f"cannot create the jobs dir {trainer.jobs_root}: {exc.strerror}", EXIT_INFRA) from None
        from .trainer.jobs_lock import JobsDirBusyError, JobsDirLock

        probe = JobsDirLock(trainer.jobs_root)  # another service on this dir: one line and exit 1, not a traceback
        try:
            probe.acquire()
        except JobsDirBusyError as exc:
            raise CliError(str(exc), EXIT_INFRA) from None
        probe.release()  # the service's runner takes it for good at start-up
        if trainer.job_runner == "docker":  # said here in one line, not as a traceback from the app's start-up
            from .trainer.containers import check_daemon

            try:
                check_daemon(trainer.docker_url)
            except RuntimeError as exc:
                raise CliError(str(exc), EXIT_INFRA) from None
        from .trainer.app import create_app as create_trainer_app

        host = args.host or trainer.trainer_host
        port = args.port or trainer.trainer_port
        app = create_trainer_app(trainer)
    else:  # argparse restricts the choices
        raise CliError(f"unknown service {args.service!r}")
    _serve_logging()
    if args.service == "inference":
        import logging

        from .inference.exposure import warn_if_exposed

        warn_if_exposed(logging.getLogger("services.inference"), host, inference.api_keys, inference.admin_keys)
    uvicorn.run(app, host=host, port=port, log_level="info")
    return EXIT_OK


def _cmd_bootstrap_model(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from .lm.bootstrap import PRESETS, BootstrapReport, build_model_at, default_model_dir, ensure_bootstrap_model

    preset = PRESETS[args.preset]
    out = Path(args.out) if args.out else default_model_dir(preset.dir_name)
    if args.seconds is not None and args.steps is not None:
        raise CliError("--steps and --seconds exclude each other (steps: reproducible; seconds: a time budget)")
    if args.seconds is not None and args.seconds <= 0:
        raise CliError("--seconds must be positive")
    if args.steps is not None and args.steps < 1:
        raise CliError("--steps must be at least 1")
    if args.threads < 1:
        raise CliError("--threads must be at least 1")
    if args.tasks < 1:
        raise CliError("--tasks must be at least 1")
    label = "bootstrap" if preset.name == "student" else preset.name
    if args.if_missing:
        from .lm.bootstrap import is_built

        if args.seconds is not None:
            raise CliError("--if-missing builds by steps (reproducible); drop --seconds")
        if args.force:
            raise CliError("--if-missing and --force exclude each other (keep the model, or replace it)")
        if is_built(out):
            print(f"{label} model already built at {out}")
            return EXIT_OK
    else:
        _check_replaceable(out, force=args.force)
    # The teacher preset reuses the student's tokenizer (one vocabulary for both): the student is built first.
    tokenizer: dict[str, Any] = {"tokenizer_dir": ensure_bootstrap_model()} if preset.student_tokenizer else {}
    if args.if_missing:
        ensure_bootstrap_model(out, seed=args.seed, max_steps=args.steps or preset.steps, num_threads=args.threads,
                               config=preset.config, **tokenizer)  # fmt: skip
        built = BootstrapReport.read(out)
        print(replace(built, out_dir=str(out)).summary(label) if built is not None else f"{label} model saved to {out}")
        return EXIT_OK
    # Neither --steps nor --seconds: the preset's step count. Built aside and moved into place.
    report = build_model_at(
        out,
        seed=args.seed,
        max_steps=args.steps if args.steps is not None or args.seconds is not None else preset.steps,
        train_seconds=args.seconds,
        n_tasks=args.tasks,
        num_threads=args.threads,
        config=preset.config,
        progress=sys.stderr,  # this process's stderr now (the default was bound when bootstrap was imported)
        **tokenizer,
    )
    print(report.summary(label))
    return EXIT_OK


def _check_replaceable(out: Path, *, force: bool) -> None:
    """An existing model is replaced only with --force; a non-empty dir that holds no model, never."""
    from .lm.bootstrap import holds_a_model

    if not out.exists():
        return
    if not out.is_dir():
        raise CliError(f"--out {out} is a file, not a directory")
    if holds_a_model(out):
        if not force:
            raise CliError(f"a model already exists at {out}; pass --force to replace it (or --if-missing to keep it)")
    elif any(out.iterdir()):
        raise CliError(f"{out} is not empty and holds no model: refusing to replace it; pick another --out")


def _cmd_train_proxy(args: argparse.Namespace) -> int:
    from .inference.proxy.honesty import ProxyNotReplacedError
    from .inference.proxy.training import build_and_train
    from .inference.service import default_proxy_path
    from .lm.bootstrap import ensure_bootstrap_model
    from .lm.model import load_model

    model_path = Path(args.model) if args.model else ensure_bootstrap_model()
    if not model_path.exists():
        raise CliError(f"model path not found: {model_path}")
    out = Path(args.out) if args.out else default_proxy_path()
    loaded = load_model(model_path)
    try:
        report = build_and_train(loaded, out, n_prompts=args.prompts, per_prompt=args.per_prompt, seed=args.seed,
                                 force=args.force, warn=_warn)  # fmt: skip
    except ProxyNotReplacedError as exc:
        raise CliError(str(exc)) from None
    print(json.dumps(report.to_dict(), indent=2))
    return EXIT_OK


def _warn(message: str) -> None:
    print(f"cppforge: WARNING: {message}", file=sys.stderr, flush=True)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="cppforge", description="Verifier-grounded post-training for C++ code models.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {package_version()}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    v = sub.add_parser("verify", help="compile and run a C++ file in the sandbox and print the result")
    v.add_argument("file", help="C++ source (the candidate); - reads it from stdin")
    v.add_argument("--test", help="trusted test code appended to the source (HumanEval-X style); - reads it from stdin")
    v.add_argument("--std", default="c++17", help="language standard (default c++17)")
    v.add_argument("--timeout", type=float, default=10.0, help="run deadline in seconds (default 10)")
    v.add_argument("--flag", action="append", default=[], help="extra compiler flag (allowlisted); repeatable")
    v.add_argument("--structured", action="store_true", help="include error_class and parsed diagnostics")
    v.add_argument("--json", action="store_true", help="print the result as JSON (implies --structured)")
    v.set_defaults(func=_cmd_verify)

    s = sub.add_parser("serve", help="run a service over HTTP (uvicorn)")
    s.add_argument("service", choices=["verifier", "inference", "trainer"], help="which service")
    s.add_argument("--host", help="bind address (default from CPPFORGE_<SERVICE>_HOST, else 127.0.0.1)")
    s.add_argument(
        "--port",
        type=int,
        help="port (default CPPFORGE_<SERVICE>_PORT, else verifier 8001, inference 8002, trainer 8003)",
    )
    s.add_argument(
        "--job-runner",
        choices=["process", "docker"],
        help="trainer only: each job a child process, or a container of its own (default CPPFORGE_JOB_RUNNER, "
        "else process)",
    )
    s.set_defaults(func=_cmd_serve)

    from .lm.bootstrap import DEFAULT_STEPS, DEFAULT_THREADS  # light: no torch at import

    b = sub.add_parser("bootstrap-model", help="build the project's own tiny C++ model and tokenizer")
    b.add_argument("--out", help="output dir (default $CPPFORGE_HOME/models/bootstrap)")
    b.add_argument("--seed", type=int, default=0)
    b.add_argument(
        "--steps", type=int, default=None, help=f"training steps (default {DEFAULT_STEPS}): same seed, same weights"
    )
    b.add_argument(
        "--seconds", type=float, default=None, help="train for a time budget instead (NOT reproducible: load-dependent)"
    )
    b.add_argument(
        "--threads",
        type=int,
        default=DEFAULT_THREADS,
        help=f"torch intra-op threads; the weights depend on it, not on the machine (default {DEFAULT_THREADS})",
    )
    b.add_argument("--tasks", type=int, default=20000, help="generated training tasks (default 20000)")
    b.add_argument("--if-missing", action="store_true", help="do nothing when a model of this version is already there")
    b.add_argument("--force", action="store_true", help="replace a model already at --out (refused without it)")
    b.add_argument("--preset", default="student", choices=("student", "teacher"),
                   help="student: the bootstrap model; teacher: 6 blocks, 2000 steps, the student's tokenizer, "
                        "default --out $CPPFORGE_HOME/models/teacher (the distillation teacher)")  # fmt: skip
    b.set_defaults(func=_cmd_bootstrap_model)

    p = sub.add_parser("train-proxy", help="train the compile-ability proxy on verifier-labelled model samples")
    p.add_argument("--model", help="local HF model dir (default: the bootstrap model)")
    p.add_argument("--out", help="artifact dir (default $CPPFORGE_HOME/models/proxy)")
    p.add_argument("--prompts", type=int, default=200, help="held-out prompts to sample (default 200)")
    p.add_argument("--per-prompt", type=int, default=4, help="samples per prompt (default 4)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--force",
        action="store_true",
        help="replace the proxy at --out even when the new one is flagged (no better than the majority class, "
        "too few samples of a class) and the old one recorded a better result",
    )
    p.set_defaults(func=_cmd_train_proxy)

    from .trainer.command import add_train_parser

    add_train_parser(sub)
    from .trainer.bondata_command import add_bon_data_parser

    add_bon_data_parser(sub)

    from .trainer.registry_command import add_registry_parser

    add_registry_parser(sub)

    from .trainer.dsa.command import add_dsa_parser

    add_dsa_parser(sub)

    from .trainer.evalharness.command import add_eval_parser

    add_eval_parser(sub)

    from .stack.command import add_up_parser

    add_up_parser(sub)

    d = sub.add_parser("demo", help="the post-training loop over HTTP on a local stack (results in out/demo)")
    d.set_defaults(func=_cmd_demo)
    return parser


def _join_flag_values(argv: Sequence[str]) -> list[str]:
    """`--flag -O2` reads naturally but argparse takes `-O2` for an option: glue it as `--flag=-O2`."""
    out: list[str] = []
    it = iter(argv)
    for arg in it:
        if arg == "--flag":
            value = next(it, None)
            if value is None:
                out.append(arg)
                break
            out.append(f"--flag={value}")
        else:
            out.append(arg)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    raw = list(sys.argv[1:] if argv is None else argv)
    try:
        args = build_parser().parse_args(_join_flag_values(raw))
        return int(args.func(args))
    except CliError as exc:
        print(f"cppforge: error: {exc}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        print("cppforge: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    # `python -m services.cli` (and `torchrun -m services.cli`) runs this file as __main__, a second copy of
    # the module; CliError lives in services.common.cli_errors, so both copies catch the same class.
    sys.exit(main())
