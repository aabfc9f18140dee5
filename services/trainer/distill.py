"""Knowledge distillation: the loss, hidden-state capture by forward hooks, and a frozen teacher.

`DistillationLoss` is Hinton et al.'s soft-target loss (arXiv 1503.02531) with a hard cross-entropy
term and an optional cosine loss on hidden states:

    total = alpha * T^2 * KL(softmax(teacher / T) || softmax(student / T))
          + (1 - alpha) * CE(student, labels)
          + feature_weight * mean over chosen blocks of (1 - cos(student_h, teacher_h))

The T^2 factor is the paper's (section 2): the gradients of the soft term scale as 1/T^2, so
multiplying by T^2 keeps its weight against the hard term the same whatever T is. Every term is a
mean over the real tokens only (mask 1 and label not -100), computed in float32 whatever the
logits' dtype. The reported `kl` is the plain KL of the tempered distributions (without T^2).

Shapes: B sequences, T completion tokens (positions already aligned: student and teacher logits at
index t both predict label t), V vocabulary, H hidden size. Hidden sizes must match when the
feature loss is on: a learned projection would be a second set of trainable weights outside the
adapter (saved, resumed and served apart), so a mismatch is a clear error instead; the teacher
preset keeps the student's hidden size for that reason.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

IGNORE_INDEX = -100  # labels equal to this count in no term (the HF / PyTorch convention)


@dataclass(frozen=True)
class DistillationConfig:
    alpha: float = 0.5  # weight of the soft (KL) term; 1 - alpha on the hard cross-entropy
    temperature: float = 2.0  # T of both softmaxes; the KL is scaled by T^2
    feature_weight: float = 0.0  # weight of the cosine feature loss (0: off)
    feature_layers: tuple[tuple[int, int], ...] = ()  # (student block, teacher block) pairs

    def __post_init__(self) -> None:
        if not 0.0 <= self.alpha <= 1.0:
            raise ValueError(f"alpha must be in [0, 1], not {self.alpha}")
        if not self.temperature > 0:
            raise ValueError(f"temperature must be > 0, not {self.temperature}")
        if not self.feature_weight >= 0:
            raise ValueError(f"feature_weight must be >= 0, not {self.feature_weight}")
        if self.feature_weight > 0 and not self.feature_layers:
            raise ValueError("the feature loss (feature_weight > 0) needs feature_layers")
        if any(s < 0 or t < 0 for s, t in self.feature_layers):
            raise ValueError(f"feature_layers must be block indices >= 0, not {self.feature_layers}")

    @property
    def feature_on(self) -> bool:
        return self.feature_weight > 0

    @property
    def student_layers(self) -> tuple[int, ...]:
        """The student's blocks to hook (none while the feature loss is off)."""
        return tuple(s for s, _ in self.feature_layers) if self.feature_on else ()

    @property
    def teacher_layers(self) -> tuple[int, ...]:
        """The teacher's blocks to hook (none while the feature loss is off)."""
        return tuple(t for _, t in self.feature_layers) if self.feature_on else ()


@dataclass(frozen=True)
class DistillationResult:
    total: Tensor  # () the loss to minimise (carries the student's graph)
    kl: Tensor  # () KL(teacher/T || student/T) per real token, before the T^2 factor
    ce: Tensor  # () cross-entropy of the labels under the student (T = 1) per real token
    feature: Tensor | None  # () mean 1 - cos over the chosen blocks; None when the feature loss is off
    tokens: int  # real tokens the means are over


def real_tokens(labels: Tensor, mask: Tensor) -> Tensor:
    """(B, T) bool: tokens that count: mask set (not padding) and a label that is not IGNORE_INDEX."""
    return mask.bool() & (labels != IGNORE_INDEX)


def masked_mean(values: Tensor, keep: Tensor) -> Tensor:
    """Mean of (B, T) `values` where `keep`; 0 when nothing is kept. Values elsewhere may be inf or nan."""
    picked = torch.where(keep, values, torch.zeros_like(values))  # never 0 * nan
    return picked.sum() / keep.sum().clamp(min=1)


def soft_kl(student_logits: Tensor, teacher_logits: Tensor, temperature: float) -> Tensor:
    """(B, T) KL(softmax(teacher / T) || softmax(student / T)) per token, in float32."""
    log_p_student = torch.log_softmax(student_logits.float() / temperature, dim=-1)  # (B, T, V)
    log_p_teacher = torch.log_softmax(teacher_logits.float() / temperature, dim=-1)  # (B, T, V)
    # sum_v p_t (log p_t - log p_s); kl_div with log_target handles p_t = 0 (its term is 0, not nan)
    per_class = torch.nn.functional.kl_div(log_p_student, log_p_teacher, reduction="none", log_target=True)
    return per_class.sum(dim=-1)  # (B, T)


