"""pass@k: the stable product form against brute-force enumeration of every k-subset of n samples,
hand-computed values, and the edge cases (k > n refused, n - c < k gives 1.0, tasks short of k)."""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import pytest

from services.trainer.evalharness.passk import check_ks, mean_pass_at_k, parse_ks, pass_at_k, pass_at_k_table


def brute_force(n: int, c: int, k: int) -> float:
    """Share of the k-subsets of n samples (the first c of them passing) that hold a passing sample."""
    subsets = list(itertools.combinations(range(n), k))
    return sum(any(i < c for i in s) for s in subsets) / len(subsets)


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8, 10])
def test_matches_enumeration_of_every_subset(n: int) -> None:
    for c in range(n + 1):
        for k in range(1, n + 1):
            assert pass_at_k(n, c, k) == pytest.approx(brute_force(n, c, k), abs=1e-12), (n, c, k)


def test_hand_computed_values() -> None:
    assert pass_at_k(5, 2, 2) == pytest.approx(1 - 3 / 10)  # 1 - C(3,2)/C(5,2)
    assert pass_at_k(10, 3, 1) == pytest.approx(0.3)  # pass@1 is the plain pass rate
    assert pass_at_k(10, 1, 5) == pytest.approx(0.5)  # 1 - C(9,5)/C(10,5) = 1 - 126/252
    assert pass_at_k(4, 1, 2) == pytest.approx(0.5)  # 1 - C(3,2)/C(4,2) = 1 - 3/6


def test_edges() -> None:
    assert pass_at_k(7, 0, 3) == 0.0
    assert pass_at_k(7, 7, 3) == 1.0
    assert pass_at_k(10, 6, 5) == 1.0  # n - c = 4 < k: every 5-subset holds a pass
    assert pass_at_k(6, 2, 6) == 1.0  # k = n: at least one pass in all samples
    assert pass_at_k(6, 0, 6) == 0.0
    with pytest.raises(ValueError, match="needs at least 6 samples"):
        pass_at_k(5, 1, 6)
    for bad in ((0, 0, 1), (5, 6, 1), (5, -1, 1), (5, 1, 0)):
        with pytest.raises(ValueError):
            pass_at_k(*bad)


def test_large_n_stays_finite_where_binomials_overflow_floats() -> None:
    n, c, k = 5000, 3, 300
    with pytest.raises(OverflowError):
        float(math.comb(n, k))  # the textbook form cannot even be evaluated in floats
    exact = 1 - Fraction(math.comb(n - c, k), math.comb(n, k))  # exact rational arithmetic
    assert pass_at_k(n, c, k) == pytest.approx(float(exact), rel=1e-12)


def test_mean_over_tasks_leaves_out_tasks_short_of_k() -> None:
    counts = [(4, 1), (4, 0), (3, 3), (1, 0)]  # the last tasks lost samples to the verifier's infra
    mean, short = mean_pass_at_k(counts, 2)
    assert short == 1  # (1, 0) has fewer than 2 judged samples
    assert mean == pytest.approx((0.5 + 0.0 + 1.0) / 3)
    assert mean_pass_at_k(counts, 1) == (pytest.approx((0.25 + 0 + 1 + 0) / 4), 0)
    assert mean_pass_at_k([(1, 1)], 2) == (None, 1)
    # pass@4 only over the two tasks with 4 samples: (4, 1) -> 1.0, (4, 0) -> 0.0
    assert pass_at_k_table(counts, [1, 4]) == {"pass@1": pytest.approx(0.3125), "pass@4": pytest.approx(0.5)}


def test_k_values_are_checked() -> None:
    assert parse_ks("5,1", 10) == (1, 5)
    assert check_ks([3], 3) == (3,)
    for text, n, match in (("1,11", 10, "more than n=10"), ("0", 4, "positive"), ("1,x", 4, "not 'x'"),
                           ("2,2", 4, "repeat"), ("1", 0, "n must be at least 1")):  # fmt: skip
        with pytest.raises(ValueError, match=match):
            parse_ks(text, n)
    with pytest.raises(ValueError, match="at least one k"):
        check_ks([], 4)
