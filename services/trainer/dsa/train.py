"""A small DSA training driver: stage 1 (dense warm-up of the indexers), then stage 2 (sparse training).

`train_dsa` runs both stages on (B, T) token batches and scores the model before, between and after them
(`evaluate_dsa`: dense and sparse LM loss, indexer KL, top-k recall of the dense attention). Batches for
the bootstrap model come from the generated tasks (prompt + canonical solution) by `task_batches`.
"""

from __future__ import annotations

import itertools
import math
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any, TextIO

import torch
from torch import Tensor, nn

from ...lm.progress import Progress
from .attention import DSARuntime, dsa_handle
from .stages import DSAStageConfig, DSATrainingStageManager


@dataclass(frozen=True)
class StepRecord:
    stage: int
    step: int  # 1-based within its stage
    kl: float
    lm_loss: float | None  # stage 2
    recall: float | None  # stage 1
    step_s: float


@dataclass(frozen=True)
class DSAEval:
    """Scores on held-out batches (no gradients); the model's DSA switches are restored afterwards."""

    dense_lm_loss: float
    sparse_lm_loss: float  # the same batches through top-k attention
    kl: float  # indexer KL against the dense attention, over the causal keys (stage 1's loss)
    recall: float  # mean share of the dense attention mass on the indexer's top-k keys


@dataclass
class DSATrainReport:
    stage1_steps: int
    stage2_steps: int
    topk: int
    records: list[StepRecord] = field(default_factory=list)
    evals: dict[str, DSAEval] = field(default_factory=dict)  # "before", "after_stage1", "after_stage2"
    stage2_forced: bool = False

    def summary(self) -> dict[str, Any]:
        stage1 = [r for r in self.records if r.stage == 1]
        stage2 = [r for r in self.records if r.stage == 2]
        return {
            "stage1_steps": self.stage1_steps,
            "stage2_steps": self.stage2_steps,
            "topk": self.topk,
            "stage2_forced": self.stage2_forced,
            "stage1_kl_first": stage1[0].kl if stage1 else None,
            "stage1_kl_last": stage1[-1].kl if stage1 else None,
            "stage2_lm_loss_first": stage2[0].lm_loss if stage2 else None,
            "stage2_lm_loss_last": stage2[-1].lm_loss if stage2 else None,
            "evals": {name: asdict(e) for name, e in self.evals.items()},
        }


def _snapshot(runtime: DSARuntime) -> tuple[bool, bool, bool]:
    return runtime.sparse, runtime.collect_kl, runtime.detach_indexer_input


@torch.no_grad()
def evaluate_dsa(model: nn.Module, batches: Iterable[Tensor]) -> DSAEval:
    """Dense and sparse LM loss, indexer KL and top-k recall, averaged over `batches` of (B, T) ids."""
    runtime = dsa_handle(model).runtime
    saved = _snapshot(runtime)
    was_training = model.training
    model.eval()
    dense, sparse, kls, recalls = [], [], [], []
    try:
        for ids in batches:
            runtime.clear()
            runtime.sparse, runtime.collect_kl = False, True
            dense.append(float(model(input_ids=ids, labels=ids, use_cache=False).loss))
            kls.append(float(runtime.take_kl()))
            recalls.append(runtime.take_recall() or 0.0)
            runtime.sparse, runtime.collect_kl = True, False
            sparse.append(float(model(input_ids=ids, labels=ids, use_cache=False).loss))
    finally:
        runtime.sparse, runtime.collect_kl, runtime.detach_indexer_input = saved
        runtime.clear()
        model.train(was_training)
    if not dense:
        raise ValueError("evaluate_dsa needs at least one batch")

    def mean(xs: list[float]) -> float:
        return sum(xs) / len(xs)

    return DSAEval(dense_lm_loss=mean(dense), sparse_lm_loss=mean(sparse), kl=mean(kls), recall=mean(recalls))


