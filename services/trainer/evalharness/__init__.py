"""The eval harness (`cppforge eval`): pass@k of a model on HumanEval-X / MultiPL-E C++ problem sets,
judged by the real verifier, and the check of a set's own canonical solutions.

    from services.trainer.evalharness import evaluate, EvalReport, DEFAULT_TASKS
    report = evaluate(tasks_path=DEFAULT_TASKS, model_path=None, n=10, ks=(1, 5), out_dir=Path("out/eval"))
    report.pass_at_k   # {"pass@1": ..., "pass@5": ...}
    report.to_dict()   # summary.json

Modules: passk (the estimator), config (checked settings), samplers (in-process / inference service),
judges (in-process verify_cpp / verifier service), runner (evaluate), report (summary, PNG),
canonical (--check-canonical), progress, command (the CLI).
"""

from .canonical import CanonicalFailure, CanonicalReport, check_canonical
from .config import DEFAULT_TASKS, EvalConfig
from .passk import mean_pass_at_k, pass_at_k
from .report import EvalReport
from .runner import EvalInfraError, evaluate, run_eval

__all__ = [
    "DEFAULT_TASKS",
    "CanonicalFailure",
    "CanonicalReport",
    "EvalConfig",
    "EvalInfraError",
    "EvalReport",
    "check_canonical",
    "evaluate",
    "mean_pass_at_k",
    "pass_at_k",
    "run_eval",
]
