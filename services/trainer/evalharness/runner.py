"""`evaluate`: n samples per task, each judged by the verifier, pass@k over the tasks, and the outputs.

Problems are sampled a batch at a time; a batch's programs are verified while the next batch is being
generated. Each task's rows go to results.jsonl as soon as its verdicts are in (flushed), so an
interrupted run keeps them, and summary.json is then written for the tasks finished so far
(`"interrupted": true`). A sample the verifier could not judge (error_class "infra") is reported,
warned about and counted, and left out of that task's n and c: an outage never lowers pass@k.
"""

from __future__ import annotations

import concurrent.futures
import json
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal, TextIO

from ...tasks.problems import Problem, load_problems
from .config import DEFAULT_TASKS, EvalConfig
from .judges import Judge, Judgement, VerifyOptions, make_judge
from .passk import mean_pass_at_k
from .progress import EvalProgress
from .report import PLOT_FILE, RESULTS_FILE, EvalReport, TaskCount, file_sha256, plot_pass_at_k, write_summary
from .samplers import Completion, HttpSampler, LocalSampler, Sampler

MAX_INFRA_NOTES = 5
INTERRUPT_GRACE_S = 2.0


class EvalInfraError(RuntimeError):
    """The infrastructure failed (no sandbox, a service down, nothing judged): the CLI's exit 1."""


@dataclass
class _Tally:
    counts: list[TaskCount] = field(default_factory=list)
    classes: Counter[str] = field(default_factory=Counter)
    infra_notes: int = 0

    @property
    def samples(self) -> int:
        return sum(t.judged + t.infra for t in self.counts)

    @property
    def passed(self) -> int:
        return sum(t.passed for t in self.counts)


def evaluate(
    *,
    tasks_path: str | Path = DEFAULT_TASKS,
    model_path: str | Path | None = None,
    adapter_dir: str | Path | None = None,
    n: int = 10,
    ks: Sequence[int] = (1, 5),
    out_dir: str | Path | None = None,
    inference_url: str = "",
    model_name: str | None = None,
    api_key: str = "",
    verifier_url: str = "",
    temperature: float = 0.8,
    top_p: float = 0.95,
    max_tokens: int = 512,
    seed: int = 0,
    limit: int | None = None,
    progress: TextIO | Literal["stderr"] | None = "stderr",
    std: str = "c++17",
    timeout_s: float = 10.0,
    workers: int = 2,
    threads: int = 1,
    trim_prompt_newline: bool = True,
) -> EvalReport:
    """pass@k of a model on a HumanEval-X or MultiPL-E file; see the module docstring.

    Raises ValueError for bad arguments or a bad problem file (before anything runs), EvalInfraError
    when the sandbox or a service is unavailable or nothing could be judged, KeyboardInterrupt after
    saving what was done. `progress`: a stream for the progress line ("stderr": sys.stderr), or None.
    """
    cfg = EvalConfig(
        tasks_path=Path(tasks_path), model_path=str(model_path) if model_path else None,
        adapter_dir=str(adapter_dir) if adapter_dir else None, n=n, ks=tuple(ks),
        out_dir=Path(out_dir) if out_dir is not None else None, inference_url=inference_url, model_name=model_name,
        api_key=api_key, verifier_url=verifier_url, temperature=temperature, top_p=top_p, max_tokens=max_tokens,
        seed=seed, limit=limit, std=std, timeout_s=timeout_s, workers=workers, threads=threads,
        trim_prompt_newline=trim_prompt_newline,
    )  # fmt: skip
    stream = sys.stderr if progress == "stderr" else progress
    assert stream is None or not isinstance(stream, str)
    return run_eval(cfg, progress=stream)


def load_eval_problems(cfg: EvalConfig) -> list[Problem]:
    problems = load_problems(cfg.tasks_path)  # TaskFileError is a ValueError naming file:line
    return problems[: cfg.limit] if cfg.limit is not None else problems


def check_verifier(verifier_url: str) -> None:
    """Fail early (EvalInfraError) when nothing can judge: no sandbox here, or the verifier service down."""
    if verifier_url:
        from ...common.errors import ServiceError
        from ...verifier.client import VerifierClient

        try:
            with VerifierClient(verifier_url, max_retries=1) as client:
                client.health()
        except ServiceError as exc:
            raise EvalInfraError(f"verifier service at {verifier_url}: {exc}") from None
        return
    from ...verifier.core.sandbox import SandboxUnavailableError
    from ...verifier.core.verify import VerifierConfig, sandbox_mode

    try:
        sandbox_mode(VerifierConfig.from_settings())
    except SandboxUnavailableError as exc:
        raise EvalInfraError(str(exc)) from None


