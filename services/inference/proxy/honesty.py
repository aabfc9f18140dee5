"""Is a freshly trained proxy worth its numbers, and may it replace the proxy already saved?

Two ways a proxy's held-out figures say nothing: it is no better than always answering the most
common class (accuracy 0.950 against a majority baseline of 0.970), or one class has so few samples
that any accuracy is luck (1.000 from a weak model's two compiling samples). `judge` names both.
Such a proxy is still written when there is none, with its warnings, but it does not replace a
proxy whose manifest records a better result unless forced (`cppforge train-proxy --force`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .features import MANIFEST_NAME

MIN_PER_CLASS = 20  # fewer compiling (or failing) samples than this and the held-out split holds ~5 of them


class ProxyNotReplacedError(ValueError):
    """A weak new proxy was not written over a better one (the message says why and names --force)."""


def judge(*, n_positive: int, n_samples: int, held_out_accuracy: float, majority_baseline: float) -> list[str]:
    """The reasons not to trust a proxy's held-out figures; empty when there are none."""
    warnings: list[str] = []
    n_negative = n_samples - n_positive
    if min(n_positive, n_negative) < MIN_PER_CLASS:
        warnings.append(
            f"too few samples of one class to judge the proxy: {n_positive} compiling and {n_negative} not "
            f"compiling of {n_samples} (needs at least {MIN_PER_CLASS} of each); sample more with "
            "--prompts / --per-prompt, or use a model whose samples compile more (or less) often"
        )
    if not held_out_accuracy > majority_baseline:  # NaN (an empty split) is no better either
        warnings.append(
            f"held-out accuracy {held_out_accuracy:.3f} is no better than the majority baseline "
            f"{majority_baseline:.3f} (always answering the most common class): the proxy ranks no "
            "better than a constant"
        )
    return warnings


def quality(metadata: Mapping[str, Any]) -> tuple[bool, float] | None:
    """(sound, held-out accuracy minus the majority baseline) from a proxy's recorded metadata.

    Recomputed from the recorded numbers, so manifests written before `judge` existed compare too;
    None when the manifest lacks them (e.g. a proxy trained by hand with `train_proxy`).
    """
    held = metadata.get("held_out")
    raw = (
        held.get("accuracy") if isinstance(held, Mapping) else None,
        metadata.get("majority_baseline"),
        metadata.get("n_samples"),
        metadata.get("n_positive"),
    )
    numbers = [float(v) for v in raw if isinstance(v, (int, float)) and not isinstance(v, bool)]
    if len(numbers) != len(raw) or not all(math.isfinite(v) for v in numbers):
        return None
    acc, base, n_samples, n_positive = numbers
    sound = not judge(
        n_positive=int(n_positive), n_samples=int(n_samples), held_out_accuracy=acc, majority_baseline=base
    )
    return sound, acc - base


def existing_metadata(path: Path) -> Mapping[str, Any] | None:
    """The metadata recorded in the proxy manifest at `path`; None when there is no readable one."""
    manifest = path / MANIFEST_NAME if path.is_dir() else path
    try:
        doc = json.loads(manifest.read_text())
    except (OSError, ValueError):
        return None
    meta = doc.get("metadata") if isinstance(doc, dict) else None
    return meta if isinstance(meta, Mapping) else None


def replacement_refusal(path: Path, new: Mapping[str, Any]) -> str | None:
    """Why the new proxy (metadata `new`) must not replace the one at `path`; None when it may.

    Only a weak new proxy is ever refused, and only when the old one recorded a better result: sound
    beats weak, then the larger lift over its majority baseline wins.
    """
    new_q = quality(new)
    if not new.get("warnings") and (new_q is None or new_q[0]):
        return None
    new_q = (False, new_q[1] if new_q is not None else -math.inf)  # flagged; no figures: no lift either
    old = existing_metadata(path)
    old_q = quality(old) if old is not None else None
    if old is None or old_q is None or not old_q > new_q:
        return None
    held = old.get("held_out")
    old_acc = held.get("accuracy") if isinstance(held, Mapping) else float("nan")
    return (
        f"not replacing the proxy at {path}: it recorded held-out accuracy {old_acc:.3f} against a majority "
        f"baseline of {old.get('majority_baseline', float('nan')):.3f}"
        + ("" if old_q[0] else " (itself flagged)")
        + f": a lift of {old_q[1]:+.3f} over the majority, the new flagged one {new_q[1]:+.3f}; "
        "pass --force to replace it"
    )
