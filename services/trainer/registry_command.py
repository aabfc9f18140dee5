"""`cppforge registry list|show|promote|eval|retire|add`: the adapter registry from the shell.

There is no command that sets a number: pass@k reaches the registry only through `registry eval`,
which runs the eval harness on the artifact (its base + its adapter) and records the report.
Exit codes as the rest of the CLI: 0 done; 2 bad input, an unknown name, a refused promotion or
transition; 1 infrastructure (a corrupt artifact, an unreadable registry, the harness's services down).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from ..common.cli_errors import EXIT_BAD_INPUT, EXIT_INFRA, EXIT_OK, CliError


def add_registry_parser(sub: Any) -> None:
    from .registry import DEFAULT_GATE, DEFAULT_METRIC, TRAINING_METHODS  # light: no torch

    r = sub.add_parser("registry", help="trained adapters: list, show, evaluate, promote (gated), retire, add")
    rsub = r.add_subparsers(dest="registry_command", required=True, parser_class=type(r))

    p = rsub.add_parser("list", help="every adapter: name, status, method, base, pass@k, created")
    p.add_argument("--json", action="store_true", help="one JSON array (for machines)")
    p.set_defaults(func=cmd_list)

    p = rsub.add_parser("show", help="an adapter's manifest, its files' sha256 checked")
    p.add_argument("name")
    p.set_defaults(func=cmd_show)

    p = rsub.add_parser("promote", help="make a draft the active adapter of its base, if its eval earns it")
    p.add_argument("name")
    p.add_argument(
        "--metric",
        default=DEFAULT_METRIC,
        help=f"what is compared (default {DEFAULT_METRIC}; whatever it is, {DEFAULT_METRIC} still clears "
        f"{DEFAULT_GATE} and no pass@k may fall behind the active adapter's)",
    )
    p.add_argument(
        "--gate",
        type=float,
        default=DEFAULT_GATE,
        help=f"least value of the metric (default {DEFAULT_GATE}, which is also the floor: it may only be raised)",
    )
    p.set_defaults(func=cmd_promote)

    p = rsub.add_parser("eval", help="run the eval harness on a draft adapter and record its pass@k")
    p.add_argument("name")
    p.add_argument("--tasks", help="problem set (HumanEval-X or MultiPL-E JSONL); default: the project's set")
    p.add_argument("--n", type=int, default=10, help="samples per task (default 10)")
    p.add_argument("--k", default="1,5", help="comma-separated k of pass@k (default 1,5)")
    p.add_argument("--limit", type=int, help="the first N tasks only")
    p.add_argument("--verifier-url", default="", help="verifier service (default: verify in-process)")
    p.add_argument("--out", help="where the harness writes results (default <registry>/evals/NAME/<time>)")
    p.set_defaults(func=cmd_eval)

    p = rsub.add_parser("retire", help="retire a draft or the active adapter (final)")
    p.add_argument("name")
    p.set_defaults(func=cmd_retire)

    p = rsub.add_parser("add", help="register a PEFT adapter dir (safetensors) as a draft")
    p.add_argument("dir", help="the adapter dir; a run's DIR/adapter also brings the run's config and summary")
    p.add_argument(
        "--name", required=True, help="registry name (A-Z a-z 0-9 _ . -, <= 64, a letter or digit first): its model id"
    )
    p.add_argument("--method", required=True, choices=TRAINING_METHODS, help="how it was trained")
    p.add_argument("--base", help="base model dir or HF id (default: the run's model, else the bootstrap model)")
    p.add_argument("--parent", help="what it was trained from (a registry name), if anything")
    p.set_defaults(func=cmd_add)


def _registry_errors(exc: Exception) -> CliError:
    from .registry import ArtifactCorruptError, PromotionRefused, RegistryError

    if isinstance(exc, ArtifactCorruptError):
        return CliError(str(exc), EXIT_INFRA)
    if isinstance(exc, PromotionRefused | ValueError | LookupError):  # bad input, unknown name, refusal
        return CliError(str(exc), EXIT_BAD_INPUT)
    if isinstance(exc, RegistryError | OSError):
        return CliError(str(exc), EXIT_INFRA)
    raise exc


def _base_label(base_model: str, sha: str) -> str:
    return f"{Path(base_model).name or base_model} ({sha[:8]})"


def _pass_label(pass_at_k: dict[str, float] | None) -> str:
    return " ".join(f"{k}={v:.3f}" for k, v in pass_at_k.items()) if pass_at_k else "-"


def render_table(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows)


def cmd_list(args: argparse.Namespace) -> int:
    from .registry import RegistryError, list_artifacts

    try:
        entries = list_artifacts()
    except RegistryError as exc:
        raise _registry_errors(exc) from None
    if args.json:
        print(json.dumps([_entry_dict(e) for e in entries], indent=1))
        return EXIT_OK
    if not entries:
        print("the registry is empty (train a job, or `cppforge registry add DIR --name N --method M`)")
        return EXIT_OK
    rows = [["name", "status", "method", "base", "pass@k", "created"]]
    for e in entries:
        rows.append([e.name, e.status.value, e.training_method, _base_label(e.base_model, e.base_model_sha256),
                     _pass_label(e.eval.pass_at_k if e.eval else None), e.created_at])  # fmt: skip
    print(render_table(rows))
    return EXIT_OK


def _entry_dict(e: Any) -> dict[str, Any]:
    return {
        "name": e.name, "status": e.status.value, "training_method": e.training_method, "base_model": e.base_model,
        "base_model_sha256": e.base_model_sha256, "adapter_sha256": e.adapter_sha256, "parent": e.parent,
        "created_at": e.created_at, "eval": e.eval.to_dict() if e.eval else None,
    }  # fmt: skip


def cmd_show(args: argparse.Namespace) -> int:
    from .registry import RegistryError, load_adapter_artifact

    try:
        artifact = load_adapter_artifact(args.name)
    except (RegistryError, OSError) as exc:
        raise _registry_errors(exc) from None
    print(json.dumps(artifact.to_dict(), indent=1))
    return EXIT_OK


def cmd_promote(args: argparse.Namespace) -> int:
    from .registry import RegistryError, promote

    try:
        done = promote(args.name, metric=args.metric, gate=args.gate)
    except (RegistryError, OSError) as exc:
        raise _registry_errors(exc) from None
    line = f"{done.name} is now active ({done.metric} {done.value:.3f}, gate {args.gate:.3f})"
    if done.retired is not None:
        old = "-" if done.retired_value is None else f"{done.retired_value:.3f}"
        line += f"; retired {done.retired} ({done.metric} {old})"
    print(line)
    return EXIT_OK


def cmd_retire(args: argparse.Namespace) -> int:
    from .registry import RegistryError, retire

    try:
        retire(args.name)
    except (RegistryError, OSError) as exc:
        raise _registry_errors(exc) from None
    print(f"{args.name} retired")
    return EXIT_OK


def cmd_add(args: argparse.Namespace) -> int:
    from .registry import RegistryError, default_base_model, run_provenance, save_adapter_artifact

    adapter_dir = Path(args.dir)
    config, metrics = run_provenance(adapter_dir.parent) if adapter_dir.name == "adapter" else ({}, {})
    base = args.base or config.get("model") or str(default_base_model())
    try:
        artifact = save_adapter_artifact(
            adapter_dir, name=args.name, base_model=base, training_method=args.method, config=config,
            metrics=metrics, parent=args.parent,
        )  # fmt: skip
    except (RegistryError, OSError) as exc:
        raise _registry_errors(exc) from None
    print(f"registered {artifact.name} (draft, {artifact.training_method}) on base "
          f"{_base_label(artifact.base_model, artifact.base_model_sha256)}: {artifact.path}")  # fmt: skip
    return EXIT_OK


def parse_ks(text: str, n: int) -> tuple[int, ...]:
    try:
        ks = tuple(sorted({int(part) for part in text.split(",") if part.strip()}))
    except ValueError:
        raise CliError(f"--k takes comma-separated integers, not {text!r}") from None
    if not ks:
        raise CliError("--k needs at least one value")
    if ks[0] < 1 or ks[-1] > n:
        raise CliError(f"--k values must be in 1..n (n={n}), not {text}")
    return ks


def run_harness(
    *, tasks_path: str | None, model_path: str, adapter_dir: str, n: int, ks: tuple[int, ...], out_dir: Path,
    limit: int | None, verifier_url: str,
) -> Any:  # fmt: skip
    """The one call into the eval harness (services/trainer/evalharness), imported here only: an EvalReport."""
    from .evalharness import DEFAULT_TASKS, evaluate

    return evaluate(
        tasks_path=tasks_path or DEFAULT_TASKS, model_path=model_path, adapter_dir=adapter_dir, n=n, ks=ks,
        out_dir=out_dir, verifier_url=verifier_url, limit=limit, progress=sys.stderr,
    )  # fmt: skip


def _eval_base(name: str, artifact: Any, root: Path) -> tuple[Path, str, Any]:
    """(dir, content hash, file stamps) of the base the eval runs on, refused unless it is the artifact's own."""
    from .registry import model_content_hash
    from .registry.hashing import model_stamp, resolve_base_dir

    base_dir = resolve_base_dir(artifact.base_model)
    stamp = model_stamp(base_dir)
    base_sha = model_content_hash(base_dir, cache_dir=root)
    if base_sha != artifact.base_model_sha256:
        raise CliError(
            f"the base model at {base_dir} is not the one {name} was trained on (sha256 {base_sha[:12]}, "
            f"registered {artifact.base_model_sha256[:12]}): an eval on it would not speak for this adapter"
        )
    return base_dir, base_sha, stamp


