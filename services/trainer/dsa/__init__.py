"""DeepSeek Sparse Attention (DSA) for the Llama-style model: lightning indexer, top-k sparse attention,
and the two training stages (dense warm-up of the indexer, then sparse training). arXiv:2512.02556.

Modules: functional (the math), indexer (LightningIndexer), attention (enable_dsa / disable_dsa through
transformers' AttentionInterface), stages (DSATrainingStageManager), train (train_dsa), persist
(save/load), command (`cppforge dsa`). Importing this package is light (the CLI builds its parser from
it): the names below load torch and transformers on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .attention import (
        ATTN_IMPLEMENTATION,
        DSAConfig,
        DSAHandle,
        DSARuntime,
        attention_mode,
        disable_dsa,
        dsa_handle,
        enable_dsa,
    )
    from .indexer import LightningIndexer
    from .persist import load_dsa_model, save_dsa_model
    from .stages import (
        DSAStageConfig,
        DSAStageError,
        DSATrainingStageManager,
        StageLoss,
        StepResult,
        UnclassifiedParameterError,
    )
    from .train import DSAEval, DSATrainReport, evaluate_dsa, task_batches, train_dsa

_WHERE = {
    "ATTN_IMPLEMENTATION": "attention",
    "DSAConfig": "attention",
    "DSAHandle": "attention",
    "DSARuntime": "attention",
    "attention_mode": "attention",
    "disable_dsa": "attention",
    "dsa_handle": "attention",
    "enable_dsa": "attention",
    "LightningIndexer": "indexer",
    "load_dsa_model": "persist",
    "save_dsa_model": "persist",
    "DSAStageConfig": "stages",
    "DSAStageError": "stages",
    "DSATrainingStageManager": "stages",
    "StageLoss": "stages",
    "StepResult": "stages",
    "UnclassifiedParameterError": "stages",
    "DSAEval": "train",
    "DSATrainReport": "train",
    "evaluate_dsa": "train",
    "task_batches": "train",
    "train_dsa": "train",
}

__all__ = [
    "ATTN_IMPLEMENTATION",
    "DSAConfig",
    "DSAEval",
    "DSAHandle",
    "DSARuntime",
    "DSAStageConfig",
    "DSAStageError",
    "DSATrainReport",
    "DSATrainingStageManager",
    "LightningIndexer",
    "StageLoss",
    "StepResult",
    "UnclassifiedParameterError",
    "attention_mode",
    "disable_dsa",
    "dsa_handle",
    "enable_dsa",
    "evaluate_dsa",
    "load_dsa_model",
    "save_dsa_model",
    "task_batches",
    "train_dsa",
]


def __getattr__(name: str) -> Any:
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from . import attention, indexer, persist, stages, train  # static imports: tests/test_layering.py reads them

    modules = {"attention": attention, "indexer": indexer, "persist": persist, "stages": stages, "train": train}
    return getattr(modules[where], name)
