"""What the registry keeps of a harness eval, and when two evals measured the same thing.

The record is read from the eval harness's report (`EvalReport.to_dict()`, what its summary.json
holds): pass@k values (a None one, no task with k judged samples, is left out), n, ks, the task
count, the dataset's name and sha256, the sampling params, the judge (verifier URL or in-process,
std, timeout) and the samples lost to infrastructure failures. An interrupted eval is refused.
The base model's hash at eval time is added by the caller (`cppforge registry eval`), since the
numbers only speak for the weights they were measured on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .errors import InvalidArtifactError

METRIC_PATTERN = re.compile(r"pass@([1-9][0-9]*)")


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass(frozen=True)
class EvalRecord:
    pass_at_k: dict[str, float]  # {"pass@1": 0.31, "pass@5": 0.52}
    n: int  # samples per task
    ks: tuple[int, ...]
    tasks: int  # tasks evaluated (after --limit)
    dataset: str  # the problem set's file name, for messages
    dataset_sha256: str
    sampling: dict[str, Any] = field(default_factory=dict)  # temperature, top_p, max_tokens, seed, ...
    base_model_sha256: str = ""  # the base's content hash when the eval ran
    measured_at: str = ""  # UTC ISO
    judge: dict[str, Any] = field(default_factory=dict)  # verifier (URL or in-process), std, timeout_s
    infra_failures: int = 0  # samples the verifier could not judge (left out of pass@k)

    def describe(self) -> str:
        return f"{self.dataset} {self.tasks} tasks, n={self.n}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "pass_at_k": dict(self.pass_at_k), "n": self.n, "ks": list(self.ks), "tasks": self.tasks,
            "dataset": self.dataset, "dataset_sha256": self.dataset_sha256, "sampling": dict(self.sampling),
            "base_model_sha256": self.base_model_sha256, "measured_at": self.measured_at, "judge": dict(self.judge),
            "infra_failures": self.infra_failures,
        }  # fmt: skip

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> EvalRecord:
        return cls(
            pass_at_k={str(k): float(v) for k, v in d["pass_at_k"].items()}, n=int(d["n"]),
            ks=tuple(int(k) for k in d["ks"]), tasks=int(d["tasks"]), dataset=str(d["dataset"]),
            dataset_sha256=str(d["dataset_sha256"]), sampling=dict(d.get("sampling") or {}),
            base_model_sha256=str(d.get("base_model_sha256", "")), measured_at=str(d.get("measured_at", "")),
            judge=dict(d.get("judge") or {}), infra_failures=int(d.get("infra_failures", 0)),
        )  # fmt: skip


def _bad(message: str) -> InvalidArtifactError:
    return InvalidArtifactError(f"not a harness eval report: {message}")


def _pass_at_k(report: dict[str, Any]) -> dict[str, float]:
    nested = report.get("pass_at_k")
    source = nested if isinstance(nested, dict) else report
    values: dict[str, float] = {}
    for key, value in source.items():
        if not METRIC_PATTERN.fullmatch(str(key)) or value is None:  # None: no task had k judged samples
            continue
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= float(value) <= 1.0:
            raise _bad(f"{key} must be a number in [0, 1], not {value!r}")
        values[str(key)] = float(value)
    if not values:
        raise _bad("no pass@k values")
    return dict(sorted(values.items(), key=lambda kv: int(kv[0].split("@")[1])))


def _count(report: dict[str, Any]) -> int:
    for key in ("tasks", "n_tasks", "num_tasks"):
        value = report.get(key)
        if isinstance(value, list):
            value = len(value)
        if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
            return value
    raise _bad("no task count (`tasks`)")


def _dataset(report: dict[str, Any]) -> tuple[str, str]:
    """(file name, sha256) of the problem set the eval ran on."""
    sha = report.get("dataset_sha256")
    name: object = None
    for key in ("dataset", "dataset_path", "tasks_path"):
        value = report.get(key)
        if isinstance(value, dict):  # {"path": ..., "sha256": ...}
            sha = sha or value.get("sha256")
            value = value.get("path") or value.get("name")
        if isinstance(value, str) and value:
            name = value
            break
    if not isinstance(sha, str) or not re.fullmatch(r"[0-9a-f]{16,128}", sha):
        raise _bad(f"dataset_sha256 must be a hex digest, not {sha!r}")
    return (Path(name).name if isinstance(name, str) else "dataset"), sha


def _sampling(report: dict[str, Any]) -> dict[str, Any]:
    sampling = report.get("sampling")
    if isinstance(sampling, dict):
        return dict(sampling)
    flat: dict[str, Any] = {k: report[k] for k in ("temperature", "top_p", "max_tokens", "seed") if k in report}
    if not flat:
        raise _bad("no sampling params (`sampling`)")
    return flat


def _judge(report: dict[str, Any]) -> dict[str, Any]:
    """Who judged the samples, and how: a verifier at another URL is another judge (it could pass anything)."""
    judge: dict[str, Any] = {"verifier": str(report.get("verifier_url") or "in-process")}
    judge.update({k: report[k] for k in ("std", "timeout_s") if k in report})
    return judge


def _infra_failures(report: dict[str, Any]) -> int:
    value = report.get("infra_failures", 0)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _bad(f"infra_failures must be a count, not {value!r}")
    return value


def eval_record_from_report(
    report: dict[str, Any], *, base_model_sha256: str, measured_at: str | None = None
) -> EvalRecord:
    """The registry's record of a harness report; InvalidArtifactError naming what is missing."""
    if not isinstance(report, dict):
        raise _bad("expected a JSON object (EvalReport.to_dict())")
    if report.get("interrupted"):
        raise InvalidArtifactError(
            f"the eval was interrupted after {report.get('tasks')} tasks: a partial eval is not recorded"
        )
    pass_at_k = _pass_at_k(report)
    n = report.get("n")
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise _bad(f"n must be a positive integer, not {n!r}")
    ks_raw = report.get("ks")
    if isinstance(ks_raw, list | tuple) and all(isinstance(k, int) and not isinstance(k, bool) for k in ks_raw):
        ks = tuple(int(k) for k in ks_raw)
    else:
        ks = tuple(int(k.split("@")[1]) for k in pass_at_k)
    dataset, dataset_sha = _dataset(report)
    return EvalRecord(
        pass_at_k=pass_at_k, n=n, ks=ks, tasks=_count(report), dataset=dataset, dataset_sha256=dataset_sha,
        sampling=_sampling(report), base_model_sha256=base_model_sha256, measured_at=measured_at or utc_now(),
        judge=_judge(report), infra_failures=_infra_failures(report),
    )  # fmt: skip


