"""The demo's results: one typed record per step, the final summary printed and written as summary.json."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .printing import rate

SUMMARY_FILE = "summary.json"


@dataclass(frozen=True)
class VerifyRow:
    label: str
    kind: str  # correct | wrong | broken | hangs | think | hack
    error_class: str
    tests_passed: int
    tests_total: int
    reward: float
    seconds: float


@dataclass(frozen=True)
class BestOfRow:
    task_id: str
    compiling: int  # candidates the verifier compiled (the dev tier's compile scorer)
    n: int
    scorer: str
    picked_reward: float  # the ranking's reward of the picked candidate
    picked_compiles: bool  # the picked program, judged with the task's tests through /v1/reward
    picked_tests: str  # "passed/total" of that judgement
    seconds: float


@dataclass(frozen=True)
class JobOutcome:
    id: str
    steps: int
    reward_first: float | None
    reward_last: float | None
    compile_rate_before: float | None
    compile_rate_after: float | None
    pass_rate_before: float | None
    pass_rate_after: float | None
    rollouts: str  # "http": sampled by the inference service
    rewards: str  # "http": judged by the verifier service
    registry_name: str
    out_dir: str
    reward_curve_png: str | None


@dataclass(frozen=True)
class EvalOutcome:
    model: str
    pass_at_k: dict[str, float | None]
    compile_rate: float | None
    tasks: int
    n: int
    out_dir: str
    pass_at_k_png: str | None


@dataclass(frozen=True)
class PromotionOutcome:
    name: str
    promoted: bool
    message: str  # the registry's own words: the promotion, or the refusal with its numbers

    def headline(self) -> str:
        if self.promoted:
            return f"PROMOTED: {self.message}"
        return f"REFUSED: {self.message.removeprefix('refused: ')}"


@dataclass
class DemoSummary:
    verify: list[VerifyRow]
    best_of: list[BestOfRow]
    job: JobOutcome
    base_eval: EvalOutcome
    adapter_eval: EvalOutcome
    promotion: PromotionOutcome
    registry_entry: str  # the adapter's directory in the registry
    step_s: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def write(self, out_dir: Path) -> Path:
        path = out_dir / SUMMARY_FILE
        path.write_text(json.dumps(self.to_dict(), indent=1) + "\n")
        return path

    def lines(self) -> list[str]:
        """The final summary: the figures of every step, then where the files are."""
        hacks = [r for r in self.verify if r.kind == "hack"]
        full = [r for r in self.verify if r.tests_total and r.tests_passed == r.tests_total]
        picks = sum(r.picked_compiles for r in self.best_of)
        job, base, tuned = self.job, self.base_eval, self.adapter_eval
        ks = sorted({*base.pass_at_k, *tuned.pass_at_k}, key=lambda k: int(k.split("@")[1]))
        passk = ", ".join(f"{k} {_num(base.pass_at_k.get(k))} -> {_num(tuned.pass_at_k.get(k))}" for k in ks)
        return [
            f"verify:     {len(self.verify)} candidates; {len(full)} passed every test "
            f"({', '.join(r.label for r in full)}); {sum(r.tests_passed == 0 for r in hacks)}/{len(hacks)} "
            "hacks earned no test credit",
            f"best-of-{self.best_of[0].n if self.best_of else 4}: the picked candidate compiles on {picks}/"
            f"{len(self.best_of)} prompts, {sum(r.compiling for r in self.best_of)}/{sum(r.n for r in self.best_of)} "
            f"candidates compile (scorer: {', '.join(sorted({r.scorer for r in self.best_of}))})",
            f"GSPO job:   {job.steps} steps, reward {_num(job.reward_first)} -> {_num(job.reward_last)}; held-out "
            f"compile {rate(job.compile_rate_before)} -> {rate(job.compile_rate_after)}, pass "
            f"{rate(job.pass_rate_before)} -> {rate(job.pass_rate_after)} (rollouts: {job.rollouts}, rewards: "
            f"{job.rewards})",
            f"eval:       base -> adapter {passk} ({tuned.tasks} tasks, n={tuned.n})",
            f"promotion:  {self.promotion.headline()}",
            "            (either outcome is the registry's gate at work: it compares with the active adapter)",
            "",
            f"reward curve:   {job.reward_curve_png or '- (no PNG: matplotlib missing?)'}",
            f"pass@k plot:    {tuned.pass_at_k_png or '-'} (base: {base.pass_at_k_png or '-'})",
            f"job dir:        {job.out_dir}",
            f"registry entry: {job.registry_name} at {self.registry_entry}",
            "step times:     " + ", ".join(f"{k} {v:.0f} s" for k, v in self.step_s.items()),
        ]


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"
