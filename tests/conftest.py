"""Suite-wide settings: hypothesis keeps its example database and caches out of the repository."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from hypothesis import settings
from hypothesis.configuration import set_hypothesis_home_dir

_HYPOTHESIS_HOME = Path(tempfile.mkdtemp(prefix="cppforge-hypothesis-"))
set_hypothesis_home_dir(_HYPOTHESIS_HOME)
# Deterministic runs: a failure reproduces on the next run and in CI, and nothing is stored.
settings.register_profile("cppforge", database=None, derandomize=True)
settings.load_profile("cppforge")


def pytest_sessionfinish() -> None:
    shutil.rmtree(_HYPOTHESIS_HOME, ignore_errors=True)
