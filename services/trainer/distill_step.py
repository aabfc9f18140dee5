"""One distillation step (`method: distill`): the student policy learns a teacher's token distributions.

The texts are the `sft_data` rows (prompt, completion) when set, else the training tasks' prompt +
canonical solution. The completion tokens are the labels; both models see the same tokens:

- teacher mode (`teacher` set): a frozen model from its own dir (`distill.load_teacher`);
- DCD mode (`dcd=true`): the student sees only `<s>` + the last `dcd_student_context` prompt tokens,
  the teacher the whole prompt (with `teacher` empty: the student's own base, its adapter disabled).

Alignment: a row is prompt + completion; the logit that predicts completion token j sits at
position P + j - 1 of that row's own input (P its own prompt length), so student and teacher
logits gathered through their own `Batch.positions` predict the same completion token at index j,
however long each one's prompt is.
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from ..lm.prompts import encode_prompt
from ..tasks import Task
from .batch import Batch, Row, collate
from .config import TrainConfig, parse_feature_layers
from .distill import (
    IGNORE_INDEX,
    DistillationConfig,
    DistillationLoss,
    Teacher,
    capture_hidden,
    decoder_blocks,
    load_teacher,
)
from .lora import Policy
from .sft import load_sft_rows


@dataclass(frozen=True)
class DistillText:
    prompt: str
    completion: str


@dataclass(frozen=True)
class RowPair:
    teacher: Row  # the whole prompt + completion
    student: Row  # the student's (maybe shortened) prompt + the same completion
    truncated: bool  # the student's prompt is shorter than the teacher's


def distill_config(cfg: TrainConfig) -> DistillationConfig:
    return DistillationConfig(alpha=cfg.distill_alpha, temperature=cfg.distill_temperature,
                              feature_weight=cfg.distill_feature_weight,
                              feature_layers=parse_feature_layers(cfg.distill_feature_layers))  # fmt: skip


def distill_texts(cfg: TrainConfig, tasks: Sequence[Task]) -> list[DistillText]:
    """The sft_data rows when set, else each training task's prompt and canonical solution."""
    if cfg.sft_data:
        return [DistillText(r.prompt, r.completion) for r in load_sft_rows(cfg.sft_data)]
    texts = [DistillText(t.prompt, t.canonical_solution) for t in tasks if t.canonical_solution]
    if not texts:
        raise ValueError("no training task has a canonical solution to distil on (give sft_data)")
    return texts


def short_context(prompt_ids: list[int], context: int, bos_id: int | None) -> list[int]:
    """`<s>` + the last `context` tokens of the prompt (its own leading `<s>` not counted)."""
    head = [bos_id] if bos_id is not None else []
    body = prompt_ids[1:] if head and prompt_ids[:1] == head else prompt_ids
    return [*head, *body[-context:]]


def make_pair(tokenizer: Any, text: DistillText, *, max_gen_len: int, student_context: int | None) -> RowPair:
    """Teacher and student rows of one text; the student's prompt cut to `student_context` (None: whole)."""
    prompt_ids = encode_prompt(tokenizer, text.prompt)
    ids: list[int] = tokenizer(text.completion, add_special_tokens=False)["input_ids"]
    if tokenizer.eos_token_id is not None:
        ids = [*ids, tokenizer.eos_token_id]  # learn to stop, as SFT and the bootstrap corpus do
    ids = ids[: max(1, max_gen_len)]
    keep = [True] * len(ids)
    student_ids = prompt_ids
    if student_context is not None:
        student_ids = short_context(prompt_ids, student_context, tokenizer.bos_token_id)
    return RowPair(Row(prompt_ids, ids, keep, 0.0, 0.0), Row(student_ids, list(ids), list(keep), 0.0, 0.0),
                   truncated=len(student_ids) < len(prompt_ids))  # fmt: skip


def at_positions(values: Tensor, positions: Tensor) -> Tensor:
    """(B, L, D) values, (B, T) positions -> (B, T, D): the rows that predict each completion token."""
    index = positions.unsqueeze(-1).expand(-1, -1, values.shape[-1])  # (B, T, D)
    return torch.gather(values, 1, index)


def labels_of(batch: Batch) -> Tensor:
    """(B, T) the completion ids, IGNORE_INDEX where the mask is 0 (padding)."""
    return torch.where(batch.mask > 0, batch.completion_ids, torch.full_like(batch.completion_ids, IGNORE_INDEX))


@dataclass
class Outputs:
    logits: Tensor  # (B, T, V) at the completion positions
    hidden: list[Tensor]  # per chosen block: (B, T, H) at the same positions


def at_completion(logits: Tensor, hidden: dict[int, Tensor], batch: Batch, layers: Sequence[int]) -> Outputs:
    """Whole-sequence logits (B, L, V) and block outputs (B, L, H) cut to the completion positions."""
    return Outputs(at_positions(logits, batch.positions), [at_positions(hidden[i], batch.positions) for i in layers])


def forward_at_completion(model: Any, batch: Batch, layers: Sequence[int]) -> Outputs:
    """One forward of `model` on `batch`, its logits and the chosen blocks' hidden states gathered."""
    with capture_hidden(model, layers) as hidden:
        out = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask, use_cache=False)
    return at_completion(out.logits, hidden, batch, layers)


