"""Session fixtures: one proxy artifact, built once (the tiny model is in tests/conftest.py)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from services.inference.proxy import train_proxy
from services.tasks import generate_tasks


def _break(code: str, rng: random.Random) -> str:
    """A realistic syntax slip: drop the last `}` or a `;`."""
    if rng.random() < 0.5 and "}" in code:
        i = code.rindex("}")
        return code[:i] + code[i + 1 :]
    semis = [i for i, c in enumerate(code) if c == ";"]
    i = rng.choice(semis) if semis else len(code) - 1
    return code[:i] + code[i + 1 :]


@pytest.fixture(scope="session")
def tiny_proxy_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A proxy trained on corpus functions (compile) and broken copies (do not); labels by
    construction keep the fixture fast (`cppforge train-proxy` labels with the verifier)."""
    rng = random.Random(0)
    tasks = generate_tasks(150, seed=3)
    texts = [t.code for t in tasks] + [_break(t.code, rng) for t in tasks]
    labels = [True] * len(tasks) + [False] * len(tasks)
    clf = train_proxy(texts, labels, seed=0)
    out = tmp_path_factory.mktemp("tiny-proxy")
    clf.save(out)
    return out
