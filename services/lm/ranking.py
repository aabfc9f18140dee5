"""The best-of-N ranking contract, one definition for serving (best_of_n) and training data (bon-data).

What matters for code is whether it compiles and passes, not its log-probability (TGI ranks by
log-prob; vLLM V1 dropped best_of): rank by reward, and among equal rewards prefer the longer code
(a fuller body over a stub that earns the same compile reward). Ties after that keep input order.
"""

from __future__ import annotations

from collections.abc import Sequence


def rank(rewards: Sequence[float], codes: Sequence[str]) -> list[int]:
    """Candidate indices best first: reward descending, then code length descending, then index."""
    if len(rewards) != len(codes):
        raise ValueError(f"{len(rewards)} rewards for {len(codes)} candidates")
    return sorted(range(len(codes)), key=lambda i: (-rewards[i], -len(codes[i]), i))