def check_inference(url: str) -> None:
    """Fail early (EvalInfraError) when the inference service does not answer its health check."""
    from ...common.errors import ServiceError
    from ...inference.client import InferenceClient

    try:
        with InferenceClient(url, max_retries=1) as client:
            client.health()
    except ServiceError as exc:
        raise EvalInfraError(f"inference service at {url}: {exc}") from None


def open_sampler(cfg: EvalConfig) -> tuple[Sampler, str]:
    """The sampler and the model's name for the report."""
    spec = cfg.sampling()
    if cfg.inference_url:
        check_inference(cfg.inference_url)
        sampler = HttpSampler(cfg.inference_url, spec, model_name=cfg.model_name, api_key=cfg.api_key)
        return sampler, cfg.model_name or f"{cfg.inference_url} (served default)"
    from ...lm.bootstrap import ensure_bootstrap_model
    from ...lm.model import load_model

    path = Path(cfg.model_path).expanduser() if cfg.model_path else ensure_bootstrap_model()
    return LocalSampler(load_model(path, adapter=cfg.adapter_dir), spec, threads=cfg.threads), str(path)


def run_eval(cfg: EvalConfig, *, progress: TextIO | None, judge: Judge | None = None,
             sampler: Sampler | None = None) -> EvalReport:  # fmt: skip
    """`evaluate` on a checked config; `judge`/`sampler` replace the ones the config names (tests)."""
    started = time.perf_counter()
    problems = load_eval_problems(cfg)
    if judge is None:
        check_verifier(cfg.verifier_url)
    model = cfg.model_name or cfg.model_path or ""
    if sampler is None:
        sampler, model = open_sampler(cfg)
    judge = judge or make_judge(cfg.verifier_url, VerifyOptions(std=cfg.std, timeout_s=cfg.timeout_s), cfg.workers)
    out_dir = cfg.out_dir
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
    bar = EvalProgress(len(problems), progress)
    bar.note(f"{len(problems)} tasks x n={cfg.n} from {cfg.tasks_path}; model {model}")
    tally = _Tally()
    interrupted = True
    results = (out_dir / RESULTS_FILE).open("w", encoding="utf-8") if out_dir is not None else None
    try:
        _sample_and_judge(problems, sampler, judge, tally=tally, results=results, bar=bar)
        interrupted = False
    except Exception as exc:
        from ...common.errors import RequestRefusedError, ServiceError

        if isinstance(exc, RequestRefusedError):
            raise ValueError(f"the inference service refused the request: {exc}") from None
        if isinstance(exc, ServiceError):
            raise EvalInfraError(f"inference service at {cfg.inference_url}: {exc}") from None
        raise
    finally:
        bar.close()
        if results is not None:
            results.close()
        sampler.close()
        judge.close()
        wall_s = time.perf_counter() - started
        report = _report(cfg, problems, tally, model=model, wall_s=wall_s, interrupted=interrupted)
        if out_dir is not None:
            report.out_dir = str(out_dir)
            write_summary(report, out_dir)
            plot_pass_at_k(report, out_dir / PLOT_FILE)
    if tally.samples and report.judged == 0:
        raise EvalInfraError(f"the verifier judged none of the {tally.samples} samples (see error_class 'infra')")
    return report


def _sample_and_judge(problems: Sequence[Problem], sampler: Sampler, judge: Judge, *, tally: _Tally,
                      results: IO[str] | None, bar: EvalProgress) -> None:  # fmt: skip
    Pending = tuple[Problem, list[Completion], "concurrent.futures.Future[list[Judgement]]"]
    pending: list[Pending] = []

    def collect(keep: int) -> None:
        while len(pending) > keep:
            problem, drawn, future = pending.pop(0)
            _record(problem, drawn, future.result(), tally=tally, results=results, bar=bar)
            bar.update(len(tally.counts), tally.samples, tally.passed)

    step = max(1, sampler.tasks_per_call)
    with concurrent.futures.ThreadPoolExecutor(max_workers=step, thread_name_prefix="eval-judge") as pool:
        try:
            for start in range(0, len(problems), step):
                chunk = list(enumerate(problems[start : start + step], start))
                for (_, problem), drawn in zip(chunk, sampler.sample(chunk), strict=True):
                    codes = [problem.program(problem.completion(c.text, c.stopped_by))[0] for c in drawn]
                    test = problem.program("")[1]
                    pending.append((problem, drawn, pool.submit(judge.judge, codes, test, problem.libraries)))
                collect(keep=len(chunk))  # the earlier batch's verdicts; this batch verifies while the next decodes
            collect(keep=0)
        except BaseException:
            # Interrupted (or failed) while the next batch was sampled: keep the verdicts of the earlier
            # batch that arrive within a short grace, in order; drop the rest.
            concurrent.futures.wait([f for *_, f in pending], timeout=INTERRUPT_GRACE_S)
            while pending and pending[0][2].done() and not pending[0][2].cancelled():
                if pending[0][2].exception() is not None:
                    break
                collect(keep=len(pending) - 1)
            for *_, future in pending:
                future.cancel()
            judge.close()  # drop queued verifications, so leaving the pool waits only for those running
            raise