def hard_ce(student_logits: Tensor, labels: Tensor) -> Tensor:
    """(B, T) -log softmax(student)[label] per token, in float32 (IGNORE_INDEX labels give 0)."""
    log_p = torch.log_softmax(student_logits.float(), dim=-1)  # (B, T, V)
    safe = labels.clamp(min=0)  # -100 would index out of range; those tokens are masked by the caller
    picked = log_p.gather(-1, safe.unsqueeze(-1)).squeeze(-1)  # (B, T)
    return torch.where(labels == IGNORE_INDEX, torch.zeros_like(picked), -picked)


def cosine_distance(student_h: Tensor, teacher_h: Tensor) -> Tensor:
    """(B, T) 1 - cos(student_h, teacher_h) over the hidden axis, in float32; ValueError on other sizes."""
    if student_h.shape[-1] != teacher_h.shape[-1]:
        raise ValueError(
            f"the feature loss compares hidden states of the same size: the student's blocks have "
            f"{student_h.shape[-1]}, the teacher's {teacher_h.shape[-1]} (no projection is learned; "
            f"turn the feature loss off or distil from a teacher of hidden size {student_h.shape[-1]})"
        )
    cos = torch.nn.functional.cosine_similarity(student_h.float(), teacher_h.float(), dim=-1, eps=1e-8)
    return 1.0 - cos


class DistillationLoss:
    """Callable: (student_logits, teacher_logits, labels, mask[, student_hidden, teacher_hidden]) -> result."""

    def __init__(self, config: DistillationConfig | None = None) -> None:
        self.config = config or DistillationConfig()

    def __call__(
        self,
        student_logits: Tensor,  # (B, T, V)
        teacher_logits: Tensor,  # (B, T, V)
        labels: Tensor,  # (B, T) long; IGNORE_INDEX where nothing is learned
        mask: Tensor,  # (B, T) 1 on real tokens, 0 on padding
        student_hidden: Sequence[Tensor] | None = None,  # per chosen block: (B, T, H)
        teacher_hidden: Sequence[Tensor] | None = None,  # per chosen block: (B, T, H)
    ) -> DistillationResult:
        cfg = self.config
        if student_logits.shape[-1] != teacher_logits.shape[-1]:
            raise ValueError(
                f"student and teacher vocabularies differ: {student_logits.shape[-1]} vs "
                f"{teacher_logits.shape[-1]} logits per token"
            )
        if student_logits.shape != teacher_logits.shape or student_logits.shape[:2] != labels.shape:
            raise ValueError(
                f"logits (B, T, V) of both models and labels (B, T) expected, got {tuple(student_logits.shape)}, "
                f"{tuple(teacher_logits.shape)} and {tuple(labels.shape)}"
            )
        if mask.shape != labels.shape:
            raise ValueError(f"mask {tuple(mask.shape)} must have the labels' shape {tuple(labels.shape)}")
        keep = real_tokens(labels, mask)  # (B, T)
        temperature = cfg.temperature
        kl = masked_mean(soft_kl(student_logits, teacher_logits.detach(), temperature), keep)
        ce = masked_mean(hard_ce(student_logits, labels), keep)
        total = cfg.alpha * temperature**2 * kl + (1.0 - cfg.alpha) * ce
        feature = None
        if cfg.feature_on:
            feature = self._feature(student_hidden, teacher_hidden, keep)
            total = total + cfg.feature_weight * feature
        return DistillationResult(total=total, kl=kl, ce=ce, feature=feature, tokens=int(keep.sum()))

    def _feature(self, student: Sequence[Tensor] | None, teacher: Sequence[Tensor] | None, keep: Tensor) -> Tensor:
        wanted = len(self.config.feature_layers)
        if student is None or teacher is None or len(student) != wanted or len(teacher) != wanted:
            raise ValueError(f"the feature loss needs the hidden states of {wanted} block(s) of each model")
        terms = [masked_mean(cosine_distance(s, t.detach()), keep) for s, t in zip(student, teacher, strict=True)]
        return torch.stack(terms).mean()


# -- hidden states by forward hooks --------------------------------------------------------------

_BLOCK_LISTS = ("layers", "h", "blocks")  # Llama/Mistral/Qwen, GPT-2/Falcon, Mamba/others


