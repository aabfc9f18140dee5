"""pass@k: the unbiased estimator of Chen et al. 2021 ("Evaluating Large Language Models Trained on
Code", arXiv 2107.03374, section 2.1), per task and averaged over tasks.

With n samples of a task of which c pass, pass@k = 1 - C(n-c, k) / C(n, k): the chance that k samples
drawn without replacement from the n hold at least one that passes. The binomials overflow floats for
large n, so it is computed as the product 1 - prod_{i=n-c+1..n} (1 - k/i) (the same ratio, term by term).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def pass_at_k(n: int, c: int, k: int) -> float:
    """The estimate for one task: `n` samples, `c` of them passed, `k` drawn. ValueError when k > n."""
    if n < 1 or k < 1:
        raise ValueError(f"pass@k needs n >= 1 and k >= 1 (got n={n}, k={k})")
    if not 0 <= c <= n:
        raise ValueError(f"passed count c={c} must lie in [0, n={n}]")
    if k > n:
        raise ValueError(f"pass@{k} needs at least {k} samples per task, got n={n}")
    if n - c < k:
        return 1.0  # every k-subset holds a passing sample
    product = 1.0
    for i in range(n - c + 1, n + 1):
        product *= 1.0 - k / i
    return 1.0 - product


def mean_pass_at_k(counts: Iterable[tuple[int, int]], k: int) -> tuple[float | None, int]:
    """(mean pass@k over the tasks with at least k samples, how many tasks had fewer and were left out).

    `counts` holds (n, c) per task; n may differ between tasks (samples the verifier could not judge
    are left out of both n and c). None when no task has k samples.
    """
    values: list[float] = []
    short = 0
    for n, c in counts:
        if n < k:
            short += 1
            continue
        values.append(pass_at_k(n, c, k))
    return (sum(values) / len(values) if values else None), short


def pass_at_k_table(counts: Sequence[tuple[int, int]], ks: Iterable[int]) -> dict[str, float | None]:
    """{"pass@1": ..., "pass@5": ...} for each k."""
    return {f"pass@{k}": mean_pass_at_k(counts, k)[0] for k in ks}


def parse_ks(text: str, n: int) -> tuple[int, ...]:
    """ "1,5" -> (1, 5): positive, at most n, no repeats, sorted. ValueError names the bad value."""
    ks: list[int] = []
    for part in text.split(","):
        part = part.strip()
        try:
            k = int(part)
        except ValueError:
            raise ValueError(f"k values are positive integers separated by commas, not {part!r}") from None
        ks.append(k)
    return check_ks(ks, n)


def check_ks(ks: Iterable[int], n: int) -> tuple[int, ...]:
    """The k values sorted; ValueError for none, a repeat, k < 1 or k > n."""
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    values = list(ks)
    if not values:
        raise ValueError("give at least one k")
    for k in values:
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ValueError(f"k must be a positive integer, got {k!r}")
        if k > n:
            raise ValueError(f"k={k} is more than n={n} samples per task: pass@{k} needs n >= {k}")
    if len(set(values)) != len(values):
        raise ValueError(f"k values repeat: {values}")
    return tuple(sorted(values))
