"""`cppforge train-proxy`: sample the model, label with the real verifier, train and save the proxy.

The proxy must rank the model's own candidates, so it learns from them: for held-out corpus
prompts the model samples completions (one batched decode per prompt), the verifier labels
each `prompt + completion` by compile_ok, and a held-out split reports accuracy and AUC, which
are saved in the artifact's manifest (and quoted in the README).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...lm.model import LoadedModel
from ...lm.prompts import FUNCTION_STOP, encode_prompt
from ...lm.sampling import SamplingParams, sample_n
from ...tasks import held_out_tasks
from . import evaluate, label_with_verifier, split_train_test, train_proxy

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

    def to_dict(self) -> dict[str, Any]:
        return {k: (str(v) if isinstance(v, Path) else v) for k, v in self.__dict__.items()}


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


def build_and_train(
    loaded: LoadedModel,
    out: Path,
    n_prompts: int = 200,
    per_prompt: int = 4,
    seed: int = 0,
    log: Callable[[str], None] = print,
) -> ProxyReport:
    started = time.monotonic()
    log(f"sampling {n_prompts} x {per_prompt} candidates from the model ...")
    codes = sample_candidates(loaded, n_prompts, per_prompt)
    log(f"labelling {len(codes)} candidates with the real verifier ...")
    labels = label_with_verifier(codes)
    rate = sum(labels) / len(labels)
    log(f"compile rate of the samples: {rate:.1%}")
    split = split_train_test(codes, labels, 0.25, seed)
    clf = train_proxy(split.train_texts, split.train_labels, seed=seed)
    held = evaluate(clf, split.test_texts, split.test_labels)
    positive = sum(split.test_labels) / max(1, len(split.test_labels))
    baseline = max(positive, 1 - positive)
    log(f"held-out accuracy {held['accuracy']:.3f} (majority {baseline:.3f}), AUC {held['auc']:.3f}")
    final = train_proxy(codes, labels, seed=seed)
    final.metadata.update(
        {
            "held_out": held,
            "majority_baseline": baseline,
            "trained_on": f"{len(codes)} samples of the model at {loaded.path}, labelled by verify_cpp",
            "compile_rate": rate,
        }
    )
    path = final.save(out)
    return ProxyReport(path, len(codes), rate, held["accuracy"], held["auc"], baseline, time.monotonic() - started)