def decoder_blocks(model: Any) -> torch.nn.ModuleList:
    """The model's list of decoder blocks (also through a PEFT wrapper); ValueError when there is none."""
    found = [
        (name, module)
        for name, module in model.named_modules()
        if isinstance(module, torch.nn.ModuleList) and name.rsplit(".", 1)[-1] in _BLOCK_LISTS and len(module)
    ]
    if not found:
        raise ValueError(f"no decoder blocks (a ModuleList named one of {', '.join(_BLOCK_LISTS)}) in the model")
    return min(found, key=lambda item: item[0].count("."))[1]  # the outermost: a block may hold lists too


@contextlib.contextmanager
def capture_hidden(model: Any, layers: Sequence[int]) -> Iterator[dict[int, Tensor]]:
    """Hidden states (B, L, H) leaving the decoder blocks `layers`, filled in by the forwards run inside.

    The hooks are removed in `finally`: no hook outlives the block, even when the forward raises.
    An index past the last block is a ValueError naming the number of blocks.
    """
    captured: dict[int, Tensor] = {}
    if not layers:
        yield captured
        return
    blocks = decoder_blocks(model)
    bad = [i for i in layers if not 0 <= i < len(blocks)]
    if bad:
        raise ValueError(f"block index {bad[0]} out of range: the model has {len(blocks)} decoder blocks")
    handles = []
    try:
        for index in dict.fromkeys(layers):
            handles.append(blocks[index].register_forward_hook(_store(captured, index)))
        yield captured
    finally:
        for handle in handles:
            handle.remove()


def _store(captured: dict[int, Tensor], index: int) -> Any:
    def hook(module: Any, args: Any, output: Any) -> None:
        # transformers 5 blocks return the hidden states; older ones (and other families) a tuple
        captured[index] = output[0] if isinstance(output, tuple) else output

    return hook


# -- the teacher -----------------------------------------------------------------------------


@dataclass
class Teacher:
    """A frozen model (no parameter needs a gradient, eval mode) whose forwards build no graph."""

    model: Any
    tokenizer: Any
    path: Path

    @torch.no_grad()
    def forward(
        self, input_ids: Tensor, attention_mask: Tensor, layers: Sequence[int] = ()
    ) -> tuple[Tensor, dict[int, Tensor]]:
        """(B, L, V) logits and the (B, L, H) outputs of blocks `layers`; no graph, whatever the grad mode."""
        with capture_hidden(self.model, layers) as hidden:
            out = self.model(input_ids=input_ids, attention_mask=attention_mask, use_cache=False)
        return out.logits, hidden


def check_same_vocabulary(teacher_tokenizer: Any, student_tokenizer: Any, where: str = "the teacher") -> None:
    """ValueError naming both sizes when the token -> id maps differ (in size or in any entry)."""
    t_vocab, s_vocab = teacher_tokenizer.get_vocab(), student_tokenizer.get_vocab()
    t_size, s_size = len(teacher_tokenizer), len(student_tokenizer)
    if t_size != s_size or t_vocab != s_vocab:
        detail = ""
        if t_size == s_size:
            token = min(tok for tok in set(t_vocab) | set(s_vocab) if t_vocab.get(tok) != s_vocab.get(tok))
            detail = f" (same size, other ids: {token!r} is {t_vocab.get(token)} vs {s_vocab.get(token)})"
        raise ValueError(
            f"{where} has a different vocabulary from the student's: {t_size} tokens vs {s_size}{detail}; "
            f"distillation compares distributions token by token, so both need the same tokenizer"
        )


def load_teacher(
    path: str | Path, *, student_tokenizer: Any, device: Any, student_vocab_size: int | None = None
) -> Teacher:
    """The HF model dir at `path`, frozen (requires_grad off, eval mode) for `Teacher.logits`.

    Refused with a ValueError naming both sizes when its tokenizer differs from the student's, or
    when its output layer (logits per token) differs from `student_vocab_size`.
    """
    from ..lm.model import load_model

    device = torch.device(device)
    loaded = load_model(path, dtype="float32" if device.type == "cpu" else "auto", device=str(device))
    check_same_vocabulary(loaded.tokenizer, student_tokenizer, where=f"the teacher {loaded.path}")
    model = loaded.model
    width = model.get_output_embeddings().weight.shape[0]
    if student_vocab_size is not None and width != student_vocab_size:
        raise ValueError(
            f"the teacher {loaded.path} has {width} logits per token, the student {student_vocab_size}: "
            f"distillation needs the same vocabulary"
        )
    model.requires_grad_(False)
    model.eval()
    return Teacher(model=model, tokenizer=loaded.tokenizer, path=loaded.path)
