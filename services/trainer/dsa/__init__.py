"""DeepSeek Sparse Attention (DSA) for the Llama-style model: lightning indexer, top-k sparse attention,
and the two training stages (dense warm-up of the indexer, then sparse training). arXiv:2512.02556."""

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
from .stages import (
    DSAStageConfig,
    DSAStageError,
    DSATrainingStageManager,
    StageLoss,
    StepResult,
    UnclassifiedParameterError,
)

__all__ = [
    "ATTN_IMPLEMENTATION",
    "DSAConfig",
    "DSAHandle",
    "DSARuntime",
    "DSAStageConfig",
    "DSAStageError",
    "DSATrainingStageManager",
    "LightningIndexer",
    "StageLoss",
    "StepResult",
    "UnclassifiedParameterError",
    "attention_mode",
    "disable_dsa",
    "dsa_handle",
    "enable_dsa",
]
