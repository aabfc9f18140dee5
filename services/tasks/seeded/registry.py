"""The family registry: every seeded family by name, in one dict.

`generate_task` draws a family by `rng.choice(sorted(FAMILIES))`, so adding a family changes every
later draw (and the bootstrap model): pin it with tests/tasks/test_digests.py first.
"""

from __future__ import annotations

from collections.abc import Callable

from . import ints, numbers, strings, structs, vectors
from .common import Fn, Gen

FAMILIES: dict[str, Callable[[Gen], Fn]] = {
    **ints.FAMILIES,
    **numbers.FAMILIES,
    **vectors.FAMILIES,
    **strings.FAMILIES,
    **structs.FAMILIES,
}
