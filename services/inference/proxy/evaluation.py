"""Held-out metrics of a proxy: ROC AUC, accuracy, the train/test split."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from .classifier import ProxyClassifier


def roc_auc(scores: Sequence[float], labels: Sequence[bool]) -> float:
    """Rank-based AUC (Mann-Whitney U), tied scores share their average rank; NaN with one class."""
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray([bool(v) for v in labels], dtype=bool)
    if s.shape != y.shape:
        raise ValueError(f"{s.shape[0]} scores but {y.shape[0]} labels")
    n_pos = int(y.sum())
    n_neg = int(y.shape[0] - n_pos)
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(s, kind="mergesort")
    sorted_s = s[order]
    ranks = np.empty(s.shape[0], dtype=np.float64)
    # Tie groups: [start, end) runs of equal scores get the mean of ranks start+1..end.
    boundaries = np.flatnonzero(np.diff(sorted_s)) + 1
    starts = np.concatenate(([0], boundaries))
    ends = np.concatenate((boundaries, [s.shape[0]]))
    avg = (starts + ends + 1) / 2.0
    ranks[order] = np.repeat(avg, ends - starts)
    u = float(ranks[y].sum()) - n_pos * (n_pos + 1) / 2.0
    return u / (n_pos * n_neg)


def evaluate(
    clf: ProxyClassifier, texts: Sequence[str], labels: Sequence[bool], threshold: float = 0.5
) -> dict[str, float]:
    """accuracy (at `threshold`), auc, log_loss, positive_rate, predicted_positive_rate, n."""
    if len(texts) != len(labels):
        raise ValueError(f"{len(texts)} texts but {len(labels)} labels")
    n = len(texts)
    if n == 0:
        nan = float("nan")
        return {
            "n": 0.0,
            "accuracy": nan,
            "auc": nan,
            "log_loss": nan,
            "positive_rate": nan,
            "predicted_positive_rate": nan,
        }
    p = np.asarray(clf.score_many(texts), dtype=np.float64)
    y = np.asarray([bool(v) for v in labels], dtype=bool)
    pred = p >= threshold
    pc = np.clip(p, 1e-7, 1 - 1e-7)
    log_loss = float(-np.mean(np.where(y, np.log(pc), np.log(1 - pc))))
    return {
        "n": float(n),
        "accuracy": float(np.mean(pred == y)),
        "auc": roc_auc(p.tolist(), y.tolist()),
        "log_loss": log_loss,
        "positive_rate": float(np.mean(y)),
        "predicted_positive_rate": float(np.mean(pred)),
    }


class Split(NamedTuple):
    train_texts: list[str]
    train_labels: list[bool]
    test_texts: list[str]
    test_labels: list[bool]


def split_train_test(
    texts: Sequence[str], labels: Sequence[bool], test_fraction: float = 0.25, seed: int = 0, *, stratify: bool = True
) -> Split:
    """Deterministic shuffled split; with `stratify` each class is split in the same proportion.

    Each class (or the whole set) puts round(test_fraction * size) items in the test part, at
    least one when it has two or more; the order within each part follows the input order.
    """
    if len(texts) != len(labels):
        raise ValueError(f"{len(texts)} texts but {len(labels)} labels")
    if not 0.0 < test_fraction < 1.0:
        raise ValueError("test_fraction must be in (0, 1)")
    rng = np.random.default_rng(seed)
    ys = [bool(v) for v in labels]
    groups = (
        [[i for i, v in enumerate(ys) if v], [i for i, v in enumerate(ys) if not v]]
        if stratify
        else [list(range(len(ys)))]
    )
    test_idx: set[int] = set()
    for group in groups:
        if not group:
            continue
        k = round(test_fraction * len(group))
        if len(group) >= 2:
            k = min(max(k, 1), len(group) - 1)
        perm = rng.permutation(len(group))
        test_idx.update(group[int(j)] for j in perm[:k])
    train = [i for i in range(len(ys)) if i not in test_idx]
    test = sorted(test_idx)
    return Split([texts[i] for i in train], [ys[i] for i in train], [texts[i] for i in test], [ys[i] for i in test])
