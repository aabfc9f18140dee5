"""Labels from the real verifier, and the proxy as a best-of-N scorer."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .classifier import ProxyClassifier


class LabellingError(RuntimeError):
    """The verifier itself failed on a sample, so it has no trustworthy label."""


def label_with_verifier(
    codes: Sequence[str],
    test_codes: Sequence[str | None] | None = None,
    workers: int = 2,
    *,
    timeout: float = 10.0,
    std: str = "c++17",
    verify: Callable[..., Any] | None = None,
) -> list[bool]:
    """compile_ok of the real `verify_cpp` for each code (in order), `workers` threads at once.

    A sample whose verification hit an infrastructure failure (`infra_error` set) raises
    LabellingError instead of becoming a silent "does not compile" label.
    """
    if test_codes is not None and len(test_codes) != len(codes):
        raise ValueError(f"{len(codes)} codes but {len(test_codes)} test codes")
    if workers < 1:
        raise ValueError("workers must be >= 1")
    if verify is None:
        from ...verifier.core.verify import verify_cpp

        verify = verify_cpp
    verify_fn = verify
    tests: Sequence[str | None] = test_codes if test_codes is not None else [None] * len(codes)

    def one(i: int) -> bool:
        result = verify_fn(codes[i], tests[i], timeout=timeout, std=std)
        infra = getattr(result, "infra_error", None)
        if infra:
            raise LabellingError(f"sample {i}: verification failed, no label ({infra})")
        return bool(result.compile_ok)

    if workers == 1 or len(codes) <= 1:
        return [one(i) for i in range(len(codes))]
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="proxy-label") as pool:
        return list(pool.map(one, range(len(codes))))


@dataclass
class ProxyScorer:
    """Best-of-N hook: `scorer(codes)` -> P(compiles) per candidate, same order.

    `preprocess` (e.g. think-block stripping) runs before scoring and must match what the
    training texts went through.
    """

    classifier: ProxyClassifier
    preprocess: Callable[[str], str] | None = None

    @classmethod
    def from_path(cls, path: Path | str, preprocess: Callable[[str], str] | None = None) -> ProxyScorer:
        return cls(ProxyClassifier.load(path), preprocess)

    def __call__(self, codes: list[str]) -> list[float]:
        pre = self.preprocess
        return self.classifier.score_many([pre(c) for c in codes] if pre is not None else codes)

    def rank(self, codes: list[str]) -> list[int]:
        """Candidate indices, most likely to compile first (stable for equal scores)."""
        scores = self(codes)
        return sorted(range(len(codes)), key=lambda i: -scores[i])

    def filter(self, codes: list[str], threshold: float = 0.5) -> list[int]:
        """Indices of the candidates worth sending to the real verifier."""
        return [i for i, s in enumerate(self(codes)) if s >= threshold]
