"""Gated promotion: a draft becomes the active adapter of its base only on numbers the harness measured.

`record_eval` stores a harness report (called by `cppforge registry eval`, never with typed-in
numbers) for a draft; an active or retired adapter keeps the eval it was promoted on. `promote` then
asks, in order: is it a draft; was it evaluated on the weights of its own base, with every sample
judged (none lost to an infrastructure failure); does the metric clear
the gate (which a caller may raise, never lower below DEFAULT_GATE), and pass@1 the floor whatever the
metric; and, when another adapter of that base is active, was the candidate evaluated the way that
one was (dataset sha256, task count, n, sampling params), does it beat it (strictly) on the metric and
fall behind it on no other pass@k both measured. Each refusal is a PromotionRefused naming the
numbers. On success the old active adapter is retired in the same locked update: one active adapter
per base model hash.

Why the active one's eval is frozen: were it re-evaluated at will, "re-evaluate it the way the
candidate was" would let anyone pick the subset (`--limit 1`) or the k on which the candidate wins.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .artifacts import Entry, Status, load_adapter_artifact, set_status
from .errors import InvalidArtifactError, PromotionRefused, StatusError
from .evals import METRIC_PATTERN, EvalRecord, eval_differences, eval_record_from_report, utc_now
from .hashing import model_content_hash
from .index import default_root, finite_json, locked, read_manifest, write_manifest
from .integrity import check_consistent

DEFAULT_METRIC = "pass@1"
# The smallest pass@1 worth serving: an adapter that solves under 1 task in 20 has learnt nothing usable.
DEFAULT_GATE = 0.05


@dataclass(frozen=True)
class Promotion:
    name: str
    metric: str
    value: float
    retired: str | None  # the adapter that was active for this base before, now retired
    retired_value: float | None


def record_eval(
    name: str, report: dict[str, Any], *, base_model_sha256: str | None = None, root: Path | None = None
) -> EvalRecord:
    """Store a harness report as `name`'s latest eval (index + manifest history).

    `base_model_sha256`: the hash of the base weights the eval ran on (default: hash the artifact's
    base model now). The artifact's own files are checked first: an eval of a corrupt artifact is refused.
    """
    root = root or default_root()
    artifact = load_adapter_artifact(name, root=root)
    check_draft(name, artifact.status)
    if base_model_sha256 is None:
        base_model_sha256 = model_content_hash(artifact.base_model, cache_dir=root)
    record = eval_record_from_report(report, base_model_sha256=base_model_sha256)
    try:
        full = finite_json(report)
    except TypeError as exc:
        raise InvalidArtifactError(f"the eval report must be JSON data: {exc}") from None
    with locked(root) as index:
        check_draft(name, Entry.from_index(name, index[name]).status)  # (promoted meanwhile?)
        index[name]["eval"] = record.to_dict()
        manifest = read_manifest(root, name)
        manifest.setdefault("evals", []).append({**record.to_dict(), "report": full})
        write_manifest(root, name, manifest)
    return record


def check_draft(name: str, status: Status) -> None:
    if status != Status.DRAFT:
        raise StatusError(
            f"{name} is {status.value}: it keeps the eval it was promoted on (evals are recorded for drafts only; "
            "a promotion compares a draft with the active adapter's promotion eval)"
        )


def eval_recipe(ev: EvalRecord) -> str:
    """How to run an eval comparable with `ev`, for refusal messages."""
    settings = {k: v for k, v in ev.sampling.items() if k not in ("n", "limit")} | ev.judge
    listed = ", ".join(f"{k}={v}" for k, v in sorted(settings.items()))
    return f"--tasks {ev.dataset} (sha256 {ev.dataset_sha256[:12]}), {ev.tasks} tasks, --n {ev.n}" + (
        f", {listed}" if listed else ""
    )


def _fmt(value: float) -> str:
    return f"{value:.3f}"


def check_promotion(candidate: Entry, active: Entry | None, *, metric: str, gate: float) -> float:
    """The candidate's metric value if it may replace `active` (None: no adapter is active for its base);
    else PromotionRefused saying why, with the numbers. Pure: reads the two index rows only."""
    name = candidate.name
    if candidate.status != Status.DRAFT:
        raise PromotionRefused(f"refused: {name} is {candidate.status.value}; only a draft can be promoted")
    ev = candidate.eval
    if ev is None:
        raise PromotionRefused(
            f"refused: {name} has no eval recorded by the harness; run `cppforge registry eval {name}`"
        )
    if ev.base_model_sha256 != candidate.base_model_sha256:
        raise PromotionRefused(
            f"refused: {name}'s eval ran on base model {ev.base_model_sha256[:12]}, not on its own base "
            f"{candidate.base_model_sha256[:12]} ({candidate.base_model}); re-evaluate: `cppforge registry eval {name}`"
        )
    if ev.infra_failures:  # pass@k over the samples judged: a judge that fails selectively would inflate it
        raise PromotionRefused(
            f"refused: {name}'s eval lost {ev.infra_failures} samples to infrastructure failures (verifier or "
            f"sandbox errors), which its pass@k leaves out; re-run it: `cppforge registry eval {name}`"
        )
    if metric not in ev.pass_at_k:
        raise PromotionRefused(
            f"refused: {name}'s eval has no {metric} (measured: {', '.join(ev.pass_at_k)}; {ev.describe()})"
        )
    value = ev.pass_at_k[metric]
    if value < gate:
        raise PromotionRefused(
            f"refused: {name} {metric} {_fmt(value)} is below the gate {_fmt(gate)} (eval: {ev.describe()})"
        )
    floor = ev.pass_at_k.get(DEFAULT_METRIC)
    if metric != DEFAULT_METRIC and (floor is None or floor < DEFAULT_GATE):  # pass@k >= pass@1: an easier gate
        got = "not measured" if floor is None else _fmt(floor)
        raise PromotionRefused(
            f"refused: {name} {DEFAULT_METRIC} {got} is below the floor {_fmt(DEFAULT_GATE)} that every promotion "
            f"clears, whatever the metric (eval: {ev.describe()})"
        )
    if active is None:
        return value
    _check_beats(candidate, ev, active, metric=metric, value=value)
    return value


def _check_beats(candidate: Entry, ev: EvalRecord, active: Entry, *, metric: str, value: float) -> None:
    name, other = candidate.name, active.name
    theirs = active.eval
    if theirs is None or theirs.base_model_sha256 != active.base_model_sha256:  # only by a hand-edited index
        raise PromotionRefused(
            f"refused: active {other} has no eval on this base to compare {name} {metric} {_fmt(value)} with; "
            f"retire it first if it should not be active: `cppforge registry retire {other}`"
        )
    diffs = eval_differences(ev, theirs)
    if metric not in theirs.pass_at_k:
        diffs.append(f"{metric} measured vs not measured")
    if diffs:
        raise PromotionRefused(
            f"refused: cannot compare {name} {metric} {_fmt(value)} ({ev.describe()}) with active {other} "
            f"({theirs.describe()}): the evals differ in {'; '.join(diffs)}; evaluate {name} the way {other} was "
            f"promoted: `cppforge registry eval {name}` with {eval_recipe(theirs)}"
        )
    if value <= theirs.pass_at_k[metric]:
        raise PromotionRefused(
            f"refused: {name} {metric} {_fmt(value)} does not beat active {other} {metric} "
            f"{_fmt(theirs.pass_at_k[metric])} (same eval: {ev.describe()})"
        )
    worse = [k for k in ev.pass_at_k if k in theirs.pass_at_k and ev.pass_at_k[k] < theirs.pass_at_k[k]]
    if worse:  # a k chosen because it is the one the candidate wins on
        lost = ", ".join(f"{k} {_fmt(ev.pass_at_k[k])} < {_fmt(theirs.pass_at_k[k])}" for k in worse)
        raise PromotionRefused(
            f"refused: {name} beats active {other} on {metric} ({_fmt(value)} > {_fmt(theirs.pass_at_k[metric])}) "
            f"but falls behind it on {lost} (same eval: {ev.describe()})"
        )


def check_gate_args(metric: str, gate: float) -> None:
    if not METRIC_PATTERN.fullmatch(metric):
        raise InvalidArtifactError(f"metric must look like pass@1, not {metric!r}")
    if not DEFAULT_GATE <= gate <= 1.0:  # (NaN fails too)
        raise InvalidArtifactError(
            f"gate must be in [{DEFAULT_GATE}, 1], not {gate}: a caller may raise the gate, never lower it"
        )


def promote(
    name: str, *, metric: str = DEFAULT_METRIC, gate: float = DEFAULT_GATE, root: Path | None = None
) -> Promotion:
    """Make draft `name` the active adapter of its base (retiring the one before), or PromotionRefused."""
    check_gate_args(metric, gate)
    root = root or default_root()
    load_adapter_artifact(name, root=root)  # a corrupt artifact is never promoted (ArtifactCorruptError)
    with locked(root) as index:
        candidate = Entry.from_index(name, index[name])
        base = candidate.base_model_sha256
        entries = [Entry.from_index(n, d) for n, d in index.items() if n != name]
        actives = [e for e in entries if e.status == Status.ACTIVE and e.base_model_sha256 == base]
        for row in [candidate, *actives]:  # the rows compared are the ones their manifests back
            check_consistent(row.name, read_manifest(root, row.name), index[row.name])
        active = actives[0] if actives else None
        value = check_promotion(candidate, active, metric=metric, gate=gate)
        old_value = active.eval.pass_at_k.get(metric) if active is not None and active.eval is not None else None
        for old in actives:  # one, unless an older registry broke the rule by hand
            set_status(root, index, old.name, Status.RETIRED)
        record = {
            "metric": metric, "value": value, "gate": gate, "eval": index[name]["eval"], "at": utc_now(),
            "retired": active.name if active else None, "retired_value": old_value,
        }  # fmt: skip
        set_status(root, index, name, Status.ACTIVE, promotion=record)
    return Promotion(name, metric, value, active.name if active else None, old_value)