def _run_stage(
    manager: DSATrainingStageManager,
    batches: Iterator[Tensor],
    *,
    steps: int,
    progress: TextIO | None,
    on_step: Callable[[StepRecord], None] | None,
) -> list[StepRecord]:
    stage = manager.stage
    what = "indexer KL" if stage == 1 else "LM loss"
    bar = Progress(total=steps, stream=progress, label=f"dsa stage {stage} ({what})")
    records: list[StepRecord] = []
    for step in range(1, steps + 1):
        ids = next(batches, None)
        if ids is None:
            raise ValueError(f"the batches ran out at stage {stage}, step {step} of {steps}")
        started = time.perf_counter()
        result = manager.step(ids)
        record = StepRecord(
            stage=stage,
            step=step,
            kl=result.kl,
            lm_loss=result.lm_loss,
            recall=result.recall,
            step_s=time.perf_counter() - started,
        )
        if not math.isfinite(record.kl) or (record.lm_loss is not None and not math.isfinite(record.lm_loss)):
            raise FloatingPointError(f"DSA stage {stage} step {step}: non-finite loss ({record})")
        records.append(record)
        if on_step is not None:
            on_step(record)
        bar.update(step, record.lm_loss if record.lm_loss is not None else record.kl)
    bar.close()
    return records


def train_dsa(
    model: nn.Module,
    batches: Iterable[Tensor],
    *,
    stage1_steps: int,
    stage2_steps: int,
    config: DSAStageConfig | None = None,
    manager: DSATrainingStageManager | None = None,
    eval_batches: list[Tensor] | None = None,
    force_stage2: bool = False,
    on_step: Callable[[StepRecord], None] | None = None,
    progress: TextIO | None = sys.stderr,
) -> DSATrainReport:
    """Stage 1 for `stage1_steps`, then stage 2 for `stage2_steps`, on (B, T) id batches from `batches`.

    The model must have DSA enabled. With `eval_batches`, `evaluate_dsa` scores it before, between and
    after the stages. stage1_steps=0 makes stage 2 refuse unless `force_stage2` (or an earlier warm-up).
    """
    if stage1_steps < 0 or stage2_steps < 0:
        raise ValueError("step counts must be >= 0")
    manager = manager or DSATrainingStageManager(model, config=config)
    handle = dsa_handle(model)
    report = DSATrainReport(stage1_steps=stage1_steps, stage2_steps=stage2_steps, topk=handle.config.topk)
    stream = iter(batches)
    model.train()
    if eval_batches:
        report.evals["before"] = evaluate_dsa(model, eval_batches)
    if stage1_steps:
        manager.apply_dsa_stage1_freeze()
        report.records += _run_stage(manager, stream, steps=stage1_steps, progress=progress, on_step=on_step)
        if eval_batches:
            report.evals["after_stage1"] = evaluate_dsa(model, eval_batches)
    if stage2_steps:
        report.stage2_forced = handle.warmup_steps == 0
        manager.apply_dsa_stage2_unfreeze(force=force_stage2)
        report.records += _run_stage(manager, stream, steps=stage2_steps, progress=progress, on_step=on_step)
        if eval_batches:
            report.evals["after_stage2"] = evaluate_dsa(model, eval_batches)
    model.eval()
    return report


def task_batches(tokenizer: Any, *, n_tasks: int, seed: int, batch_size: int, seq_len: int) -> Iterator[Tensor]:
    """Endless (batch_size, seq_len) id batches: generated tasks' prompt + canonical solution, packed
    (no padding) as the bootstrap model was trained."""
    from ...lm.bootstrap import packed_batches
    from ...lm.prompts import encode_texts
    from ...tasks import generate_tasks, training_text

    texts = [training_text(task) for task in generate_tasks(n_tasks, seed)]
    samples = encode_texts(tokenizer, texts, eos=True)
    yield from packed_batches(samples, batch_size, seq_len, seed)


def take(batches: Iterator[Tensor], n: int) -> list[Tensor]:
    return list(itertools.islice(batches, n))
