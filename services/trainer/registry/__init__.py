"""The adapter registry: trained LoRA adapters with their provenance, statuses and gated promotion.

    from services.trainer.registry import save_adapter_artifact, load_adapter_artifact, promote
    art = save_adapter_artifact("run/adapter", name="job-3", base_model="models/base", training_method="gspo",
                                config={...}, metrics={...})        # a draft
    record_eval("job-3", report.to_dict(), base_model_sha256=h)     # `cppforge registry eval job-3`
    promote("job-3")                                                # or PromotionRefused, with the numbers

Location: `CPPFORGE_REGISTRY_DIR` (default $CPPFORGE_HOME/registry), or `root=` on every call.
No torch and no FastAPI at import: the inference service imports it to resolve names.
"""

from .artifacts import (
    TRAINING_METHODS,
    Artifact,
    Entry,
    Status,
    active_for_base,
    list_artifacts,
    load_adapter_artifact,
    retire,
    save_adapter_artifact,
)
from .errors import (
    ArtifactCorruptError,
    ArtifactNotFoundError,
    DuplicateArtifactError,
    InvalidArtifactError,
    PromotionRefused,
    RegistryError,
    StatusError,
)
from .evals import EvalRecord, eval_differences, eval_record_from_report
from .hashing import model_content_hash, resolve_base_dir
from .index import NAME_PATTERN, default_root
from .promotion import DEFAULT_GATE, DEFAULT_METRIC, Promotion, check_promotion, promote, record_eval
from .runs import default_base_model, register_run, run_provenance, training_method

__all__ = [
    "DEFAULT_GATE",
    "DEFAULT_METRIC",
    "NAME_PATTERN",
    "TRAINING_METHODS",
    "Artifact",
    "ArtifactCorruptError",
    "ArtifactNotFoundError",
    "DuplicateArtifactError",
    "Entry",
    "EvalRecord",
    "InvalidArtifactError",
    "Promotion",
    "PromotionRefused",
    "RegistryError",
    "Status",
    "StatusError",
    "active_for_base",
    "check_promotion",
    "default_base_model",
    "default_root",
    "eval_differences",
    "eval_record_from_report",
    "list_artifacts",
    "load_adapter_artifact",
    "model_content_hash",
    "promote",
    "record_eval",
    "register_run",
    "resolve_base_dir",
    "retire",
    "run_provenance",
    "save_adapter_artifact",
    "training_method",
]
