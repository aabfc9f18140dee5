"""TEMPORARY smoke-test stand-in (replaced by the helper's stepcoder.py)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any


class CCCSCurriculum:
    def __init__(self, initial_frac: float = 0.7, decay_step: float = 0.1, threshold: float = 0.6,
                 min_frac: float = 0.0) -> None:  # fmt: skip
        self.prefix_frac, self.decay_step, self.threshold, self.min_frac = initial_frac, decay_step, threshold, min_frac

    def update(self, rate: float) -> bool:
        if rate > self.threshold and self.prefix_frac > self.min_frac:
            self.prefix_frac = max(self.min_frac, self.prefix_frac - self.decay_step)
            return True
        return False

    def state_dict(self) -> dict[str, Any]:
        return {"prefix_frac": self.prefix_frac}

    def load_state_dict(self, d: dict[str, Any]) -> None:
        self.prefix_frac = d["prefix_frac"]

    def prompt_for(self, prompt: str, sol: str) -> tuple[str, str]:
        lines = sol.split("\n")
        body = lines[1:-2]
        k = round(self.prefix_frac * len(body))
        prefix = "\n".join(lines[: 1 + k]) if k else ""
        return prompt + prefix, prefix


def _parse_error_line(stderr: str, code: str) -> int | None:
    m = re.search(r"^[^:\n]*solution\.cpp:(\d+):\d+: (?:fatal )?error", stderr, re.M)
    return int(m.group(1)) if m else None


def completion_cut(code: str, completion_start: int, line: int) -> int | None:
    lines = code.split("\n")
    if line > len(lines):
        return None
    end = sum(len(x) + 1 for x in lines[:line]) - 1
    return None if end < completion_start else end - completion_start


def fgo_token_mask(starts: Sequence[int], cut: int | None) -> list[bool]:
    return [True] * len(starts) if cut is None else [s < cut for s in starts]
