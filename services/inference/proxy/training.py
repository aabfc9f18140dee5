"""`cppforge train-proxy`: sample the model, label with the real verifier, train and save the proxy.

The proxy must rank the model's own candidates, so it learns from them: for held-out corpus
prompts the model samples completions (one batched decode per prompt), the verifier labels
each `prompt + completion` by compile_ok, and a held-out split reports accuracy and AUC, which
are saved in the artifact's manifest (and quoted in the README).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...lm.model import LoadedModel
from ...lm.prompts import FUNCTION_STOP, encode_prompt
from ...lm.sampling import SamplingParams, sample_n
from ...tasks import held_out_tasks
from . import ProxyClassifier, evaluate, label_with_verifier, split_train_test, train_proxy
from .honesty import MIN_PER_CLASS, ProxyNotReplacedError, judge, replacement_refusal

HELD_OUT_SEED = 10_007  # prompts the bootstrap model was not trained on (it trains on seed 0..)


@dataclass
class ProxyReport:
    path: Path
    samples: int
    compile_rate: float
    test_accuracy: float
    test_auc: float
    majority_baseline: float
    seconds: float
    warnings: list[str] = field(default_factory=list)  # `honesty.judge`: why its figures may mean nothing
    model_sha256: str | None = None  # the model whose samples it learned from

    def to_dict(self) -> dict[str, Any]:
        return {k: (str(v) if isinstance(v, Path) else v) for k, v in self.__dict__.items()}


def warn_to_stderr(message: str) -> None:
    print(f"WARNING: {message}", file=sys.stderr, flush=True)


def sample_candidates(
    loaded: LoadedModel,
    n_prompts: int,
    per_prompt: int,
    seed: int = HELD_OUT_SEED,
    max_tokens: int = 96,
    temperature: float = 1.0,
) -> list[str]:
    """`prompt + completion` texts, `per_prompt` samples for each of `n_prompts` held-out prompts."""
    tasks = held_out_tasks(n_prompts, seed)
    codes: list[str] = []
    params = SamplingParams(max_tokens=max_tokens, temperature=temperature, stop=(FUNCTION_STOP,), seed=seed)
    for task in tasks:
        ids = encode_prompt(loaded.tokenizer, task.prompt)
        samples, _ = sample_n(loaded.model, loaded.tokenizer, ids, per_prompt, params)
        codes += [s.program(task.prompt, final_newline=True) for s in samples]
    return codes


def train_and_judge(
    codes: Sequence[str], labels: Sequence[bool], *, seed: int = 0, log: Callable[[str], None] = print
) -> ProxyClassifier:
    """Held-out figures from a 3:1 split, then the proxy trained on every sample.

    Its metadata records them (`held_out`, `majority_baseline`, `compile_rate`) and `warnings`:
    `honesty.judge`'s reasons not to trust them (no better than the majority, too few of a class).
    """
    if not codes:
        raise ValueError("no labelled samples")
    rate = sum(labels) / len(labels)
    split = split_train_test(codes, labels, 0.25, seed)
    clf = train_proxy(split.train_texts, split.train_labels, seed=seed)
    held = evaluate(clf, split.test_texts, split.test_labels)
    positive = sum(split.test_labels) / max(1, len(split.test_labels))
    baseline = max(positive, 1 - positive)
    log(f"held-out accuracy {held['accuracy']:.3f} (majority {baseline:.3f}), AUC {held['auc']:.3f}")
    final = train_proxy(codes, labels, seed=seed)
    warnings = judge(
        n_positive=sum(bool(v) for v in labels), n_samples=len(labels),
        held_out_accuracy=held["accuracy"], majority_baseline=baseline,
    )  # fmt: skip
    final.metadata.update(
        {"held_out": held, "majority_baseline": baseline, "compile_rate": rate, "warnings": warnings,
         "min_per_class": MIN_PER_CLASS}
    )  # fmt: skip
    return final


def save_checked(
    clf: ProxyClassifier, out: Path, *, force: bool = False, warn: Callable[[str], None] = warn_to_stderr
) -> Path:
    """Save `clf` at `out` after saying its warnings; ProxyNotReplacedError instead of writing a weak
    proxy over one whose manifest records a better result (unless `force`). A first proxy is written."""
    for message in clf.metadata.get("warnings") or []:
        warn(message)
    if not force and out.exists():
        reason = replacement_refusal(out, clf.metadata)
        if reason is not None:
            raise ProxyNotReplacedError(reason)
    return clf.save(out)


def model_hash(path: Path) -> str | None:
    """The model's content hash (the registry's, cached under its root); None when it cannot be hashed."""
    from ...common.settings import get_settings
    from ...trainer.registry import RegistryError, model_content_hash

    try:
        return model_content_hash(path, cache_dir=get_settings().registry_root)
    except (RegistryError, OSError):
        return None


def build_and_train(
    loaded: LoadedModel,
    out: Path,
    n_prompts: int = 200,
    per_prompt: int = 4,
    seed: int = 0,
    log: Callable[[str], None] = print,
    *,
    force: bool = False,
    warn: Callable[[str], None] = warn_to_stderr,
) -> ProxyReport:
    started = time.monotonic()
    log(f"sampling {n_prompts} x {per_prompt} candidates from the model ...")
    codes = sample_candidates(loaded, n_prompts, per_prompt)
    log(f"labelling {len(codes)} candidates with the real verifier ...")
    labels = label_with_verifier(codes)
    rate = sum(labels) / len(labels)
    log(f"compile rate of the samples: {rate:.1%}")
    final = train_and_judge(codes, labels, seed=seed, log=log)
    sha = model_hash(loaded.path)
    final.metadata.update(
        {
            "trained_on": f"{len(codes)} samples of the model at {loaded.path}, labelled by verify_cpp",
            "model_path": str(loaded.path),
            "model_sha256": sha,  # ProxyClassifier.load(model_sha256=...) refuses it for another model
        }
    )
    path = save_checked(final, out, force=force, warn=warn)
    held = final.metadata["held_out"]
    return ProxyReport(
        path, len(codes), rate, held["accuracy"], held["auc"], final.metadata["majority_baseline"],
        time.monotonic() - started, list(final.metadata["warnings"]), sha,
    )  # fmt: skip
