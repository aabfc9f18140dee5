"""DeepSeek's two DSA training stages (arXiv:2512.02556, section 2.1.1) over a model prepared by enable_dsa.

Stage 1, dense warm-up (`apply_dsa_stage1_freeze`): attention stays dense, every base parameter is frozen,
only the lightning indexers train, at a flat LR of 1e-3 (no schedule), on
`KL(p_dense || softmax(I))` over the causal keys, p_dense the detached main attention summed over heads
and L1-normalised per query. Stage 2, sparse training (`apply_dsa_stage2_unfreeze`): attention runs over
the indexer's top-k keys, everything trains; the main model on the LM loss, the indexer on its KL over
the selected keys only (`_detach_indexer_from_lm_loss`).

The freeze-set contract (DESIGN.md): every parameter is known as `indexer`, `frozen` (the base, frozen in
stage 1) or an explicit opt-out; an unclassified one (new sparse-attention code that neither added itself
to the freeze set nor opted out) makes either stage refuse, naming it. Stage 2 refuses to start before a
stage-1 step (the warm-up count is saved with the model) unless forced, with a warning.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import Tensor, nn

from .attention import DSAHandle, dsa_handle

ParamClass = Literal["indexer", "frozen", "opt_out"]


class DSAStageError(RuntimeError):
    """A stage was asked for out of order, or the parameters break the freeze-set contract."""


class UnclassifiedParameterError(DSAStageError):
    pass


@dataclass(frozen=True)
class DSAStageConfig:
    indexer_lr: float = field(
        default=1e-3, metadata={"help": "flat LR of the indexers in both stages (DeepSeek: 1e-3)"}
    )
    main_lr: float = field(default=1e-4, metadata={"help": "stage-2 LR of the base model"})
    kl_weight: float = field(
        default=1.0, metadata={"help": "weight of the indexer KL in stage 2 (reaches the indexer only)"}
    )
    grad_clip: float | None = field(
        default=1.0, metadata={"help": "max grad norm, per group (base, indexer); None: off"}
    )
    weight_decay: float = field(default=0.0, metadata={"help": "AdamW weight decay of the stage-2 base group"})

    def __post_init__(self) -> None:
        if self.indexer_lr <= 0 or self.main_lr <= 0:
            raise ValueError("learning rates must be positive")
        if self.kl_weight < 0:
            raise ValueError("kl_weight must be >= 0")
        if self.grad_clip is not None and self.grad_clip <= 0:
            raise ValueError("grad_clip must be positive (or None)")


@dataclass
class StageLoss:
    total: Tensor  # what backward runs on
    kl: Tensor  # mean indexer KL over layers and queries
    lm: Tensor | None  # stage 2 only
    recall: float | None  # stage 1: dense attention mass the top-k would keep


@dataclass(frozen=True)
class StepResult:
    stage: int
    kl: float
    lm_loss: float | None
    recall: float | None


class DSATrainingStageManager:
    """Owns the freeze sets, the stage switches on the model's DSA runtime, and each stage's optimizer."""

    def __init__(
        self,
        model: nn.Module,
        *,
        config: DSAStageConfig | None = None,
        frozen: Iterable[str] = (),
        opt_out: Iterable[str] = (),
    ) -> None:
        self.model = model
        self.handle: DSAHandle = dsa_handle(model)
        self.config = config or DSAStageConfig()
        self.frozen: set[str] = set(self.handle.base_parameter_names)
        self.opt_out: set[str] = set()
        self.add_to_freeze_set(frozen)
        self.add_opt_out(opt_out)
        self.stage = 0
        self.optimizer: torch.optim.Optimizer | None = None

    # -- the freeze-set contract -----------------------------------------------------------

    def _known(self, names: Iterable[str], what: str) -> set[str]:
        wanted = set(names)
        unknown = wanted - {name for name, _ in self.model.named_parameters()}
        if unknown:
            raise ValueError(f"{what} names no parameter of the model: {', '.join(sorted(unknown))}")
        return wanted

    def add_to_freeze_set(self, names: Iterable[str]) -> None:
        """Parameters frozen in stage 1 and trained (on the LM loss) in stage 2, like the base."""
        self.frozen |= self._known(names, "the freeze set")

    def add_opt_out(self, names: Iterable[str]) -> None:
        """Parameters the stages leave alone: requires_grad untouched, in neither stage's optimizer."""
        self.opt_out |= self._known(names, "the opt-out list")

    def classify(self) -> dict[str, ParamClass]:
        """Every parameter's class; raises UnclassifiedParameterError naming those in no class."""
        classes: dict[str, ParamClass] = {}
        missing: list[str] = []
        for name, _ in self.model.named_parameters():
            if name in self.opt_out:
                classes[name] = "opt_out"
            elif name in self.handle.indexer_parameter_names:
                classes[name] = "indexer"
            elif name in self.frozen:
                classes[name] = "frozen"
            else:
                missing.append(name)
        if missing:
            raise UnclassifiedParameterError(
                f"{len(missing)} parameter(s) in no DSA class (indexer, frozen, opt-out): {', '.join(missing)}; "
                "add them to the freeze set (frozen=...) or opt them out (opt_out=...)"
            )
        return classes

    def _params(self, classes: dict[str, ParamClass], wanted: ParamClass) -> list[nn.Parameter]:
        return [p for name, p in self.model.named_parameters() if classes[name] == wanted]

    # -- the stages ------------------------------------------------------------------------

    def apply_dsa_stage1_freeze(self) -> torch.optim.Optimizer:
        """Dense warm-up: only the indexers require grad; AdamW on them at a flat config.indexer_lr."""
        classes = self.classify()
        for name, param in self.model.named_parameters():
            if classes[name] != "opt_out":
                param.requires_grad_(classes[name] == "indexer")
        runtime = self.handle.runtime
        runtime.sparse = False
        self._detach_indexer_from_lm_loss()  # a no-op for a frozen base; keeps opt-outs out of the KL too
        # No scheduler: DeepSeek's warm-up keeps the indexer's LR flat.
        self.optimizer = torch.optim.AdamW(
            self._params(classes, "indexer"), lr=self.config.indexer_lr, weight_decay=0.0
        )
        self.stage = 1
        return self.optimizer

    def apply_dsa_stage2_unfreeze(self, *, force: bool = False) -> torch.optim.Optimizer:
        """Sparse training: everything trains; refuses before a stage-1 step unless `force` (with a warning)."""
        if self.handle.warmup_steps == 0:
            message = (
                "DSA stage 2 before the dense warm-up: the sparse model would select keys with an untrained "
                "indexer (DeepSeek trains it first); run apply_dsa_stage1_freeze() and stage-1 steps"
            )
            if not force:
                raise DSAStageError(message + ", or pass force=True to skip it")
            warnings.warn(message + "; skipped on request (force=True)", RuntimeWarning, stacklevel=2)
        classes = self.classify()
        for name, param in self.model.named_parameters():
            if classes[name] != "opt_out":
                param.requires_grad_(True)
        runtime = self.handle.runtime
        runtime.sparse = True
        self._detach_indexer_from_lm_loss()
        groups = [
            {
                "params": self._params(classes, "frozen"),
                "lr": self.config.main_lr,
                "weight_decay": self.config.weight_decay,
            },
            {"params": self._params(classes, "indexer"), "lr": self.config.indexer_lr, "weight_decay": 0.0},
        ]
        self.optimizer = torch.optim.AdamW(groups)
        self.stage = 2
        return self.optimizer

    def _detach_indexer_from_lm_loss(self) -> None:
        """Detach each indexer's input (the layer's attention input) from the graph, as DeepSeek does.

        The LM loss cannot reach the indexer anyway (the top-k selection is discrete); the detach makes the
        split exact the other way too: the indexer's KL cannot reach the base model. So the base learns from
        the LM loss only and the indexer from its KL only, in one backward over their sum.
        """
        self.handle.runtime.detach_indexer_input = True

    # -- losses and steps ------------------------------------------------------------------

    def loss(self, input_ids: Tensor, attention_mask: Tensor | None = None, *, lm_scale: float = 1.0) -> StageLoss:
        """The current stage's loss on one (B, T) batch (stage 2: lm_scale * LM + kl_weight * KL)."""
        if self.stage not in (1, 2):
            raise DSAStageError("no DSA stage is active: call apply_dsa_stage1_freeze() first")
        runtime = self.handle.runtime
        runtime.clear()
        # KL terms are collected during this forward only: a forward outside loss() (generation, scoring)
        # would otherwise append a term, and with it the forward's whole graph, on every call.
        runtime.collect_kl = True
        try:
            if self.stage == 1:
                backbone = getattr(self.model, "model", self.model)  # no LM head: stage 1 needs attention only
                backbone(input_ids=input_ids, attention_mask=attention_mask, use_cache=False)
                kl = runtime.take_kl()
                return StageLoss(total=kl, kl=kl, lm=None, recall=runtime.take_recall())
            labels = input_ids if attention_mask is None else input_ids.masked_fill(attention_mask == 0, -100)
            out = self.model(input_ids=input_ids, attention_mask=attention_mask, labels=labels, use_cache=False)
            kl = runtime.take_kl()
        finally:
            runtime.collect_kl = False
            runtime.clear()  # (after an exception: no stale terms for the next take)
        total = lm_scale * out.loss + self.config.kl_weight * kl
        return StageLoss(total=total, kl=kl, lm=out.loss, recall=None)

    def step(self, input_ids: Tensor, attention_mask: Tensor | None = None) -> StepResult:
        """One optimizer step of the current stage."""
        if self.optimizer is None:
            raise DSAStageError("no DSA stage is active: call apply_dsa_stage1_freeze() first")
        self.optimizer.zero_grad(set_to_none=True)
        loss = self.loss(input_ids, attention_mask)
        loss.total.backward()
        if self.config.grad_clip is not None:
            for group in self.optimizer.param_groups:  # per group: the two objectives keep their own scales
                torch.nn.utils.clip_grad_norm_(group["params"], self.config.grad_clip)
        self.optimizer.step()
        if self.stage == 1:
            self.handle.warmup_steps += 1
        lm = float(loss.lm.detach()) if loss.lm is not None else None
        return StepResult(stage=self.stage, kl=float(loss.kl.detach()), lm_loss=lm, recall=loss.recall)
