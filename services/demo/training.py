"""The demo's GSPO job on the trainer service: submitted over HTTP, followed step by step until it ends.

Its overrides name the stack's inference and verifier services, so the rollouts are sampled by the
inference service (the adapter pushed to it through /v1/adapters) and the rewards judged by the
verifier's batch endpoint; summary.json's `rollouts`/`rewards` say "http" when that is what ran.
No CCCS prefix: with one the bootstrap model passes every sample and DAPO drops every group.
The trainer has no typed client (its API is three calls), hence plain httpx here.
"""

from __future__ import annotations

import time
from typing import Any

import httpx

from .printing import Progress, rate, table
from .summary import JobOutcome

ENDED = ("succeeded", "failed", "cancelled")


class JobFailed(Exception):
    """The job did not succeed, or the trainer service answered with an error."""


def job_overrides(
    *, verifier_url: str, inference_url: str, steps: int, heldout_tasks: int, lr: float | None = None
) -> dict[str, Any]:
    """A job of a minute or two on 2 CPU cores (group 4 x 2 prompts a step, 64 tokens)."""
    return ({"lr": lr} if lr is not None else {}) | {
        "steps": steps, "group_size": 4, "prompts_per_step": 2, "max_gen_len": 64, "num_tasks": 40,
        "dapo_max_refills": 4, "cccs": False, "heldout_tasks": heldout_tasks, "heldout_samples": 2,
        "verifier_url": verifier_url, "inference_url": inference_url, "sync_every": 1,
    }  # fmt: skip


def _answer(response: httpx.Response, what: str) -> dict[str, Any]:
    if response.status_code >= 400:
        raise JobFailed(f"{what}: HTTP {response.status_code}: {response.text[:500]}")
    body: dict[str, Any] = response.json()
    return body


def run_job(
    http: httpx.Client, overrides: dict[str, Any], progress: Progress, *, model: str | None, timeout_s: float
) -> JobOutcome:
    body: dict[str, Any] = {"recipe": "production", "overrides": overrides}
    if model:
        body["model"] = model
    job = _answer(http.post("/v1/jobs", json=body), "POST /v1/jobs")
    job_id = str(job["id"])
    progress.line(f"job {job_id} queued (recipe production: GSPO + LoRA); out dir {job['out_dir']}")
    widths = [["step", "reward_mean", "compile_rate", "pass_rate", "step_s"]]
    progress.line(table(widths))
    rows: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout_s
    status = str(job["status"])
    while True:
        since = rows[-1]["step"] if rows else None
        params = {"since": since} if since is not None else {}
        new = _answer(http.get(f"/v1/jobs/{job_id}/metrics", params=params), "GET metrics")["data"]
        for row in new:
            rows.append(row)
            progress.line(f"{row['step']:>4}  {_f(row.get('reward_mean')):>11}  {rate(row.get('compile_rate')):>12}  "
                          f"{rate(row.get('pass_rate')):>9}  {row.get('step_s', 0.0):>6.1f}")  # fmt: skip
        if status in ENDED:
            break
        if time.monotonic() > deadline:
            http.delete(f"/v1/jobs/{job_id}")
            raise JobFailed(f"job {job_id} did not finish within {timeout_s:.0f} s (cancelled)")
        time.sleep(1.0)
        job = _answer(http.get(f"/v1/jobs/{job_id}"), "GET job")
        status = str(job["status"])
    if status != "succeeded":
        raise JobFailed(f"job {job_id} {status}: {job.get('error') or 'no error recorded'}")
    if not job.get("registry_name"):
        raise JobFailed(f"job {job_id} succeeded but its adapter was not registered: {job.get('registry_warning')}")
    progress.line("(a few steps barely move a LoRA: the loop is the point here; `make train-demo` trains 8 minutes)")
    return _outcome(job, rows)


def _f(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _outcome(job: dict[str, Any], rows: list[dict[str, Any]]) -> JobOutcome:
    summary: dict[str, Any] = job.get("summary") or {}
    rewards = [r["reward_mean"] for r in rows if r.get("reward_mean") is not None]
    return JobOutcome(
        id=str(job["id"]), steps=int(summary.get("steps", len(rows))),
        reward_first=rewards[0] if rewards else None, reward_last=rewards[-1] if rewards else None,
        compile_rate_before=summary.get("compile_rate_before"), compile_rate_after=summary.get("compile_rate_after"),
        pass_rate_before=summary.get("pass_rate_before"), pass_rate_after=summary.get("pass_rate_after"),
        rollouts=str(summary.get("rollouts")), rewards=str(summary.get("rewards")),
        registry_name=str(job["registry_name"]), out_dir=str(job["out_dir"]),
        reward_curve_png=summary.get("reward_curve_png"),
    )  # fmt: skip
