"""Training the proxy: weighted logistic regression on verifier-labelled samples."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

import numpy as np
import numpy.typing as npt

from .classifier import ClassWeight, ProxyClassifier, sigmoid
from .evaluation import evaluate
from .features import (
    FeatureConfig,
    Featurizer,
)


def _sample_weights(y: npt.NDArray[np.float64], class_weight: ClassWeight) -> npt.NDArray[np.float64]:
    if class_weight is None:
        return np.ones_like(y)
    if class_weight == "balanced":
        n = y.shape[0]
        n_pos = float(y.sum())
        n_neg = n - n_pos
        w_pos = n / (2.0 * n_pos) if n_pos else 0.0
        w_neg = n / (2.0 * n_neg) if n_neg else 0.0
        return np.where(y > 0.5, w_pos, w_neg)
    if isinstance(class_weight, Mapping):
        return np.where(y > 0.5, float(class_weight.get(True, 1.0)), float(class_weight.get(False, 1.0)))
    raise ValueError(f"class_weight must be None, 'balanced' or {{True: w, False: w}}, got {class_weight!r}")


def train_proxy(
    texts: Sequence[str],
    labels: Sequence[bool],
    seed: int = 0,
    epochs: int = 10,
    *,
    lr: float = 1.0,
    l2: float = 1e-4,
    batch_size: int = 32,
    class_weight: ClassWeight = "balanced",
    config: FeatureConfig | None = None,
    trained_on: str = "",
    eval_texts: Sequence[str] | None = None,
    eval_labels: Sequence[bool] | None = None,
) -> ProxyClassifier:
    """Fit the proxy: mini-batch Adagrad on the weighted log loss plus `l2`/2·||w||² (bias free).

    Deterministic for a given seed (zero init, seeded shuffles). The metadata records the data,
    the hyper-parameters and the metrics on the training set (and on the eval set if given).
    """
    if len(texts) != len(labels):
        raise ValueError(f"{len(texts)} texts but {len(labels)} labels")
    if not texts:
        raise ValueError("no training data")
    if epochs < 1 or batch_size < 1 or not lr > 0 or not l2 >= 0:
        raise ValueError("need epochs >= 1, batch_size >= 1, lr > 0, l2 >= 0")
    config = config or FeatureConfig()
    featurizer = Featurizer(config)
    batch = featurizer.transform_many(texts)
    y = np.array([1.0 if bool(v) else 0.0 for v in labels], dtype=np.float64)
    sw = _sample_weights(y, class_weight)
    n = y.shape[0]
    dim = config.n_buckets
    w = np.zeros(dim, dtype=np.float64)
    b = 0.0
    g2_w = np.zeros(dim, dtype=np.float64)
    g2_b = 0.0
    eps = 1e-8
    rng = np.random.default_rng(seed)
    starts, ends = batch.indptr[:-1], batch.indptr[1:]
    for _ in range(epochs):
        order = rng.permutation(n)
        for lo in range(0, n, batch_size):
            rows = order[lo : lo + batch_size]
            m = rows.shape[0]
            lengths = ends[rows] - starts[rows]
            pos = np.concatenate([np.arange(starts[r], ends[r]) for r in rows])
            local = np.repeat(np.arange(m), lengths)
            idx = batch.indices[pos]
            vals = batch.values[pos].astype(np.float64)
            z = np.bincount(local, weights=w[idx] * vals, minlength=m) + b
            resid = (sigmoid(z) - y[rows]) * sw[rows]
            denom = float(sw[rows].sum()) or 1.0
            resid /= denom
            uniq, inv = np.unique(idx, return_inverse=True)
            grad = l2 * w
            grad[uniq] += np.bincount(inv, weights=resid[local] * vals, minlength=uniq.shape[0])
            g2_w += grad * grad
            w -= lr * grad / (np.sqrt(g2_w) + eps)
            gb = float(resid.sum())
            g2_b += gb * gb
            b -= lr * gb / (math.sqrt(g2_b) + eps)
    n_pos = int(y.sum())
    metadata: dict[str, Any] = {
        "n_samples": n,
        "n_positive": n_pos,
        "positive_rate": n_pos / n,
        "seed": seed,
        "epochs": epochs,
        "lr": lr,
        "l2": l2,
        "batch_size": batch_size,
        "class_weight": class_weight
        if not isinstance(class_weight, Mapping)
        else {str(k): v for k, v in class_weight.items()},
        "optimizer": "adagrad",
        "trained_on": trained_on,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "numpy_version": np.__version__,
        "metrics": {},
    }
    clf = ProxyClassifier(w.astype(np.float32), b, config, metadata)
    clf.metadata["metrics"]["train"] = evaluate(clf, texts, labels)
    if eval_texts is not None and eval_labels is not None:
        clf.metadata["metrics"]["eval"] = evaluate(clf, eval_texts, eval_labels)
    return clf
