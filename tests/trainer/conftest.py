"""Trainer test fixtures: the bootstrap model (built once, then cached) and the test process's signal handlers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def base_model() -> Path:
    """The bootstrap model directory (built on first use, then cached under $CPPFORGE_HOME)."""
    from services.lm.bootstrap import ensure_bootstrap_model

    return ensure_bootstrap_model()


@pytest.fixture
def keep_signal_handlers() -> Iterator[None]:
    """`cmd_train` installs SIGTERM/SIGINT handlers; give the test process its own back afterwards."""
    import signal

    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)
