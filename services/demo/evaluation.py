"""The demo's eval and promotion: pass@k of the base and of the job's adapter, both sampled by the
inference service (the adapter loaded there by its registry name) and judged by the verifier service,
then the registry's own gate (record_eval + promote) decides whether the adapter becomes active."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..inference.client import InferenceClient
from ..tasks.sets import HELDOUT_CPP_FILE
from ..trainer.evalharness import EvalReport, evaluate
from ..trainer.evalharness.report import PLOT_FILE
from ..trainer.registry import DEFAULT_GATE, PromotionRefused, load_adapter_artifact, promote, record_eval
from .printing import Progress
from .summary import EvalOutcome, PromotionOutcome


@dataclass(frozen=True)
class EvalPlan:
    limit: int = 8  # the first tasks of the project's held-out set
    n: int = 4
    ks: tuple[int, ...] = (1, 4)
    max_tokens: int = 128


def _eval(urls: tuple[str, str], model: str, out_dir: Path, plan: EvalPlan, progress: Progress) -> EvalReport:
    inference_url, verifier_url = urls
    return evaluate(
        tasks_path=HELDOUT_CPP_FILE, n=plan.n, ks=plan.ks, limit=plan.limit, out_dir=out_dir,
        inference_url=inference_url, model_name=model, verifier_url=verifier_url, max_tokens=plan.max_tokens,
        progress=progress.out,
    )  # fmt: skip


def _outcome(report: EvalReport, out_dir: Path) -> EvalOutcome:
    png = out_dir / PLOT_FILE
    return EvalOutcome(
        model=report.model, pass_at_k=dict(report.pass_at_k), compile_rate=report.compile_rate, tasks=report.tasks,
        n=report.n, out_dir=str(out_dir), pass_at_k_png=str(png) if png.is_file() else None,
    )  # fmt: skip


def eval_step(
    inference: InferenceClient, verifier_url: str, name: str, out_dir: Path, plan: EvalPlan, progress: Progress
) -> tuple[EvalOutcome, EvalOutcome, EvalReport]:
    """(base, adapter, the adapter's report): the adapter is loaded by registry name, not activated."""
    loaded = inference.load_registry_adapter(name, activate=False)
    base_id = inference.models().data[0].id
    progress.line(f"inference serves {base_id} and now {name} (adapters loaded: {', '.join(loaded.loaded)})")
    if loaded.active is not None:  # the base id then runs that adapter: the "base" row measures it, say so
        progress.line(f"note: {loaded.active} is the active adapter, so {base_id} (the baseline below) runs it")
    urls = (inference.base_url, verifier_url)
    outcomes = []
    reports = []
    for label, model in (("base", base_id), ("adapter", name)):
        progress.line(f"-- {label} ({model}): {plan.limit} tasks x n={plan.n}")
        report = _eval(urls, model, out_dir / label, plan, progress)
        reports.append(report)
        outcomes.append(_outcome(report, out_dir / label))
        values = ", ".join(f"{k} {'-' if v is None else f'{v:.3f}'}" for k, v in report.pass_at_k.items())
        progress.line(f"   {values}; compile rate {report.compile_rate or 0.0:.1%}")
    return outcomes[0], outcomes[1], reports[1]


def promotion_step(name: str, report: EvalReport, progress: Progress) -> tuple[PromotionOutcome, str]:
    """Record the adapter's eval on its draft, then ask the registry's gate; (decision, the entry's dir)."""
    record = record_eval(name, report.to_dict())
    progress.line(f"recorded on draft {name}: {record.describe()}")
    try:
        done = promote(name)
    except PromotionRefused as refused:
        outcome = PromotionOutcome(name=name, promoted=False, message=str(refused))
    else:
        message = f"{done.name} is now active: {done.metric} {done.value:.3f} clears the gate {DEFAULT_GATE:.3f}"
        if done.retired is None:
            message += " and no adapter of this base was active"
        else:
            old = "-" if done.retired_value is None else f"{done.retired_value:.3f}"
            message += f" and beats the active {done.retired} ({old}), now retired"
        outcome = PromotionOutcome(name=name, promoted=True, message=message)
    progress.line(outcome.headline())
    return outcome, str(load_adapter_artifact(name).path)