def cmd_eval(args: argparse.Namespace) -> int:
    from ..common.errors import ServiceError
    from .registry import RegistryError, default_root, record_eval
    from .registry.artifacts import verified_copy
    from .registry.hashing import model_stamp
    from .registry.promotion import check_draft

    if args.n < 1:
        raise CliError("--n must be at least 1")
    if args.limit is not None and args.limit < 1:
        raise CliError("--limit must be at least 1")
    ks = parse_ks(args.k, args.n)
    root = default_root()
    out = Path(args.out) if args.out else root / "evals" / args.name / time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    try:
        # The harness reads a copy of the adapter hashed after copying: the numbers are for the registered bytes.
        with verified_copy(args.name, root=root) as artifact:
            check_draft(args.name, artifact.status)  # before the harness's minutes, not after
            base_dir, base_sha, stamp = _eval_base(args.name, artifact, root)
            try:
                report = run_harness(
                    tasks_path=args.tasks, model_path=str(base_dir), adapter_dir=str(artifact.path), n=args.n,
                    ks=ks, out_dir=out, limit=args.limit, verifier_url=args.verifier_url,
                )  # fmt: skip
            except (ValueError, FileNotFoundError) as exc:
                raise CliError(str(exc)) from None
            except ServiceError as exc:
                raise CliError(str(exc), EXIT_INFRA) from None
        if model_stamp(base_dir) != stamp:  # the base's files were rewritten while the harness ran
            raise CliError(f"the base model's files at {base_dir} changed during the eval: it is not recorded")
        record = record_eval(args.name, report.to_dict(), base_model_sha256=base_sha)
    except (RegistryError, OSError) as exc:
        raise _registry_errors(exc) from None
    print(f"{args.name}: {_pass_label(record.pass_at_k)} ({record.describe()}); recorded. Results: {out}")
    return EXIT_OK