def eval_differences(a: EvalRecord, b: EvalRecord) -> list[str]:
    """Why the two evals are not the same measurement ("n 10 vs 5"); empty when they are comparable."""
    diffs = []
    if a.dataset_sha256 != b.dataset_sha256:
        diffs.append(
            f"dataset {a.dataset} sha256 {a.dataset_sha256[:12]} vs {b.dataset} sha256 {b.dataset_sha256[:12]}"
        )
    if a.tasks != b.tasks:
        diffs.append(f"tasks {a.tasks} vs {b.tasks}")
    if a.n != b.n:
        diffs.append(f"n {a.n} vs {b.n}")
    if a.base_model_sha256 != b.base_model_sha256:
        diffs.append(f"base model {a.base_model_sha256[:12]} vs {b.base_model_sha256[:12]}")
    for key in sorted(set(a.sampling) - {"n"} | set(b.sampling) - {"n"}):  # (n: compared above)
        if a.sampling.get(key) != b.sampling.get(key):
            diffs.append(f"{key} {a.sampling.get(key)} vs {b.sampling.get(key)}")
    for key in sorted(set(a.judge) | set(b.judge)):
        if a.judge.get(key) != b.judge.get(key):
            diffs.append(f"{key} {a.judge.get(key)} vs {b.judge.get(key)}")
    return diffs
