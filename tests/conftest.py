"""Suite-wide settings (hypothesis keeps its database out of the repository) and the tiny model fixtures
shared by tests/lm and tests/inference (built once per session)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings
from hypothesis.configuration import set_hypothesis_home_dir

_HYPOTHESIS_HOME = Path(tempfile.mkdtemp(prefix="cppforge-hypothesis-"))
set_hypothesis_home_dir(_HYPOTHESIS_HOME)
# Deterministic runs: a failure reproduces on the next run and in CI, and nothing is stored.
settings.register_profile("cppforge", database=None, derandomize=True)
settings.load_profile("cppforge")


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from services.lm.bootstrap import bootstrap_model  # torch only for the tests that need it

    out = tmp_path_factory.mktemp("tiny-model")
    bootstrap_model(out, seed=0, n_tasks=2000, max_steps=40, log=lambda _: None, progress=None)
    return out


@pytest.fixture(scope="session")
def tiny_model(tiny_model_dir: Path) -> Any:
    """A `services.lm.model.LoadedModel` of the tiny bootstrap model."""
    from services.lm.model import load_model

    return load_model(tiny_model_dir)


def pytest_sessionfinish() -> None:
    shutil.rmtree(_HYPOTHESIS_HOME, ignore_errors=True)