def _record(problem: Problem, drawn: Sequence[Completion], verdicts: Sequence[Judgement], *, tally: _Tally,
            results: IO[str] | None, bar: EvalProgress) -> None:  # fmt: skip
    for j, (sample, verdict) in enumerate(zip(drawn, verdicts, strict=True)):
        tally.classes[verdict.error_class] += 1
        if results is not None:
            row: dict[str, Any] = {
                "task_id": problem.task_id,
                "sample": j,
                "completion": problem.completion(sample.text, sample.stopped_by),
                "error_class": verdict.error_class,
                "compiled": verdict.compiled,
                "passed": verdict.passed,
                "seed": sample.seed,
                "detail": verdict.detail,
            }
            results.write(json.dumps(row, ensure_ascii=False) + "\n")
    if results is not None:
        results.flush()
    infra = [v for v in verdicts if v.infra]
    judged = [v for v in verdicts if not v.infra]
    if infra:
        tally.infra_notes += 1
        if tally.infra_notes <= MAX_INFRA_NOTES:
            bar.note(f"warning: {problem.task_id}: {len(infra)} sample(s) not judged, left out of pass@k "
                     f"(verifier infrastructure: {infra[0].detail})")  # fmt: skip
        elif tally.infra_notes == MAX_INFRA_NOTES + 1:
            bar.note("warning: more tasks with samples the verifier could not judge; see infra_failures")
    tally.counts.append(TaskCount(task_id=problem.task_id, judged=len(judged), passed=sum(v.passed for v in judged),
                                  compiled=sum(v.compiled for v in judged), infra=len(infra)))  # fmt: skip


def _report(cfg: EvalConfig, problems: Sequence[Problem], tally: _Tally, *, model: str, wall_s: float,
            interrupted: bool) -> EvalReport:  # fmt: skip
    counts = [(t.judged, t.passed) for t in tally.counts]
    judged = sum(t.judged for t in tally.counts)
    table: dict[str, float | None] = {}
    short: dict[str, int] = {}
    for k in cfg.ks:
        table[f"pass@{k}"], short[f"pass@{k}"] = mean_pass_at_k(counts, k)
    return EvalReport(
        pass_at_k=table, n=cfg.n, ks=cfg.ks, tasks=len(tally.counts), samples=tally.samples, judged=judged,
        infra_failures=tally.samples - judged,
        compile_rate=sum(t.compiled for t in tally.counts) / judged if judged else None,
        pass_rate=tally.passed / judged if judged else None,
        error_classes=dict(sorted(tally.classes.items())), tasks_short=short, wall_s=wall_s,
        dataset=str(cfg.tasks_path), dataset_sha256=file_sha256(Path(cfg.tasks_path)),
        dataset_format=problems[0].format, model=model, adapter=cfg.adapter_dir, inference_url=cfg.inference_url,
        verifier_url=cfg.verifier_url, sampling=_sampling_dict(cfg, problems), std=cfg.std, timeout_s=cfg.timeout_s,
        interrupted=interrupted, per_task=list(tally.counts),
    )  # fmt: skip


def _sampling_dict(cfg: EvalConfig, problems: Sequence[Problem]) -> dict[str, Any]:
    return {
        "n": cfg.n, "temperature": cfg.temperature, "top_p": cfg.top_p, "max_tokens": cfg.max_tokens,
        "seed": cfg.seed, "seeds": "seed + task_position * n + sample", "trim_prompt_newline": cfg.trim_prompt_newline,
        "stop": sorted({s for p in problems for s in p.stop}), "limit": cfg.limit,
    }  # fmt: skip