class DistillStep:
    """Same interface as SFTStep: `run(step)` -> metrics row, `position` (the text cursor), `close()`."""

    def __init__(self, cfg: TrainConfig, policy: Policy, optimizer: torch.optim.Optimizer, *, tasks: Sequence[Task],
                 rank: int = 0, world: int = 1) -> None:  # fmt: skip
        self.cfg, self.policy, self.optimizer = cfg, policy, optimizer
        self.loss_fn = DistillationLoss(distill_config(cfg))
        self.texts = distill_texts(cfg, tasks)
        self.order = list(range(len(self.texts)))
        random.Random(cfg.seed).shuffle(self.order)
        self.rank, self.world = rank, world
        self.position = 0
        self.teacher: Teacher | None = None
        if cfg.teacher:
            vocab = policy.model.get_output_embeddings().weight.shape[0]
            self.teacher = load_teacher(cfg.teacher, student_tokenizer=policy.tokenizer, device=policy.device,
                                        student_vocab_size=vocab)  # fmt: skip
        self._check_feature_blocks()

    def _check_feature_blocks(self) -> None:
        """Block indices and hidden sizes of the feature loss, checked before any step (and held-out scoring)."""
        config = self.loss_fn.config
        if not config.feature_on:
            return
        teacher_model = self.teacher.model if self.teacher is not None else self.policy.model
        for who, model, wanted in (("student", self.policy.model, config.student_layers),
                                   ("teacher", teacher_model, config.teacher_layers)):  # fmt: skip
            count = len(decoder_blocks(model))
            if max(wanted) >= count:
                raise ValueError(f"distill_feature_layers: {who} block {max(wanted)} out of range: the {who} has "
                                 f"{count} decoder blocks")  # fmt: skip
        sizes = [getattr(m.config, "hidden_size", None) for m in (self.policy.model, teacher_model)]
        if None not in sizes and sizes[0] != sizes[1]:
            raise ValueError(
                f"the feature loss compares hidden states of the same size: the student's are {sizes[0]}, the "
                f"teacher's {sizes[1]} (no projection is learned; set distill_feature_weight=0)"
            )

    @property
    def cursor_position(self) -> int:
        return self.position

    def _next_pairs(self) -> list[RowPair]:
        context = self.cfg.dcd_student_context if self.cfg.dcd else None
        pairs: list[RowPair] = []
        for _ in range(self.cfg.sft_batch_size):
            text = self.texts[self.order[(self.position * self.world + self.rank) % len(self.order)]]
            self.position += 1
            pairs.append(make_pair(self.policy.tokenizer, text, max_gen_len=self.cfg.max_gen_len,
                                   student_context=context))  # fmt: skip
        return pairs

    def _autocast(self) -> Any:
        use = self.cfg.bf16 and self.policy.device.type == "cuda"
        return torch.autocast("cuda", dtype=torch.bfloat16, enabled=use)

    def _teacher_outputs(self, batch: Batch) -> Outputs:
        layers = self.loss_fn.config.teacher_layers
        if self.teacher is not None:
            logits, hidden = self.teacher.forward(batch.input_ids, batch.attention_mask, layers)
            return at_completion(logits, hidden, batch, layers)
        with torch.no_grad(), self.policy.reference_model() as model:  # DCD: the own base, adapter disabled
            return forward_at_completion(model, batch, layers)

    def run(self, step: int) -> dict[str, Any]:
        from . import distributed

        started = time.perf_counter()
        params = self.policy.trainable_parameters()
        self.optimizer.zero_grad(set_to_none=True)
        terms: dict[str, list[float]] = {"loss": [], "kl": [], "ce": [], "feature": []}
        tokens = samples = truncated = 0
        pad = self.policy.tokenizer.pad_token_id
        for _ in range(self.cfg.grad_accum):
            pairs = self._next_pairs()
            teacher_batch = collate([p.teacher for p in pairs], pad).to(self.policy.device)
            student_batch = collate([p.student for p in pairs], pad).to(self.policy.device)
            with self._autocast():
                teacher = self._teacher_outputs(teacher_batch)
                student = forward_at_completion(self.policy.model, student_batch, self.loss_fn.config.student_layers)
            result = self.loss_fn(student.logits, teacher.logits, labels_of(student_batch), student_batch.mask,
                                  student.hidden, teacher.hidden)  # fmt: skip
            (result.total / self.cfg.grad_accum).backward()
            terms["loss"].append(float(result.total.detach()))
            terms["kl"].append(float(result.kl.detach()))
            terms["ce"].append(float(result.ce.detach()))
            if result.feature is not None:
                terms["feature"].append(float(result.feature.detach()))
            tokens += result.tokens
            samples += len(pairs)
            truncated += sum(p.truncated for p in pairs)
        distributed.average_gradients(params)
        clip = self.cfg.grad_clip if self.cfg.grad_clip > 0 else float("inf")
        norm = float(torch.nn.utils.clip_grad_norm_(params, clip))
        self.optimizer.step()
        row: dict[str, Any] = {"step": step + 1}
        row.update({name: sum(values) / len(values) for name, values in terms.items() if values})
        row.update({"tokens": tokens, "grad_norm": norm, "step_s": time.perf_counter() - started, "samples": samples,
                    "dropped": 0, "discarded": 0})  # fmt: skip
        if self.cfg.dcd:
            row["truncated"] = truncated  # samples whose prompt the student saw shortened
        return row

    def close(self) -> None:
        self.teacher = None  # free the teacher's weights with the step
